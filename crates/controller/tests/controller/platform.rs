//! The control plane on another platform than the local one, through the `Platform` seam:
//! replicas that are ready the moment they are asked for, and nothing else changes.

use std::sync::Arc;
use std::time::Duration;

use bellwether_controller::{ControlPlane, Options, Platform};
use bellwether_core::rollout::{Command, Phase};
use bellwether_core::spec::Weight;

use crate::harness::{DataDir, bounded, deploy, healthy_at, project, until};
use crate::ready_platform::ReadyPlatform;

const SERVICE: &str = r#"
services:
  api:
    replicas: 2
    run: {command: [service]}
    strategy:
      canary:
        steps:
          - setWeight: 50
          - pause: {}
        scaleDownDelay: 0s
"#;

const LIMIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_runs_on_any_platform() {
    bounded(async {
        let dir = DataDir::new();
        let platform = Arc::new(ReadyPlatform::default());
        let options = Options {
            data_dir: dir.path().join("data"),
            base_dir: dir.path().to_owned(),
            project: project(SERVICE),
            secrets: None,
        };
        let plane = ControlPlane::start_with(options, platform.clone())
            .await
            .expect("the control plane starts");

        plane.deploy("api", deploy("v1", &[])).await.unwrap();
        let view = until(&plane, "api", "v1 stable", LIMIT, |v| healthy_at(v, "v1")).await;
        let replicas = &view.revisions[0].replicas;
        assert_eq!(replicas.len(), 2, "{view:#?}");
        assert!(
            replicas
                .iter()
                .all(|r| r.phase == "ready" && r.addr.is_some()),
            "the view shows the platform's replicas: {replicas:#?}"
        );

        plane.deploy("api", deploy("v2", &[])).await.unwrap();
        let half = Weight::from_percent(50).unwrap();
        until(&plane, "api", "v2 at 50%, paused", LIMIT, |v| {
            v.phase == Phase::Paused
                && v.revisions
                    .iter()
                    .any(|r| r.version == "v2" && r.weight == half)
        })
        .await;
        let desired = |revision| {
            platform
                .watch("api")
                .borrow()
                .get(&revision)
                .map(|r| r.desired)
        };
        assert_eq!((desired(1), desired(2)), (Some(2), Some(1)));

        let promote = Command::Promote { full: true };
        plane.command("api", promote, "test").await.unwrap();
        until(&plane, "api", "v2 stable", LIMIT, |v| healthy_at(v, "v2")).await;
        let mut running = platform.watch("api");
        let scaled_down = running.wait_for(|s| !s.contains_key(&1) && s.contains_key(&2));
        tokio::time::timeout(LIMIT, scaled_down)
            .await
            .expect("revision 1 scaled down in time")
            .expect("the platform is still there");
        plane.shutdown(true).await;
    })
    .await;
}
