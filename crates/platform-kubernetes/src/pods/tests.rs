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
fn each_service_reads_its_own_pods_and_indexes() {
    let of = |service: &str, name: &str, revision: u64| -> Pod {
        let mut pod = pod(name, revision, "2026-01-01T00:00:01Z", ready("127.0.0.2"));
        let labels = pod.metadata.labels.as_mut().unwrap();
        labels.insert("bellwether.dev/service".into(), service.into());
        let annotations = pod.metadata.annotations.as_mut().unwrap();
        annotations.insert("bellwether.dev/service-name".into(), service.into());
        pod
    };
    let mut pods = Pods::default();
    assert_eq!(
        pods.upsert(&of("web", "web-r1-a", 1)).as_deref(),
        Some("web")
    );
    assert_eq!(
        pods.upsert(&of("api", "api-r1-a", 1)).as_deref(),
        Some("api")
    );
    assert_eq!(
        pods.upsert(&of("api", "api-r1-b", 1)).as_deref(),
        Some("api")
    );
    assert_eq!(pods.upsert(&of("api", "api-r1-b", 1)), None, "unchanged");
    let names = |pods: &Pods, service: &str| -> Vec<(String, u32)> {
        pods.of(service)
            .map(|r| (r.name.clone(), r.index))
            .collect()
    };
    // Indexes are counted within a service's revision: web's pod does not take api's 0.
    assert_eq!(
        names(&pods, "api"),
        [("api-r1-a".into(), 0), ("api-r1-b".into(), 1)]
    );
    assert_eq!(names(&pods, "web"), [("web-r1-a".into(), 0)]);
    assert_eq!(pods.get("api-r1-b").map(|r| r.index), Some(1));

    assert_eq!(pods.remove("web-r1-a").as_deref(), Some("web"));
    assert_eq!(pods.remove("web-r1-a"), None, "gone already");
    assert!(names(&pods, "web").is_empty());
    assert!(pods.get("web-r1-a").is_none());
    assert!(pods.any());

    let touched = pods.relist(vec![of("api", "api-r1-b", 1)]);
    assert_eq!(touched, BTreeSet::from(["api".to_owned()]));
    assert_eq!(names(&pods, "api"), [("api-r1-b".into(), 1)]);
    pods.remove("api-r1-b");
    assert!(!pods.any());
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
