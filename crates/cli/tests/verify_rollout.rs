//! Suites of checks as rollout steps, through `bellwether up` and real `demo-service` replicas:
//! a canary whose replicas pass `- verify: smoke` is promoted; one whose replicas fail it is
//! rolled back with the failed check in the reason, which `get` shows, and then the stable
//! revision passes the suite as its post-rollback analysis. A blue-green preview is verified
//! before the switch.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::{BIN, ControlPlane, eventually, json};

fn project(dir: &Path, strategy: &str) -> PathBuf {
    let file = dir.join("bellwether.yaml");
    let yaml = format!(
        r#"services:
  shop:
    replicas: 2
    run:
      command: ["{BIN}", "demo-service"]
      env: {{ DEMO_VERSION: v1 }}
    health: {{ path: /health, interval: 100ms }}
    postRollbackAnalysis: {{ verify: [smoke] }}
    strategy:
{strategy}
checks:
  health: {{ url: /health, status: 200, bodyContains: ok }}
  home: {{ url: /, bodyRegex: "^hello from v" }}
verify:
  smoke: {{ checks: [health, home], duration: 300ms, interval: 100ms, minSuccessRate: 100% }}
"#
    );
    std::fs::write(&file, yaml).unwrap();
    file
}

const CANARY: &str = "      canary:
        steps:
          - setWeight: 20
          - verify: smoke
          - setWeight: 50";

#[test]
fn a_canary_that_passes_its_suite_is_promoted_and_one_that_fails_is_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(&project(dir.path(), CANARY));
    let deploy = plane.run(&["deploy", "shop", "--version", "v1"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    plane.expect_status("shop", 0);

    let deploy = plane.run(&[
        "deploy",
        "shop",
        "--version",
        "v2",
        "--env",
        "DEMO_VERSION=v2",
    ]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    plane.expect_status("shop", 0);
    let view = json(&plane.run(&["get", "shop", "-o", "json"]));
    assert_eq!(view["stable"]["version"], "v2", "{view:#}");

    // Every request of v3 but /health fails: the suite's `home` check fails on its replica.
    let deploy = plane.run(&[
        "deploy",
        "shop",
        "--version",
        "v3",
        "--env",
        "DEMO_VERSION=v3",
        "--env",
        "DEMO_ERROR_RATE=1",
    ]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    plane.expect_status("shop", 1);
    let view = json(&plane.run(&["get", "shop", "-o", "json"]));
    assert_eq!(view["stable"]["version"], "v2", "{view:#}");
    let reason = view["reason"].as_str().unwrap();
    assert!(reason.contains("verify:smoke"), "{view:#}");
    // Then the stable revision, which took all traffic back, passes the same suite.
    let healed = eventually(
        &plane,
        "the post-rollback analysis",
        Duration::from_secs(30),
        || {
            let view = json(&plane.run(&["get", "shop", "-o", "json"]));
            let reason = view["reason"].as_str().unwrap_or_default().to_owned();
            reason.contains("post-rollback").then_some(reason)
        },
    );
    assert!(
        healed.ends_with("; the stable revision passed its post-rollback analysis"),
        "{healed}"
    );

    let shown = plane.run(&["get", "shop"]);
    assert_eq!(shown.code, 0, "{shown:?}");
    assert!(
        shown.stdout.contains("verify smoke failed"),
        "{}",
        shown.stdout
    );
    assert!(
        shown.stdout.contains("status 500 (expected 2xx)"),
        "{}",
        shown.stdout
    );
}

#[test]
fn a_blue_green_preview_is_verified_before_the_switch() {
    let dir = tempfile::tempdir().unwrap();
    let strategy = "      blueGreen:
        prePromotionAnalysis: { verify: [smoke] }";
    let plane = ControlPlane::start(&project(dir.path(), strategy));
    let deploy = plane.run(&["deploy", "shop", "--version", "v1"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    plane.expect_status("shop", 0);

    let deploy = plane.run(&[
        "deploy",
        "shop",
        "--version",
        "v2",
        "--env",
        "DEMO_VERSION=v2",
        "--env",
        "DEMO_ERROR_RATE=1",
    ]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    plane.expect_status("shop", 1);
    let view = json(&plane.run(&["get", "shop", "-o", "json"]));
    assert_eq!(view["stable"]["version"], "v1", "{view:#}");
    assert!(
        view["reason"].as_str().unwrap().contains("verify:smoke"),
        "{view:#}"
    );

    let deploy = plane.run(&[
        "deploy",
        "shop",
        "--version",
        "v3",
        "--env",
        "DEMO_VERSION=v3",
    ]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    plane.expect_status("shop", 0);
    let view = json(&plane.run(&["get", "shop", "-o", "json"]));
    assert_eq!(view["stable"]["version"], "v3", "{view:#}");
}

/// A job metric with no condition is judged by its exit status, and reaches both revisions
/// at the addresses it is given: it asks the canary and the stable replica who they are.
#[test]
fn a_job_metric_reaches_the_canary_and_the_stable_revision() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bellwether.yaml");
    // bash's /dev/tcp, so that the test needs no HTTP client on the machine.
    let ask = |var: &str, version: &str| {
        format!(
            r#"exec 3<>/dev/tcp/${{{var}%:*}}/${{{var}##*:}} && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && grep -q 'from {version}' <&3"#
        )
    };
    let script = format!(
        "{} && {}",
        ask("BELLWETHER_ADDRESS", "v2"),
        ask("BELLWETHER_STABLE_ADDRESS", "v1")
    );
    let yaml = format!(
        r#"services:
  shop:
    replicas: 1
    run:
      command: ["{BIN}", "demo-service"]
      env: {{ DEMO_VERSION: v1 }}
    health: {{ path: /health, interval: 100ms }}
    strategy:
      canary:
        steps:
          - setWeight: 20
          - analysis: {{ metrics: [whoami] }}
    analysis:
      metrics:
        - name: whoami
          provider: {{ job: {{ command: [bash, -c, {script:?}] }} }}
          interval: 100ms
          count: 1
"#
    );
    std::fs::write(&file, yaml).unwrap();
    let plane = ControlPlane::start(&file);
    let deploy = plane.run(&["deploy", "shop", "--version", "v1"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    plane.expect_status("shop", 0);

    let deploy = plane.run(&[
        "deploy",
        "shop",
        "--version",
        "v2",
        "--env",
        "DEMO_VERSION=v2",
    ]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    plane.expect_status("shop", 0);
    let view = json(&plane.run(&["get", "shop", "-o", "json"]));
    assert_eq!(view["stable"]["version"], "v2", "{view:#}");

    // v3 is not who the job expects the canary to be: its exit status 1 rolls it back.
    let deploy = plane.run(&[
        "deploy",
        "shop",
        "--version",
        "v3",
        "--env",
        "DEMO_VERSION=v3",
    ]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    plane.expect_status("shop", 1);
    let view = json(&plane.run(&["get", "shop", "-o", "json"]));
    assert_eq!(view["stable"]["version"], "v2", "{view:#}");
    assert!(
        view["reason"].as_str().unwrap().contains("whoami"),
        "{view:#}"
    );
}
