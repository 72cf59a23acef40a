//! Canary rollouts driven end to end: replicas are real processes, traffic goes through the
//! service's router, and the builtin `error_rate` metric judges the canary.

use std::time::Duration;

use bellwether_api::RevisionRole;
use bellwether_core::rollout::{Phase, Verdict};
use bellwether_core::spec::Weight;

use crate::harness::{DataDir, Load, bounded, deploy, healthy_at, notes, project, until};

const CANARY: &str = r#"
services:
  api:
    replicas: 2
    run:
      command: [python3, "{script}"]
      env: {VERSION: v1}
    readiness: {path: /health, interval: 100ms}
    progressDeadline: 30s
    strategy:
      canary:
        steps:
          - setWeight: 50
          - pause: 1s
        scaleDownDelay: 1s
        abortScaleDownDelay: 1s
    analysis:
      interval: 200ms
      window: 2s
      minSample: 20
      metrics: ["error_rate <= 1%"]
"#;

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passing_canary_is_promoted_and_a_failing_one_rolled_back() {
    bounded(async {
        let dir = DataDir::new();
        let plane = dir.start(project(CANARY)).await;

        let first = plane.deploy("api", deploy("v1", &[])).await.unwrap();
        assert_eq!(first.phase, Phase::Progressing);
        let view = until(&plane, "api", "v1 stable", LIMIT, |v| healthy_at(v, "v1")).await;
        let load = Load::start(view.listen.unwrap(), 2);
        let seen = load.more(50).await;
        assert_eq!(seen.of(200, "v1"), seen.total(), "{seen:?}");

        // v2 passes its analysis at 50% and after the pause, and is promoted.
        plane
            .deploy("api", deploy("v2", &[("VERSION", "v2")]))
            .await
            .unwrap();
        until(&plane, "api", "v2 at 50%", LIMIT, |v| {
            v.revisions
                .iter()
                .any(|r| r.version == "v2" && r.weight == Weight::from_percent(50).unwrap())
        })
        .await;
        until(&plane, "api", "v2 stable", LIMIT, |v| healthy_at(v, "v2")).await;
        let seen = load.more(50).await;
        assert!(seen.of(200, "v2") > 0, "traffic reached v2: {seen:?}");
        assert_eq!(seen.failures_except(&[]), 0, "no request failed: {seen:?}");
        let history = plane.history("api").unwrap();
        let notes = notes(&history);
        for expected in [
            "canary rollout of revision 2 (v2) started",
            "step 1: set weight 50%",
            "revision 2 now receives 50% of traffic",
            "step 2: pause 1s",
            "revision 2 (v2) promoted to stable",
        ] {
            assert!(
                notes.iter().any(|n| n == expected),
                "`{expected}` in {notes:#?}"
            );
        }

        // v3 fails half its requests: the analysis fails and the canary gets 0% at once.
        load.reset();
        plane
            .deploy(
                "api",
                deploy("v3", &[("VERSION", "v3"), ("ERROR_RATE", "0.5")]),
            )
            .await
            .unwrap();
        let view = until(&plane, "api", "v3 aborted", LIMIT, |v| {
            v.phase == Phase::Degraded
        })
        .await;
        assert_eq!(view.stable.as_ref().unwrap().version, "v2");
        assert!(view.reason.contains("error_rate"), "{}", view.reason);
        let v3 = view.revisions.iter().find(|r| r.version == "v3");
        assert!(v3.is_none_or(|r| r.weight == Weight::ZERO), "{view:#?}");
        let reason = view.reason.clone();
        let failed = view
            .analyses
            .iter()
            .find(|a| a.verdict == Some(Verdict::Failed))
            .cloned()
            .unwrap_or_else(|| panic!("a failed analysis in {view:#?}"));
        assert_eq!(failed.revision, 3);
        let measurement = &failed.measurements[0];
        assert_eq!(measurement.metric, "error_rate");
        assert_eq!(measurement.verdict, Verdict::Failed);
        assert!(measurement.message.contains("> 1%"), "{measurement:?}");

        // Once the requests in flight at the abort are answered, every request goes to v2;
        // none failed but for v3's injected errors.
        load.more(10).await;
        let during = load.reset();
        assert_eq!(during.failures_except(&["v3"]), 0, "{during:?}");
        let after = load.more(100).await;
        assert_eq!(after.of(200, "v2"), after.total(), "{after:?}");

        // The aborted canary is scaled down after its delay; the explanation stays.
        let view = until(&plane, "api", "v3 scaled down", LIMIT, |v| {
            v.revisions
                .iter()
                .filter(|r| r.version == "v3")
                .all(|r| r.desired == 0 && r.replicas.is_empty())
        })
        .await;
        assert_eq!(view.phase, Phase::Degraded);
        assert!(
            view.analyses
                .iter()
                .any(|a| a.verdict == Some(Verdict::Failed))
        );
        assert!(
            view.revisions
                .iter()
                .any(|r| r.version == "v2" && r.role == RevisionRole::Stable)
        );

        // The failed run's measurements explain the abort after a restart too.
        plane.shutdown(false).await;
        let plane = dir.start(project(CANARY)).await;
        let view = plane.get("api").unwrap();
        assert_eq!(
            (view.phase, view.reason.as_str()),
            (Phase::Degraded, reason.as_str())
        );
        let kept = view
            .analyses
            .iter()
            .find(|a| a.verdict == Some(Verdict::Failed))
            .unwrap_or_else(|| panic!("the failed analysis in {view:#?}"));
        assert_eq!(kept, &failed);
        plane.shutdown(true).await;
    })
    .await;
}
