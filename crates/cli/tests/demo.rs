//! `bellwether demo`, the README's first command, end to end: five releases through a real
//! control plane, router and demo-service replicas, judged by the summary it prints.

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const BIN: &str = env!("CARGO_BIN_EXE_bellwether");
/// The demo takes about ten seconds; a loaded machine may take several times that.
const LIMIT: Duration = Duration::from_secs(180);

#[test]
fn the_demo_promotes_v2_rolls_back_v3_and_fails_no_request() {
    let child = Command::new(BIN)
        .args(["demo", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let pid = child.id();
    let (done, finished) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let output = match finished.recv_timeout(LIMIT) {
        Ok(output) => output.expect("the demo's output"),
        Err(_) => {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            panic!("the demo did not finish within {LIMIT:?}");
        }
    };
    let timeline = String::from_utf8_lossy(&output.stderr);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("the summary is JSON ({e}); timeline:\n{timeline}"));
    assert!(output.status.success(), "{summary:#}\n{timeline}");

    let outcomes: Vec<(&str, &str, &str)> = summary["rollouts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["version"].as_str().unwrap(),
                r["strategy"].as_str().unwrap(),
                r["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("v1", "canary", "promoted"),
            ("v2", "canary", "promoted"),
            ("v3", "canary", "rolled back"),
            ("v4", "blue-green", "promoted"),
            ("v5", "rolling", "promoted"),
        ],
        "{timeline}"
    );
    let v3 = &summary["rollouts"][2]["reason"];
    assert!(
        v3.as_str().unwrap().contains("error_rate"),
        "the rollback names the metric: {v3}"
    );
    assert_eq!(summary["other_failures"], 0, "{summary:#}");
    assert!(
        summary["injected_errors"].as_u64().unwrap() >= 1,
        "{summary:#}"
    );
    assert!(summary["requests"].as_u64().unwrap() > 100, "{summary:#}");
    for measured in ["rollback_reaction_ms", "detection_ms", "detection_requests"] {
        assert!(
            summary[measured].is_u64(),
            "{measured} is measured: {summary:#}"
        );
    }
    for line in [
        "== v3 (canary)",
        "step 2: pause 1s",
        "aborted: background analysis failed: error_rate",
    ] {
        assert!(
            timeline.contains(line),
            "the timeline shows `{line}`:\n{timeline}"
        );
    }
}
