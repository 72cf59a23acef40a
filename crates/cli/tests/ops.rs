//! The operator's verbs against a real control plane: `bellwether up` on a temporary data dir
//! and an ephemeral API port, running `bellwether demo-service` replicas, driven by the same
//! binary's `deploy`, `status`, `promote`, `abort`, `get`, `history`, `rollback` and `logs`.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{BIN, ControlPlane, bellwether, json, lines_of, wait_for};

/// One canary step at 50%, then a pause until promoted: every state the verbs must show.
fn project(dir: &Path) -> std::path::PathBuf {
    let file = dir.join("bellwether.yaml");
    let yaml = format!(
        r#"services:
  web:
    replicas: 1
    run:
      command: ["{BIN}", "demo-service"]
      env: {{ DEMO_VERSION: v1 }}
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
fn a_canary_is_deployed_promoted_aborted_and_rolled_back_with_the_verbs() {
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(&project(dir.path()));

    let list = plane.run(&["list"]);
    assert_eq!(list.code, 0, "{list:?}");
    assert!(list.stdout.starts_with("SERVICE"), "{list:?}");
    assert!(list.stdout.contains("web"), "{list:?}");

    // v1: the first deploy goes straight to healthy.
    let deploy = plane.run(&["deploy", "web", "--version", "v1"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    assert!(deploy.stdout.contains("web: deploying"), "{deploy:?}");
    let healthy = plane.expect_status("web", 0);
    assert!(healthy.stdout.contains("Healthy"), "{healthy:?}");

    // v2: a canary at 50%, paused until promoted (status: 3, a human is needed).
    let deploy = plane.run(&[
        "deploy",
        "web",
        "--version",
        "v2",
        "--env",
        "DEMO_VERSION=v2",
    ]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    plane.expect_status("web", 3);
    let view = json(&plane.run(&["get", "web", "-o", "json"]));
    assert_eq!(view["phase"], "paused", "{view:#}");
    assert_eq!(view["target"]["version"], "v2", "{view:#}");
    let table = plane.run(&["get", "web"]);
    assert_eq!(table.code, 0, "{table:?}");
    for expected in [
        "web (canary)  Paused",
        "REVISION",
        "canary",
        "50%",
        "until promoted",
    ] {
        assert!(table.stdout.contains(expected), "{expected}: {table:?}");
    }

    // Promoted, v2 becomes stable.
    let promote = plane.run(&["promote", "web"]);
    assert_eq!(promote.code, 0, "{promote:?}");
    assert!(
        promote.stdout.contains("web: promote accepted"),
        "{promote:?}"
    );
    plane.expect_status("web", 0);
    let view = json(&plane.run(&["get", "web", "-o", "json"]));
    assert_eq!(view["stable"]["version"], "v2", "{view:#}");

    // v3 aborted: degraded, status 1; promoting it now conflicts.
    let deploy = plane.run(&["deploy", "web", "--version", "v3"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    plane.expect_status("web", 3);
    let abort = plane.run(&["abort", "web", "--reason", "looks wrong"]);
    assert_eq!(abort.code, 0, "{abort:?}");
    plane.expect_status("web", 1);
    let conflict = plane.run(&["promote", "web"]);
    assert_eq!(conflict.code, 1, "{conflict:?}");
    assert!(
        conflict.stderr.starts_with("error: cannot promote"),
        "{conflict:?}"
    );

    // Retried, then the emergency rollback of everything in progress.
    let retry = plane.run(&["retry", "web"]);
    assert_eq!(retry.code, 0, "{retry:?}");
    plane.expect_status("web", 3);
    let rollback = plane.run(&["rollback", "--all", "--reason", "incident"]);
    assert_eq!(rollback.code, 0, "{rollback:?}");
    assert!(rollback.stdout.contains("web: rolled back"), "{rollback:?}");
    plane.expect_status("web", 1);

    let history = plane.run(&["history", "web"]);
    assert_eq!(history.code, 0, "{history:?}");
    for expected in ["REVISION", "v1", "v2", "v3", "SEQ", "command"] {
        assert!(history.stdout.contains(expected), "{expected}: {history:?}");
    }
    let history = json(&plane.run(&["history", "web", "-o", "json"]));
    assert!(
        history["revisions"].as_array().unwrap().len() >= 3,
        "{history:#}"
    );

    let logs = plane.run(&["logs", "web", "--revision", "2"]);
    assert_eq!(logs.code, 0, "{logs:?}");
    assert!(
        logs.stdout.contains("r2/0 | demo-service v2 listening on"),
        "{logs:?}"
    );
    // With the time each line was written, as its replica's log writer saw it.
    let stamped = plane.run(&["logs", "web", "--revision", "2", "--timestamps"]);
    assert_eq!(stamped.code, 0, "{stamped:?}");
    let line = stamped
        .stdout
        .lines()
        .find(|l| l.contains("r2/0 | demo-service v2 listening on"))
        .unwrap_or_else(|| panic!("{stamped:?}"));
    let (time, rest) = line.split_once(' ').unwrap();
    let written = humantime::parse_rfc3339(time).unwrap_or_else(|e| panic!("{line}: {e}"));
    let age = std::time::SystemTime::now()
        .duration_since(written)
        .unwrap();
    assert!(age < Duration::from_secs(600), "{line}");
    assert!(rest.starts_with("r2/0 | "), "{line}");

    // Every event was logged by `up` as it was stored.
    let log = plane.log();
    assert!(
        log.iter()
            .any(|l| l.contains("service=web") && l.contains("kind=command")),
        "{log:#?}"
    );
}

#[test]
fn watching_prints_a_line_per_event_when_piped() {
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(&project(dir.path()));
    let mut watch = Command::new(BIN)
        .env("BELLWETHER_TOKEN", &plane.token)
        .args(["get", "web", "-w", "--server", &plane.server])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = lines_of(watch.stdout.take().unwrap());
    let view = wait_for(&lines, "Updated");
    assert_eq!(view[0], "web (canary)  Healthy", "{view:#?}");
    assert_eq!(view.last().unwrap().trim(), "Updated    never", "{view:#?}");
    let deploy = plane.run(&["deploy", "web", "--version", "v1"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    let seen = wait_for(&lines, "web #1 spec_changed Progressing: ");
    assert_eq!(
        seen[0], "",
        "a blank line, then one line per event: {seen:#?}"
    );
    wait_for(&lines, "web #2 ");
    let _ = watch.kill();
    let _ = watch.wait();
}

#[test]
fn errors_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(&project(dir.path()));
    let unknown = plane.run(&["get", "nope"]);
    assert_eq!(
        (unknown.code, unknown.stderr.as_str()),
        (1, "error: no service named `nope`\n")
    );
    let unknown = plane.run(&["deploy", "nope", "--version", "v1"]);
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(
        unknown.stderr.contains("no service named `nope`"),
        "{unknown:?}"
    );
    let nothing = plane.run(&["promote", "web"]);
    assert_eq!(nothing.code, 1, "{nothing:?}");
    assert!(
        nothing.stderr.starts_with("error: cannot promote"),
        "{nothing:?}"
    );
}

#[test]
fn without_a_control_plane_the_cli_says_to_start_one() {
    // Port 1 on loopback: nothing listens there.
    let outcome = bellwether(&["list", "--server", "http://127.0.0.1:1"], &[]);
    assert_eq!(outcome.code, 1, "{outcome:?}");
    assert!(
        outcome.stderr.contains(
            "cannot reach the control plane at http://127.0.0.1:1: is `bellwether up` running?"
        ),
        "{outcome:?}"
    );
    let outcome = bellwether(&["list", "--server", "https://example.com"], &[]);
    assert_eq!(outcome.code, 1, "{outcome:?}");
    assert!(
        outcome.stderr.contains("expected an http:// URL"),
        "{outcome:?}"
    );
}
