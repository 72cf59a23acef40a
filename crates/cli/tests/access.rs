//! Who may do what, through the CLI against `bellwether up`: tokens made and revoked, roles
//! refused, identity from the token whatever the environment says, and the audit trail,
//! verified, then broken by one byte in the store file and caught.

mod support;

use std::path::Path;

use support::{BIN, ControlPlane, bellwether};

fn project(dir: &Path) -> std::path::PathBuf {
    let file = dir.join("bellwether.yaml");
    let yaml = format!(
        r#"services:
  web:
    replicas: 1
    run:
      command: ["{BIN}", "demo-service"]
    health: /health
    strategy:
      canary:
        steps:
          - setWeight: 50
          - pause: {{}}
"#
    );
    std::fs::write(&file, yaml).unwrap();
    file
}

#[test]
fn tokens_roles_identity_and_an_audit_trail_that_catches_a_one_byte_edit() {
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(&project(dir.path()));
    let token = |name: &str, role: &str| {
        let made = plane.run(&["token", "create", name, "--role", role]);
        assert_eq!(made.code, 0, "{made:?}");
        assert!(made.stderr.contains("shown this once"), "{made:?}");
        made.stdout.trim().to_owned()
    };
    let deployer = token("ci", "deployer");
    let viewer = token("vera", "viewer");

    // A viewer reads but may not deploy; nor may anyone without a token.
    assert_eq!(plane.run_as(&viewer, &["list"]).code, 0);
    let refused = plane.run_as(&viewer, &["deploy", "web", "--version", "v1"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("`vera` is a viewer and may not deploy"),
        "{refused:?}"
    );
    let anonymous = bellwether(&["list"], &[("BELLWETHER_SERVER", &plane.server)]);
    assert_eq!(anonymous.code, 1, "{anonymous:?}");
    assert!(
        anonymous.stderr.contains("not authenticated"),
        "{anonymous:?}"
    );

    // Who acts is the token's name: $BELLWETHER_USER and $USER change nothing.
    let spoofed = bellwether(
        &["deploy", "web", "--version", "v1"],
        &[
            ("BELLWETHER_SERVER", &plane.server),
            ("BELLWETHER_TOKEN", &deployer),
            ("BELLWETHER_USER", "mallory"),
            ("USER", "mallory"),
        ],
    );
    assert_eq!(spoofed.code, 0, "{spoofed:?}");
    plane.expect_status("web", 0);

    // A revoked token stops working at once.
    assert_eq!(plane.run(&["token", "revoke", "vera"]).code, 0);
    let revoked = plane.run_as(&viewer, &["list"]);
    assert_eq!(revoked.code, 1);
    assert!(revoked.stderr.contains("`vera` was revoked"), "{revoked:?}");
    let listed = plane.run(&["token", "list"]);
    assert!(
        ["admin@", "ci", "vera", "pipelines"]
            .iter()
            .all(|n| listed.stdout.contains(n)),
        "{listed:?}"
    );

    // The trail: JSON lines, every request that changed something (or tried to).
    let audit = plane.run(&["audit", "-o", "json"]);
    assert_eq!(audit.code, 0, "{audit:?}");
    let entries: Vec<serde_json::Value> = audit
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seen: Vec<(String, String, String)> = entries
        .iter()
        .map(|e| {
            let e = &e["entry"];
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            // `up`'s admin token is named after whoever started it.
            let actor = s("actor");
            let actor = if actor.starts_with("admin@") {
                "admin".to_owned()
            } else {
                actor
            };
            let action = s("action");
            // `up` makes its tokens as itself; its automatic rollout decisions are left out.
            let action = if actor == "bellwether" && action.starts_with("token") {
                format!("{action} {}", s("target"))
            } else {
                action
            };
            (actor, action, s("outcome"))
        })
        .filter(|(actor, action, _)| actor != "bellwether" || action.starts_with("token"))
        .map(
            |(actor, action, outcome)| match action.split_once(" admin@") {
                Some((verb, _)) => (actor, format!("{verb} admin@USER"), outcome),
                None => (actor, action, outcome),
            },
        )
        .collect();
    let expect = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
    assert_eq!(
        seen,
        [
            expect("bellwether", "token create admin@USER", "done"),
            expect("bellwether", "token create pipelines", "done"),
            expect("admin", "token create", "done"),
            expect("admin", "token create", "done"),
            expect("vera", "deploy", "refused"),
            expect("ci", "deploy", "done"),
            expect("admin", "token revoke", "done"),
        ],
        "{}",
        audit.stdout
    );
    assert!(!audit.stdout.contains("mallory"));
    let verified = plane.run(&["audit", "verify"]);
    assert_eq!(verified.code, 0, "{verified:?}");
    assert!(
        verified.stdout.starts_with("audit trail intact"),
        "{verified:?}"
    );

    // One byte changed in the store file, as someone with the disk could: `ci` becomes `cj`.
    drop(plane);
    let data = dir.path().join(".bellwether");
    let db = data.join("bellwether.db");
    drop(bellwether_store::SqliteStore::open(&db).unwrap()); // Checkpoints the log into the file.
    let mut bytes = std::fs::read(&db).unwrap();
    // Every copy of it: SQLite may keep stale ones in free pages.
    let needle = br#""actor":"ci""#;
    let copies: Vec<usize> = bytes
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(at, _)| at)
        .collect();
    assert!(!copies.is_empty(), "the entry is in the file");
    for at in copies {
        bytes[at + needle.len() - 2] = b'j';
    }
    std::fs::write(&db, bytes).unwrap();
    let broken = bellwether(
        &["audit", "verify", "--data-dir", data.to_str().unwrap()],
        &[],
    );
    assert_eq!(broken.code, 1, "{broken:?}");
    assert!(
        broken.stdout.contains("audit trail broken at audit entry")
            && broken.stdout.contains("edited"),
        "{broken:?}"
    );
}
