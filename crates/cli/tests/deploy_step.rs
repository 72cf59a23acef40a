//! A pipeline's `deploy:` step against a real control plane: `bellwether run --server URL`
//! starts the rollout through the API and the step passes when the rollout is promoted, fails
//! when it is aborted.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{BIN, ControlPlane, Outcome, json, wait_bounded};

fn project(dir: &Path) -> PathBuf {
    let file = dir.join("bellwether.yaml");
    let yaml = format!(
        r#"services:
  web:
    replicas: 1
    run:
      command: ["{BIN}", "demo-service"]
    readiness: {{ path: /health, interval: 100ms }}
    strategy:
      canary:
        steps:
          - setWeight: 50
          - pause: {{}}
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
"#
    );
    std::fs::write(&file, yaml).unwrap();
    file
}

fn release(file: &Path, plane: &ControlPlane, version: &str) -> Command {
    let mut command = Command::new(BIN);
    command
        .env("BELLWETHER_TOKEN", &plane.token)
        .args(["run", "release", "--plain", "--input"])
        .arg(format!("version={version}"))
        .arg("-f")
        .arg(file)
        .args(["--server", &plane.server])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

#[test]
fn a_deploy_step_passes_when_promoted_and_fails_when_aborted() {
    let dir = tempfile::tempdir().unwrap();
    let file = project(dir.path());
    let plane = ControlPlane::start(&file);

    let mut first = release(&file, &plane, "v1").spawn().unwrap();
    let status = wait_bounded(&mut first, Duration::from_secs(60)).expect("v1's run ends");
    let output = first.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("rollout of web to v1 started"), "{text}");
    let view = json(&plane.run(&["get", "web", "-o", "json"]));
    assert_eq!(view["stable"]["version"], "v1", "{view:#}");

    // v2 waits at its pause until a person decides; this one aborts it.
    let mut second = release(&file, &plane, "v2").spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while json(&plane.run(&["get", "web", "-o", "json"]))["target"]["version"] != "v2" {
        assert!(Instant::now() < deadline, "the run never deployed v2");
        std::thread::sleep(Duration::from_millis(50));
    }
    plane.expect_status("web", 3);
    let abort: Outcome = plane.run(&["abort", "web", "--reason", "not today"]);
    assert_eq!(abort.code, 0, "{abort:?}");
    let status = wait_bounded(&mut second, Duration::from_secs(60)).expect("v2's run ends");
    let output = second.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(
        text.contains("the rollout of web to v2 was aborted") && text.contains("not today"),
        "{text}"
    );

    // Without a control plane, deploy steps are stand-ins that say so.
    let mut standin = Command::new(BIN);
    standin
        .args(["run", "release", "--plain", "--input", "version=v3", "-f"])
        .arg(&file)
        .env_remove("BELLWETHER_SERVER")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = standin.spawn().unwrap();
    let status = wait_bounded(&mut child, Duration::from_secs(60)).expect("the run ends");
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(status.success(), "{text}");
    assert!(text.contains("STAND-IN: no control plane given"), "{text}");
    let view = json(&plane.run(&["get", "web", "-o", "json"]));
    assert_eq!(
        view["stable"]["version"], "v1",
        "nothing was deployed: {view:#}"
    );
}
