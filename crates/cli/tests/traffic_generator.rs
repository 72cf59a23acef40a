//! A revision with no traffic of its own reaches a verdict on synthetic requests: `bellwether
//! up` runs `demo-service` replicas, nobody sends the service a request, and a
//! `trafficGenerator` sends them through the router to the revision being judged alone: the
//! canary's, for the whole canary, or an analysis's, for the revision it analyses while it
//! runs (a blue-green preview). A healthy revision is promoted and one that fails half its
//! requests is rolled back, each on the evidence those requests gave.

mod support;

use std::path::{Path, PathBuf};

use support::{BIN, ControlPlane, json};

const CANARY: &str = "      canary:
        trafficGenerator: { rate: 50, path: /orders }
        steps:
          - setWeight: 10
          - analysis: { metrics: [error_rate] }
        analysis: { metrics: [] }";

const BLUE_GREEN: &str = "      blueGreen:
        prePromotionAnalysis:
          metrics: [error_rate]
          trafficGenerator: { rate: 50, path: /orders }";

fn project(dir: &Path, strategy: &str) -> PathBuf {
    let file = dir.join("bellwether.yaml");
    let yaml = format!(
        r#"services:
  quiet:
    replicas: 1
    run:
      command: ["{BIN}", "demo-service"]
      env: {{ DEMO_VERSION: v1 }}
    health: {{ path: /health, interval: 100ms }}
    strategy:
{strategy}
    analysis:
      interval: 500ms
      metrics: ["error_rate <= 5%"]
"#
    );
    std::fs::write(&file, yaml).unwrap();
    file
}

/// Requests the router counted for each version, from `get -o json`.
fn requests(plane: &ControlPlane) -> serde_json::Value {
    json(&plane.run(&["get", "quiet", "-o", "json"]))
}

#[test]
fn a_canary_without_traffic_is_judged_on_synthetic_requests() {
    judged_on_synthetic_requests(CANARY);
}

#[test]
fn a_blue_green_preview_is_judged_on_synthetic_requests_before_the_switch() {
    judged_on_synthetic_requests(BLUE_GREEN);
}

fn judged_on_synthetic_requests(strategy: &str) {
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(&project(dir.path(), strategy));
    let deploy = plane.run(&["deploy", "quiet", "--version", "v1"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    plane.expect_status("quiet", 0);

    let deploy = plane.run(&[
        "deploy",
        "quiet",
        "--version",
        "v2",
        "--env",
        "DEMO_VERSION=v2",
    ]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    plane.expect_status("quiet", 0);
    let view = requests(&plane);
    assert_eq!(view["stable"]["version"], "v2", "{view:#}");

    let deploy = plane.run(&[
        "deploy",
        "quiet",
        "--version",
        "v3",
        "--env",
        "DEMO_VERSION=v3",
        "--env",
        "DEMO_ERROR_RATE=0.5",
    ]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    plane.expect_status("quiet", 1);
    let view = requests(&plane);
    assert_eq!(view["stable"]["version"], "v2", "{view:#}");
    let reason = view["reason"].as_str().unwrap();
    assert!(reason.contains("error_rate"), "{view:#}");
    assert!(
        plane
            .log()
            .iter()
            .any(|l| l.contains("synthetic traffic to revision")),
        "{:#?}",
        plane.log()
    );
}
