use serde_json::json;

use super::*;

fn pod(name: &str, revision: u64, created: &str, status: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name,
            "creationTimestamp": created,
            "labels": {"bellwether.dev/service": "web", "bellwether.dev/revision": revision.to_string()},
            "annotations": {"bellwether.dev/service-name": "web"},
        },
        "status": status,
    }))
    .unwrap()
}

fn ready(ip: &str) -> serde_json::Value {
    json!({"podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]})
}

#[test]
fn pods_take_the_lowest_free_index_and_keep_it() {
    let mut pods = Pods::default();
    pods.relist(vec![
        pod("web-r1-b", 1, "2026-01-01T00:00:02Z", ready("127.0.0.3")),
        pod("web-r1-a", 1, "2026-01-01T00:00:01Z", ready("127.0.0.2")),
    ]);
    let indexes = |pods: &Pods| -> Vec<(String, u32)> {
        pods.of("web").map(|r| (r.name.clone(), r.index)).collect()
    };
    assert_eq!(
        indexes(&pods),
        [("web-r1-a".into(), 0), ("web-r1-b".into(), 1)]
    );
    pods.remove("web-r1-a");
    pods.upsert(&pod("web-r1-c", 1, "2026-01-01T00:00:03Z", json!({})));
    assert_eq!(
        indexes(&pods),
        [("web-r1-b".into(), 1), ("web-r1-c".into(), 0)]
    );

    let state = pods.state("web", &[(1, 2), (2, 0)].into(), 8080);
    let revision = &state[&1];
    assert_eq!(revision.desired, 2);
    assert_eq!(revision.replicas[0].phase, ReplicaPhase::Starting);
    assert_eq!(
        revision.replicas[1].addr,
        Some("127.0.0.3:8080".parse().unwrap())
    );
    assert!(state[&2].replicas.is_empty());
}

#[test]
fn phases_come_from_conditions_container_state_and_deletion() {
    let mut pods = Pods::default();
    pods.upsert(&pod("p", 1, "2026-01-01T00:00:01Z", ready("127.0.0.2")));
    let unready =
        json!({"podIP": "127.0.0.2", "conditions": [{"type": "Ready", "status": "False"}]});
    pods.upsert(&pod("p", 1, "2026-01-01T00:00:01Z", unready));
    assert_eq!(pods.of("web").next().unwrap().phase, ReplicaPhase::Unready);

    let crashing = json!({
        "podIP": "127.0.0.2",
        "containerStatuses": [{
            "name": "web", "image": "web", "imageID": "", "ready": false, "restartCount": 2,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s"}},
            "lastState": {"terminated": {"exitCode": 1, "message": "exited with code 1"}},
        }],
    });
    pods.upsert(&pod("p", 1, "2026-01-01T00:00:01Z", crashing));
    let replica = pods.of("web").next().unwrap();
    assert_eq!(
        (replica.phase, replica.restarts),
        (ReplicaPhase::Crashed, 2)
    );
    assert_eq!(
        replica.last_error.as_deref(),
        Some("CrashLoopBackOff: back-off 20s (last: exited with code 1: exited with code 1)")
    );

    let mut deleting = pod("p", 1, "2026-01-01T00:00:01Z", ready("127.0.0.2"));
    deleting.metadata.deletion_timestamp = deleting.metadata.creation_timestamp.clone();
    pods.upsert(&deleting);
    assert_eq!(pods.of("web").next().unwrap().phase, ReplicaPhase::Stopping);
}

#[test]
fn a_pod_no_node_takes_says_why() {
    let mut pods = Pods::default();
    let pending = json!({"phase": "Pending", "conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": "0/3 nodes are available: 3 Insufficient cpu.",
    }]});
    pods.upsert(&pod("p", 1, "2026-01-01T00:00:01Z", pending));
    let replica = pods.of("web").next().unwrap();
    assert_eq!(replica.phase, ReplicaPhase::Starting);
    assert_eq!(
        replica.last_error.as_deref(),
        Some("Unschedulable: 0/3 nodes are available: 3 Insufficient cpu.")
    );
}

#[test]
fn a_pods_limits_are_its_containers_summed_when_each_has_one() {
    let with = |containers: serde_json::Value| -> Limits {
        let mut pod = pod("web-r1-a", 1, "2026-01-01T00:00:01Z", json!({}));
        pod.spec = Some(serde_json::from_value(json!({"containers": containers})).unwrap());
        limits(&pod)
    };
    let container =
        |limits: serde_json::Value| json!({"name": "c", "resources": {"limits": limits}});
    assert_eq!(
        with(json!([
            container(json!({"cpu": "500m", "memory": "128Mi"})),
            container(json!({"cpu": "1", "memory": "64Mi"})),
        ])),
        Limits {
            cpu: Some(1.5),
            memory: Some(192.0 * 1024.0 * 1024.0)
        }
    );
    assert_eq!(
        with(json!([
            container(json!({"cpu": "500m"})),
            container(json!({"cpu": "0", "memory": "64Mi"})),
        ])),
        Limits::default(),
        "a container without a limit (or a zero one) leaves the pod without"
    );
    assert_eq!(with(json!([])), Limits::default());
    assert_eq!(
        limits(&pod("web-r1-a", 1, "2026-01-01T00:00:01Z", json!({}))),
        Limits::default()
    );
}
