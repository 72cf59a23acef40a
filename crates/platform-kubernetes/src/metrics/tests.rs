use bellwether_core::platform::ReplicaPhase;
use serde_json::json;

use super::*;
use crate::pods::Limits;

fn item(name: &str, containers: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "metrics.k8s.io/v1beta1",
        "kind": "PodMetrics",
        "metadata": {"name": name, "namespace": "ns"},
        "timestamp": "2026-12-07T10:00:00Z",
        "window": "15s",
        "containers": containers,
    }))
    .unwrap()
}

fn usage_of(cpu: &str, memory: &str) -> Value {
    json!({"name": "main", "usage": {"cpu": cpu, "memory": memory}})
}

/// Pods `api-r1-a` and `-b` (revision 1, the second with limits), `api-r2-a` (revision 2).
fn replica(name: &str) -> Option<Replica> {
    let (revision, limits) = match name {
        "api-r1-a" => (1, Limits::default()),
        "api-r1-b" => (
            1,
            Limits {
                cpu: Some(2.0),
                memory: Some(256.0 * 1024.0 * 1024.0),
            },
        ),
        "api-r2-a" => (2, Limits::default()),
        _ => return None,
    };
    Some(Replica {
        name: name.into(),
        service: "api".into(),
        revision,
        index: 0,
        ip: None,
        phase: ReplicaPhase::Ready,
        restarts: 0,
        last_error: None,
        limits,
    })
}

fn key(revision: u64) -> RevisionKey {
    RevisionKey {
        service: "api".into(),
        revision,
    }
}

#[test]
fn each_revision_gets_its_busiest_and_fullest_pod() {
    let items = [
        // Two containers: 0.3 cores and 96Mi in all, no limits.
        item(
            "api-r1-a",
            json!([usage_of("250m", "64Mi"), usage_of("50000000n", "32Mi")]),
        ),
        // 1.6 cores of a 2-core limit (80%), 128Mi of 256Mi (50%).
        item("api-r1-b", json!([usage_of("1600m", "128Mi")])),
        item("api-r2-a", json!([usage_of("1e-1", "1Gi")])),
        item("someone-else", json!([usage_of("4", "1Gi")])),
    ];
    let at = Duration::from_secs(7);
    let (points, problem) = points(&items, at, replica);
    assert_eq!(problem, None);
    let first = ResourcePoint {
        at,
        replicas: 2,
        cpu: Some(0.8),
        memory: Some(0.5),
    };
    let second = ResourcePoint {
        at,
        replicas: 1,
        cpu: Some(0.1),
        memory: None,
    };
    assert_eq!(points.len(), 2, "{points:?}");
    assert_eq!(points[0].0, key(1));
    let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() < 1e-9,
        (a, b) => a == b,
    };
    for ((_, got), want) in points.iter().zip([first, second]) {
        assert_eq!((got.at, got.replicas), (want.at, want.replicas));
        assert!(
            close(got.cpu, want.cpu) && close(got.memory, want.memory),
            "{got:?} != {want:?}"
        );
    }
    assert_eq!(points[1].0, key(2));
}

#[test]
fn a_pod_whose_metrics_are_not_quantities_is_left_out_saying_why() {
    let items = [
        item("api-r1-a", json!([usage_of("lots", "64Mi")])),
        item("api-r1-b", json!([usage_of("-1", "64Mi")])),
        item("api-r2-a", json!([])),
    ];
    let (points, problem) = points(&items, Duration::ZERO, replica);
    assert!(points.is_empty(), "{points:?}");
    assert_eq!(
        problem.as_deref(),
        Some(
            r#"pod api-r1-a: cpu usage "lots" is not a Kubernetes quantity: expected a number first"#
        )
    );
    let (_, problem) = points_of(&items[1..]);
    assert_eq!(
        problem.as_deref(),
        Some(r#"pod api-r1-b: cpu usage "-1" is negative"#)
    );
    let (_, problem) = points_of(&items[2..]);
    assert_eq!(
        problem.as_deref(),
        Some("pod api-r2-a: no containers measured")
    );
    let (_, problem) = points_of(&[item("api-r1-a", json!([{"name": "main"}]))]);
    assert_eq!(problem.as_deref(), Some("pod api-r1-a: no cpu usage"));
}

fn points_of(items: &[DynamicObject]) -> (Vec<(RevisionKey, ResourcePoint)>, Option<String>) {
    points(items, Duration::ZERO, replica)
}
