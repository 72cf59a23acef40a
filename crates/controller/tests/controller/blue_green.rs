//! Blue-green: the preview is judged on its own listener before all traffic switches at once.

use std::time::Duration;

use bellwether_api::RevisionRole;
use bellwether_core::rollout::{Phase, Stage, Verdict};

use crate::harness::{DataDir, Load, bounded, deploy, healthy_at, notes, project, until};

const BLUE_GREEN: &str = r#"
services:
  web:
    replicas: 2
    listen: 127.0.0.1:0
    previewListen: 127.0.0.1:0
    run:
      command: [python3, "{script}"]
      env: {VERSION: v1}
    readiness: {path: /health, interval: 100ms}
    progressDeadline: 30s
    strategy:
      blueGreen:
        previewReplicas: 1
        prePromotionAnalysis: {metrics: [error_rate]}
        scaleDownDelay: 1s
    analysis:
      interval: 200ms
      window: 2s
      minSample: 20
      metrics: ["error_rate <= 1%"]
"#;

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_is_judged_then_takes_all_traffic_at_once() {
    bounded(async {
        let dir = DataDir::new();
        let plane = dir.start(project(BLUE_GREEN)).await;
        plane.deploy("web", deploy("v1", &[])).await.unwrap();
        let view = until(&plane, "web", "v1 stable", LIMIT, |v| healthy_at(v, "v1")).await;
        let load = Load::start(view.listen.unwrap(), 2);
        // The preview listener serves nothing until there is a preview; its clients are what
        // the pre-promotion analysis measures.
        let preview = Load::start(view.preview_listen.unwrap(), 1);

        plane
            .deploy("web", deploy("v2", &[("VERSION", "v2")]))
            .await
            .unwrap();
        let judging = until(&plane, "web", "v2 judged", LIMIT, |v| {
            matches!(v.stage, Stage::PrePromotion { .. })
        })
        .await;
        let v2 = judging
            .revisions
            .iter()
            .find(|r| r.version == "v2")
            .unwrap();
        assert_eq!((v2.role, v2.desired), (RevisionRole::Preview, 1));
        until(&plane, "web", "v2 stable", LIMIT, |v| healthy_at(v, "v2")).await;

        let seen = load.more(50).await;
        assert!(seen.of(200, "v2") > 0, "{seen:?}");
        assert_eq!(seen.failures_except(&[]), 0, "{seen:?}");
        assert!(preview.seen().of(200, "v2") >= 20, "{:?}", preview.seen());
        let view = plane.get("web").unwrap();
        let judged = view
            .analyses
            .iter()
            .find(|a| a.run.starts_with("pre-promotion analysis"))
            .unwrap_or_else(|| panic!("the pre-promotion run in {view:#?}"));
        assert_eq!(judged.verdict, Some(Verdict::Successful));
        assert_eq!(judged.measurements[0].verdict, Verdict::Successful);
        let notes = notes(&plane.history("web").unwrap());
        let switched = notes
            .iter()
            .position(|n| n == "all traffic switched to revision 2");
        let passed = notes
            .iter()
            .position(|n| n.starts_with("pre-promotion analysis: Successful"));
        assert!(passed < switched && passed.is_some(), "{notes:#?}");

        // The old revision stays warm for the scale-down delay, then goes.
        let view = until(&plane, "web", "v1 scaled down", LIMIT, |v| {
            v.revisions.iter().all(|r| r.version != "v1")
        })
        .await;
        assert_eq!(view.phase, Phase::Healthy);
        plane.shutdown(true).await;
    })
    .await;
}
