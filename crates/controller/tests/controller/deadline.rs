//! A revision whose replicas start but never become ready: the rollout makes no progress, so
//! at its progress deadline it aborts, and the stable revision serves throughout.

use std::time::Duration;

use bellwether_api::DeployRequest;
use bellwether_core::rollout::Phase;

use crate::harness::{DataDir, Load, bounded, deploy, healthy_at, project, until};

const SERVICE: &str = r#"
services:
  api:
    replicas: 1
    run:
      command: [python3, "{script}"]
      env: {VERSION: v1}
    readiness: {path: /health, interval: 100ms}
    progressDeadline: 2s
    strategy:
      canary:
        steps:
          - setWeight: 50
          - pause: {}
"#;

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revision_never_ready_is_aborted_at_the_progress_deadline() {
    bounded(async {
        let dir = DataDir::new();
        let plane = dir.start(project(SERVICE)).await;
        plane.deploy("api", deploy("v1", &[])).await.unwrap();
        let view = until(&plane, "api", "v1 stable", LIMIT, |v| healthy_at(v, "v1")).await;
        let load = Load::start(view.listen.unwrap(), 2);

        // Runs, never listens: its readiness probe is refused for ever.
        let silent = DeployRequest {
            command: Some(vec!["sleep".to_owned(), "600".to_owned()]),
            ..deploy("v2", &[])
        };
        plane.deploy("api", silent).await.unwrap();
        let view = until(&plane, "api", "v2 aborted", LIMIT, |v| {
            v.phase == Phase::Degraded
        })
        .await;
        assert!(view.reason.contains("progress"), "{}", view.reason);
        assert_eq!(view.stable.as_ref().map(|s| s.version.as_str()), Some("v1"));

        let seen = load.more(50).await;
        assert_eq!(seen.of(200, "v1"), seen.total(), "{seen:?}");
        plane.shutdown(true).await;
    })
    .await;
}
