//! Applying a changed project: services added, changed and removed while the control plane
//! runs; and what the API shows of a service besides its rollout (events, logs).

use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;

use bellwether_api::ApplySummary;
use bellwether_controller::{ControlError, ControlPlane};
use bellwether_core::error::chain;
use bellwether_core::platform::{LogLine, LogQuery};
use tokio::time::timeout;

use crate::harness::{DataDir, Load, bounded, deploy, healthy_at, project, until};

const LIMIT: Duration = Duration::from_secs(30);

fn services(api_replicas: u32, api_listen: &str, with_old: bool, with_web: bool) -> String {
    let service = |name: &str, replicas: u32, listen: &str| {
        format!(
            "  {name}:\n    replicas: {replicas}\n    listen: \"{listen}\"\n    run: {{command: [python3, \"{{script}}\"], env: {{VERSION: {name}-v1}}}}\n    readiness: {{path: /health, interval: 100ms}}\n"
        )
    };
    let mut yaml = String::from("services:\n");
    yaml.push_str(&service("api", api_replicas, api_listen));
    if with_old {
        yaml.push_str(&service("old", 1, "127.0.0.1:0"));
    }
    if with_web {
        yaml.push_str(&service("web", 1, "127.0.0.1:0"));
    }
    yaml
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_adds_changes_and_removes_services() {
    bounded(async {
        let dir = DataDir::new();
        let plane = dir
            .start(project(&services(1, "127.0.0.1:0", true, false)))
            .await;
        let mut events = plane.subscribe();
        plane.deploy("api", deploy("v1", &[])).await.unwrap();
        let first = timeout(LIMIT, events.recv()).await.unwrap().unwrap();
        assert_eq!(
            (first.service.as_str(), first.seq, first.kind.as_str()),
            ("api", 1, "spec_changed")
        );
        assert!(
            first.notes[0].starts_with("first deployment of revision 1 (v1)"),
            "{first:?}"
        );
        plane.deploy("old", deploy("v1", &[])).await.unwrap();
        until(&plane, "api", "v1 stable", LIMIT, |v| healthy_at(v, "v1")).await;
        let old = until(&plane, "old", "v1 stable", LIMIT, |v| healthy_at(v, "v1")).await;
        let old_pid = old.revisions[0].replicas[0].pid.unwrap();

        // api gets a second replica and a fixed address, web is added, old is removed.
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap();
        let changed = project(&services(2, &port.to_string(), false, true));
        let summary = plane
            .apply(changed.clone(), "api.yaml", true)
            .await
            .unwrap();
        let expected = ApplySummary {
            added: vec!["web".into()],
            changed: vec!["api".into()],
            removed: vec!["old".into()],
            unchanged: vec![],
            kept: vec![],
        };
        assert_eq!(summary, expected);
        let view = until(&plane, "api", "two replicas", LIMIT, |v| {
            healthy_at(v, "v1") && v.revisions[0].ready == 2
        })
        .await;
        assert_eq!(view.listen, Some(port));
        let load = Load::start(port, 1);
        let seen = load.more(20).await;
        assert_eq!(seen.of(200, "api-v1"), seen.total(), "{seen:?}");
        assert!(matches!(
            plane.get("old"),
            Err(ControlError::UnknownService(_))
        ));
        let gone = std::path::PathBuf::from(format!("/proc/{old_pid}"));
        let deadline = tokio::time::Instant::now() + LIMIT;
        while gone.exists() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the removed service's replica still runs"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        plane.deploy("web", deploy("w1", &[])).await.unwrap();
        until(&plane, "web", "w1 stable", LIMIT, |v| healthy_at(v, "w1")).await;
        let names: Vec<String> = plane.list().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["api", "web"]);

        // Applying the same project again changes nothing.
        let again = plane.apply(changed, "api.yaml", true).await.unwrap();
        assert_eq!((again.unchanged.len(), again.changed.len()), (2, 0));

        // A taken port fails the apply and changes nothing.
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let clash = project(&services(
            2,
            &taken.local_addr().unwrap().to_string(),
            false,
            true,
        ));
        match plane.apply(clash, "api.yaml", true).await {
            Err(e @ ControlError::Listen { .. }) => {
                let why = chain(&e);
                assert!(
                    why.starts_with("service `api`: listen: cannot listen on "),
                    "{why}"
                )
            }
            other => panic!("expected a listen error, got {other:?}"),
        }
        assert_eq!(plane.get("api").unwrap().listen, Some(port));

        // Each replica's output is readable through the platform.
        let lines = logs(&plane, Some(1)).await;
        let replicas: std::collections::BTreeSet<(u64, u32)> =
            lines.iter().map(|l| (l.revision, l.index)).collect();
        assert_eq!(replicas, [(1, 0), (1, 1)].into(), "{lines:?}");
        let first = String::from_utf8_lossy(&lines[0].text).into_owned();
        assert!(first.contains("api-v1 listening on"), "{first}");
        assert_eq!(logs(&plane, None).await, lines);
        assert!(logs(&plane, Some(7)).await.is_empty());
        plane.shutdown(true).await;
    })
    .await;
}

/// Every line the service `api`'s replicas wrote so far.
async fn logs(plane: &ControlPlane, revision: Option<u64>) -> Vec<LogLine> {
    let query = LogQuery {
        revision,
        ..LogQuery::default()
    };
    let mut receiver = plane
        .logs("api", query, Box::pin(std::future::pending()))
        .unwrap();
    let mut lines = Vec::new();
    while let Some(batch) = receiver.recv().await {
        lines.extend(batch);
    }
    lines
}
