//! Rolling: replicas are replaced a batch at a time and traffic follows the ready ones.

use std::time::Duration;

use crate::harness::{DataDir, Load, bounded, deploy, healthy_at, notes, project, until};

const ROLLING: &str = r#"
services:
  worker:
    replicas: 3
    run:
      command: [python3, "{script}"]
      env: {VERSION: v1}
    readiness: {path: /health, interval: 100ms}
    progressDeadline: 30s
    strategy:
      rolling: {maxSurge: 1, maxUnavailable: 0}
"#;

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_are_replaced_without_a_failed_request() {
    bounded(async {
        let dir = DataDir::new();
        let plane = dir.start(project(ROLLING)).await;
        plane.deploy("worker", deploy("v1", &[])).await.unwrap();
        let view = until(&plane, "worker", "v1 stable", LIMIT, |v| {
            healthy_at(v, "v1")
        })
        .await;
        let load = Load::start(view.listen.unwrap(), 2);
        load.more(20).await;

        plane
            .deploy("worker", deploy("v2", &[("VERSION", "v2")]))
            .await
            .unwrap();
        let view = until(&plane, "worker", "v2 stable", LIMIT, |v| {
            healthy_at(v, "v2") && v.revisions.iter().all(|r| r.version != "v1")
        })
        .await;
        assert_eq!(view.revisions.len(), 1, "{view:#?}");
        assert_eq!(view.revisions[0].ready, 3);

        let seen = load.more(50).await;
        assert!(seen.of(200, "v2") > 0, "{seen:?}");
        assert_eq!(seen.failures_except(&[]), 0, "{seen:?}");
        let notes = notes(&plane.history("worker").unwrap());
        assert!(
            notes
                .iter()
                .any(|n| n == "rolling rollout of revision 2 (v2) started"),
            "{notes:#?}"
        );
        assert!(
            notes
                .iter()
                .any(|n| n == "revision 2 (v2) promoted to stable"),
            "{notes:#?}"
        );
        plane.shutdown(true).await;
    })
    .await;
}
