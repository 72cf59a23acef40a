//! `bellwether dora` on a history this test builds against a real control plane: a first
//! release by a pipeline run (its commit recorded from the run's checkout), a canary promoted
//! with `deploy --commit`, one aborted and undone back to the stable revision, and a promoted
//! one undone to the revision still warm. Every figure is checked against what the test
//! computes by hand from the commits it made and the event times `history` shows.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use support::{BIN, ControlPlane, Outcome, json as json_of, wait_bounded};

const HOUR: u64 = 3_600;

fn project(dir: &Path) -> std::path::PathBuf {
    let file = dir.join("bellwether.yaml");
    let yaml = format!(
        r#"services:
  web:
    replicas: 1
    run:
      command: ["{BIN}", "demo-service"]
    readiness: {{ path: /health, interval: 100ms }}
    environments: [production]
    strategy:
      canary:
        scaleDownDelay: 10m
        steps:
          - setWeight: 50
          - pause: {{}}
environments:
  production: {{}}
pipelines:
  release:
    on:
      manual:
        inputs:
          version: {{ description: "What to release", required: true }}
    jobs:
      ship:
        steps:
          - deploy: {{ service: web, revision: "${{{{ inputs.version }}}}" }}
dora:
  targets: {{deploymentFrequency: daily, leadTime: 2h, changeFailureRate: 15%, timeToRestore: 15m}}
"#
    );
    std::fs::write(&file, yaml).unwrap();
    file
}

/// Commits everything in `dir` with its committer date `seconds` after the Unix epoch.
fn commit(dir: &Path, seconds: u64, message: &str) {
    for args in [
        vec!["add", "-A"],
        vec!["commit", "-q", "--allow-empty", "-m", message],
    ] {
        let date = format!("@{seconds} +0000");
        let status = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(&args)
            .current_dir(dir)
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }
}

/// A verb run in `dir`, against `plane`.
fn run_in(dir: &Path, plane: &ControlPlane, args: &[&str]) -> Outcome {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("BELLWETHER_SERVER", &plane.server)
        .env("BELLWETHER_TOKEN", &plane.token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_bounded(&mut child, support::COMMAND).expect("the verb ends");
    let output = child.wait_with_output().unwrap();
    Outcome {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn ok(outcome: Outcome) -> Outcome {
    assert_eq!(outcome.code, 0, "{outcome:?}");
    outcome
}

/// When the first event whose notes include `note` happened, in ms.
fn when(events: &[Value], note: &str) -> u64 {
    events
        .iter()
        .find(|e| {
            e["notes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n.as_str().unwrap().contains(note))
        })
        .unwrap_or_else(|| panic!("no event noting {note:?} in {events:#?}"))["at"]
        .as_str()
        .map(epoch_ms)
        .unwrap()
}

/// An RFC 3339 instant of `-o json` in milliseconds since the epoch.
fn epoch_ms(rfc3339: &str) -> u64 {
    let at = humantime::parse_rfc3339(rfc3339).unwrap();
    at.duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn the_figures_match_a_history_computed_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let file = project(root);
    let status = Command::new("git")
        .args(["init", "-q", "-b", "main"])
        .current_dir(root)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::write(root.join(".gitignore"), ".bellwether/\n").unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let first_commit = now - 3 * HOUR;
    commit(root, first_commit, "v1");
    let plane = ControlPlane::start(&file);

    // v1, released by a pipeline run: its checkout's commit is the change's.
    let mut release = Command::new(BIN)
        .env("BELLWETHER_TOKEN", &plane.token)
        .args(["run", "release", "--plain", "--input", "version=v1", "-f"])
        .arg(&file)
        .args(["--server", &plane.server])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_bounded(&mut release, Duration::from_secs(60)).expect("v1's run ends");
    let output = release.wait_with_output().unwrap();
    assert!(
        status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    plane.expect_status("web", 0);

    // v2 from a later commit, named with --commit: a canary promoted by hand.
    let second_commit = now - HOUR;
    commit(root, second_commit, "v2");
    ok(run_in(
        root,
        &plane,
        &["deploy", "web", "--version", "v2", "--commit", "HEAD"],
    ));
    plane.expect_status("web", 3);
    ok(plane.run(&["promote", "web"]));
    plane.expect_status("web", 0);

    // v3, with no commit named: aborted, then undone back to the stable v2.
    ok(plane.run(&["deploy", "web", "--version", "v3"]));
    plane.expect_status("web", 3);
    ok(plane.run(&["abort", "web", "--reason", "bad canary"]));
    plane.expect_status("web", 1);
    ok(plane.run(&["undo", "web"]));
    plane.expect_status("web", 0);

    // v2 undone to v1, still warm: v2's rollout failed, and the service is healthy at once.
    ok(plane.run(&["undo", "web"]));
    plane.expect_status("web", 0);
    let view = json_of(&plane.run(&["get", "web", "-o", "json"]));
    assert_eq!(view["stable"]["version"], "v1", "{view:#}");

    let history = json_of(&plane.run(&["history", "web", "-o", "json"]));
    let events = history["events"].as_array().unwrap();
    let v1_promoted = when(events, "revision 1 (v1) promoted to stable");
    let v2_promoted = when(events, "revision 2 (v2) promoted to stable");
    let v3_aborted = when(events, "aborted: bad canary");
    let back_to_v2 = when(events, "undone: back to revision 2 (v2)");
    when(events, "undone: back to revision 1 (v1)");
    let lead_v1 = v1_promoted - first_commit * 1000;
    let lead_v2 = v2_promoted - second_commit * 1000;
    let restore_v3 = back_to_v2 - v3_aborted;

    let report = json_of(&plane.run(&["dora", "--since", "7d", "-o", "json"]));
    assert_eq!(report["since"], "7d", "{report:#}");
    assert_eq!(
        epoch_ms(report["end"].as_str().unwrap()) - epoch_ms(report["start"].as_str().unwrap()),
        7 * 24 * HOUR * 1000
    );
    let figures = report["figures"].as_array().unwrap();
    assert_eq!(figures.len(), 1, "{report:#}");
    let web = &figures[0];
    assert_eq!(web["service"], "web");
    assert_eq!(web["environment"], "production");
    // Deployments: v1 and v2 promoted; the undo to a warm v1 rolled nothing out.
    assert_eq!(
        web["deployment_frequency"],
        json!({"deployments": 2, "days": 7.0, "per_day": 2.0 / 7.0}),
    );
    assert_eq!(
        web["lead_time"],
        json!({
            "count": 2,
            "median_ms": lead_v1.min(lead_v2),
            "p90_ms": lead_v1.max(lead_v2),
            "excluded": 0,
        }),
    );
    // Ended: v1 promoted, v2 promoted then undone, v3 aborted.
    assert_eq!(
        web["change_failure_rate"],
        json!({
            "rollouts": 3,
            "failed": 2,
            "aborted": 1,
            "rolled_back": 0,
            "undone": 1,
            "superseded": 0,
            "rate": 2.0 / 3.0,
        }),
    );
    // v3: from its abort to the undo that made the service healthy; v2: healthy at once.
    assert_eq!(
        web["time_to_restore"],
        json!({
            "count": 2,
            "median_ms": 0,
            "p90_ms": restore_v3,
            "unrestored": 0,
            "longest_open_ms": null,
        }),
    );
    // Two deploys in 7 days are not daily; the median lead time is v2's, about an hour; 2 of
    // 3 failed; restores took a median of no time.
    assert_eq!(
        web["targets"],
        json!({
            "deployment_frequency": {"target": "daily", "verdict": "not_met"},
            "lead_time": {"target": "2h", "verdict": "met"},
            "change_failure_rate": {"target": "15%", "verdict": "not_met"},
            "time_to_restore": {"target": "15m", "verdict": "met"},
        }),
    );

    let table = ok(plane.run(&["dora", "--service", "web", "--env", "production"]));
    for expected in [
        "DORA figures over the last 30d",
        "web in production",
        "deployment frequency",
        "2 deployments",
        "66.67% (2 of 3 rollouts failed: 1 aborted, 1 undone)",
        "not met",
        "2 restored",
    ] {
        assert!(table.stdout.contains(expected), "{expected}: {table:?}");
    }
    let other = json_of(&plane.run(&["dora", "--env", "staging", "-o", "json"]));
    assert_eq!(other["figures"], json!([]), "{other:#}");
    let bad = plane.run(&["dora", "--since", "soon"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    let unknown = plane.run(&["dora", "--service", "nope"]);
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(
        unknown.stderr.contains("no service named `nope`"),
        "{unknown:?}"
    );
}
