//! The kubernetes platform against the fake cluster's faults and the objects it writes:
//! watches dropped and compacted away mid-rollout, conflicts on apply, pods that never become
//! ready, templates it cannot run, secrets, scaled-down revisions and leftovers reaped, a
//! pod's CPU read from the metrics API, asked again after it failed, and the writes of many
//! services asked for at once kept to a bounded number of connections.

mod support;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bellwether_controller::Platform;
use bellwether_core::platform::{LogQuery, ReplicaPhase, ReplicaTemplate, ServiceState};
use bellwether_core::rollout::RevisionNumber;
use bellwether_core::spec::Probe;
use bellwether_kube_fake::Resource;
use serde_json::Value;
use tokio::sync::watch;

const WAIT: Duration = Duration::from_secs(30);

fn template(service: &str, revision: RevisionNumber) -> ReplicaTemplate {
    ReplicaTemplate {
        service: service.to_owned(),
        revision,
        version: format!("v{revision}"),
        run: support::workload(),
        readiness: Probe::http("/health"),
        liveness: None,
        environment: None,
    }
}

fn ready(state: &ServiceState, revision: RevisionNumber) -> usize {
    state.get(&revision).map_or(0, |r| {
        r.replicas
            .iter()
            .filter(|p| p.phase == ReplicaPhase::Ready)
            .count()
    })
}

async fn until(
    rx: &mut watch::Receiver<ServiceState>,
    what: &str,
    f: impl Fn(&ServiceState) -> bool,
) -> ServiceState {
    let waited = tokio::time::timeout(WAIT, rx.wait_for(|s| f(s)))
        .await
        .map(|r| r.map(|state| state.clone()));
    match waited {
        Ok(Ok(state)) => state,
        _ => panic!("timed out waiting for {what}; state: {:#?}", rx.borrow()),
    }
}

/// Waits (bounded) until the cluster's objects satisfy `check`, looking every 50 ms.
async fn until_objects<F: Future<Output = bool>>(what: &str, check: impl Fn() -> F) {
    let waited = tokio::time::timeout(WAIT, async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    waited.unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

fn ready_pods(pods: &[Value], revision: RevisionNumber) -> usize {
    pods.iter()
        .filter(|p| {
            p["metadata"]["labels"]["bellwether.dev/revision"]
                .as_str()
                .and_then(|r| r.parse::<RevisionNumber>().ok())
                == Some(revision)
        })
        .filter(|p| {
            p["status"]["conditions"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
        })
        .count()
}

/// The status line of `GET path` from a replica.
async fn get(address: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response.lines().next().unwrap_or_default().to_owned()
}

async fn fake() -> (tempfile::TempDir, Arc<support::OnFakeCluster>) {
    let dir = tempfile::tempdir().unwrap();
    let subject = support::start(dir.path(), |_| {}).await;
    (dir, subject)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_changes_survive_a_dropped_watch_and_a_410_gone() {
    let (_dir, subject) = fake().await;
    let (platform, script) = (&subject.platform, subject.cluster.script());
    let mut rx = platform.watch("web");
    platform.scale(&template("web", 1), 1);
    until(&mut rx, "one ready replica", |s| ready(s, 1) == 1).await;

    // The second replica becomes ready while no watch connection is open: the platform
    // resumes from the version it saw and replays what it missed.
    script.slow_watches(Duration::from_secs(3600));
    platform.scale(&template("web", 1), 2);
    until_objects("two ready pods in the cluster", || async {
        ready_pods(&subject.cluster.objects(Resource::Pods, "bellwether"), 1) == 2
    })
    .await;
    assert_eq!(ready(&rx.borrow(), 1), 1, "the slow watch has not told yet");
    script.slow_watches(Duration::ZERO);
    script.drop_watches();
    until(&mut rx, "two ready replicas after the dropped watch", |s| {
        ready(s, 1) == 2
    })
    .await;

    // Now the history is compacted away while the watch is stuck: resuming is 410 Gone, and
    // the platform lists again.
    script.slow_watches(Duration::from_secs(3600));
    platform.scale(&template("web", 1), 3);
    until_objects("three ready pods in the cluster", || async {
        ready_pods(&subject.cluster.objects(Resource::Pods, "bellwether"), 1) == 3
    })
    .await;
    script.compact();
    script.slow_watches(Duration::ZERO);
    script.drop_watches();
    until(&mut rx, "three ready replicas after 410 Gone", |s| {
        ready(s, 1) == 3
    })
    .await;
    assert!(
        script.gone_answered() >= 1,
        "the resumed watch was 410 Gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_asked_for_at_once_are_written_a_bounded_number_at_a_time() {
    let (_dir, subject) = fake().await;
    let (platform, cluster) = (&subject.platform, &subject.cluster);
    // Pods without processes: 200 servers would measure the machine, not the platform.
    cluster
        .script()
        .without_processes("app.kubernetes.io/managed-by=bellwether");
    let services: Vec<String> = (0..200).map(|i| format!("svc-{i:03}")).collect();
    let mut watches: Vec<_> = services.iter().map(|s| platform.watch(s)).collect();
    let before = cluster.connections();
    for service in &services {
        platform.scale(&template(service, 1), 1);
    }
    for (service, rx) in services.iter().zip(&mut watches) {
        until(rx, &format!("{service} ready"), |s| ready(s, 1) == 1).await;
    }
    // The client keeps a connection per request in flight: 32 writes, and a few for the
    // watch and the metrics API's lists.
    let opened = cluster.connections() - before;
    assert!(
        opened <= 40,
        "{opened} connections opened for 200 services asked for at once"
    );
    assert_eq!(
        cluster.objects(Resource::ReplicaSets, "bellwether").len(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_on_apply_is_retried() {
    let (_dir, subject) = fake().await;
    subject
        .cluster
        .script()
        .conflict_next_writes(Resource::ReplicaSets, 3);
    let mut rx = subject.platform.watch("web");
    subject.platform.scale(&template("web", 1), 1);
    until(&mut rx, "a ready replica despite three conflicts", |s| {
        ready(s, 1) == 1
    })
    .await;
    let sets = subject.cluster.objects(Resource::ReplicaSets, "bellwether");
    assert_eq!(sets.len(), 1);
    let set = &sets[0];
    assert_eq!(set["metadata"]["name"], "web-r1");
    assert_eq!(set["metadata"]["managedFields"][0]["manager"], "bellwether");
    assert_eq!(set["metadata"]["managedFields"][0]["operation"], "Apply");
    assert_eq!(
        set["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "bellwether"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_that_never_becomes_ready_keeps_its_revision_not_ready() {
    let (_dir, subject) = fake().await;
    subject
        .cluster
        .script()
        .never_ready("bellwether.dev/revision=2");
    let mut rx = subject.platform.watch("web");
    subject.platform.scale(&template("web", 2), 1);
    subject.platform.scale(&template("web", 1), 1);
    let state = until(&mut rx, "revision 1 ready, revision 2 running", |s| {
        ready(s, 1) == 1
            && s.get(&2)
                .is_some_and(|r| r.replicas.iter().any(|p| p.addr.is_some()))
    })
    .await;
    // Revision 2's server answers its probe's path, as revision 1's does.
    let address = state[&2].replicas[0].addr.unwrap();
    assert_eq!(get(address, "/health").await, "HTTP/1.0 200 OK");
    // Two more of revision 1's replicas become ready, probed as often: revision 2 stays out.
    subject.platform.scale(&template("web", 1), 3);
    let state = until(&mut rx, "revision 1 scaled up", |s| ready(s, 1) == 3).await;
    assert_eq!(ready(&state, 2), 0, "{state:#?}");
    assert_eq!(state[&2].replicas[0].phase, ReplicaPhase::Starting);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_without_an_image_fails_its_revision_with_why() {
    let (_dir, subject) = fake().await;
    let mut rx = subject.platform.watch("web");
    let mut imageless = template("web", 1);
    imageless.run.image = None;
    subject.platform.scale(&imageless, 2);
    let state = until(&mut rx, "the revision failing three times", |s| {
        s.get(&1)
            .is_some_and(|r| r.replicas.len() == 2 && r.replicas.iter().all(|p| p.restarts >= 3))
    })
    .await;
    let replica = &state[&1].replicas[0];
    assert_eq!(replica.phase, ReplicaPhase::Crashed);
    assert!(
        replica
            .last_error
            .as_deref()
            .unwrap()
            .contains("has no image"),
        "{replica:?}"
    );
    assert!(
        subject
            .cluster
            .objects(Resource::ReplicaSets, "bellwether")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_reach_pods_through_a_secret_owned_by_the_revision() {
    let dir = tempfile::tempdir().unwrap();
    let subject = support::start(dir.path(), |options| {
        options.secrets = Some(Arc::new(support::Secrets))
    })
    .await;
    let mut with_secret = template("web", 1);
    with_secret.run.secrets = vec!["TOKEN".into()];
    with_secret
        .run
        .env
        .insert("PRINT".into(), "TOKEN BELLWETHER_VERSION".into());
    let mut rx = subject.platform.watch("web");
    subject.platform.scale(&with_secret, 1);
    until(&mut rx, "a ready replica", |s| ready(s, 1) == 1).await;

    let query = LogQuery {
        revision: Some(1),
        tail: None,
        follow: false,
    };
    let mut logs = subject
        .platform
        .logs("web", query, Box::pin(std::future::pending()));
    let mut lines = Vec::new();
    while let Some(batch) = tokio::time::timeout(WAIT, logs.recv()).await.unwrap() {
        lines.extend(
            batch
                .into_iter()
                .map(|l| String::from_utf8(l.text).unwrap()),
        );
    }
    assert_eq!(
        lines[..3],
        ["TOKEN value-of-TOKEN", "BELLWETHER_VERSION v1", "listening"]
    );

    let sets = subject.cluster.objects(Resource::ReplicaSets, "bellwether");
    assert!(
        !sets[0].to_string().contains("value-of-TOKEN"),
        "no value in the pod spec"
    );
    let secrets = subject.cluster.objects(Resource::Secrets, "bellwether");
    assert_eq!(secrets[0]["stringData"]["TOKEN"], "value-of-TOKEN");
    assert_eq!(
        secrets[0]["metadata"]["ownerReferences"][0]["uid"],
        sets[0]["metadata"]["uid"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revision_scaled_down_is_kept_a_while_then_deleted_with_its_secret() {
    let dir = tempfile::tempdir().unwrap();
    let subject = support::start(dir.path(), |options| {
        options.secrets = Some(Arc::new(support::Secrets));
        options.keep_scaled_down = Duration::from_secs(2);
    })
    .await;
    let mut revision = template("web", 1);
    revision.run.secrets = vec!["TOKEN".into()];
    let mut rx = subject.platform.watch("web");
    subject.platform.scale(&revision, 1);
    until(&mut rx, "a ready replica", |s| ready(s, 1) == 1).await;
    subject.platform.scale(&revision, 0);
    until(&mut rx, "no replica", |s| s[&1].replicas.is_empty()).await;
    let kept = subject.cluster.objects(Resource::ReplicaSets, "bellwether");
    assert_eq!(kept.len(), 1, "kept at no pods for a while");
    assert_eq!(kept[0]["spec"]["replicas"], 0);
    until_objects("the ReplicaSet and its Secret deleted", || async {
        subject
            .cluster
            .objects(Resource::ReplicaSets, "bellwether")
            .is_empty()
            && subject
                .cluster
                .objects(Resource::Secrets, "bellwether")
                .is_empty()
    })
    .await;
    until(&mut rx, "the revision forgotten", |s| !s.contains_key(&1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_control_plane_reaps_what_no_revision_asked_for_and_keeps_the_rest() {
    let (dir, subject) = fake().await;
    let mut rx = subject.platform.watch("web");
    subject.platform.scale(&template("web", 1), 1);
    subject.platform.scale(&template("web", 2), 1);
    until(&mut rx, "both revisions ready", |s| {
        ready(s, 1) == 1 && ready(s, 2) == 1
    })
    .await;
    subject.platform.abandon();

    let next = support::platform_on(&subject.cluster, dir.path(), |_| {}).await;
    let mut rx = next.watch("web");
    next.scale(&template("web", 2), 1);
    until(&mut rx, "revision 2 adopted, ready", |s| ready(s, 2) == 1).await;
    let pods_before: Vec<Value> = subject.cluster.objects(Resource::Pods, "bellwether");
    next.reap_unclaimed();
    until(&mut rx, "revision 1's pods gone", |s| {
        s.get(&1).is_none_or(|r| r.replicas.is_empty())
    })
    .await;
    let sets = subject.cluster.objects(Resource::ReplicaSets, "bellwether");
    let names: Vec<&str> = sets
        .iter()
        .filter_map(|s| s["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, ["web-r2"]);
    let kept = subject.cluster.objects(Resource::Pods, "bellwether");
    let uid = |pods: &[Value]| -> Vec<Value> {
        pods.iter()
            .filter(|p| p["metadata"]["labels"]["bellwether.dev/revision"] == "2")
            .map(|p| p["metadata"]["uid"].clone())
            .collect()
    };
    assert_eq!(
        uid(&kept),
        uid(&pods_before),
        "revision 2's pod adopted, not replaced"
    );
    next.shutdown().await;
    assert!(
        subject
            .cluster
            .objects(Resource::Pods, "bellwether")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_failing_its_liveness_probe_is_restarted_in_its_pod() {
    let (_dir, subject) = fake().await;
    let mut failing = template("web", 1);
    let mut liveness = Probe::http("/missing");
    liveness.failure_threshold = 1;
    failing.liveness = Some(liveness);
    let mut rx = subject.platform.watch("web");
    subject.platform.scale(&failing, 1);
    let state = until(&mut rx, "the replica restarted twice", |s| {
        s.get(&1)
            .is_some_and(|r| r.replicas.len() == 1 && r.replicas[0].restarts >= 2)
    })
    .await;
    let replica = &state[&1].replicas[0];
    assert_eq!(replica.index, 0, "the same pod, restarted");
    let pods = subject.cluster.objects(Resource::Pods, "bellwether");
    assert_eq!(pods.len(), 1);
    let message = pods[0]["status"]["containerStatuses"][0]["lastState"]["terminated"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.starts_with("Liveness probe failed"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn none_asked_of_a_revision_without_a_replica_set_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Long enough that a ReplicaSet made at no pods would still be there.
    let subject = support::start(dir.path(), |options| {
        options.keep_scaled_down = Duration::from_secs(600);
    })
    .await;
    let mut rx = subject.platform.watch("web");
    subject.platform.scale(&template("web", 2), 1);
    subject.platform.scale(&template("web", 1), 0);
    until(&mut rx, "revision 2 ready", |s| ready(s, 2) == 1).await;
    let sets = subject.cluster.objects(Resource::ReplicaSets, "bellwether");
    let names: Vec<&str> = sets
        .iter()
        .filter_map(|s| s["metadata"]["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["web-r2"],
        "no ReplicaSet made for a revision asked for none"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_down_stops_the_highest_indexes_of_pods_found_by_a_list() {
    let (dir, subject) = fake().await;
    let mut rx = subject.platform.watch("web");
    subject.platform.scale(&template("web", 1), 3);
    until(&mut rx, "three ready replicas", |s| ready(s, 1) == 3).await;
    subject.platform.abandon();

    // A new control plane lists pods made in the same second: its indexes follow their
    // names, not the order the ReplicaSet controller would delete them in.
    let next = support::platform_on(&subject.cluster, dir.path(), |_| {}).await;
    let mut rx = next.watch("web");
    next.scale(&template("web", 1), 3);
    let state = until(&mut rx, "three ready replicas listed", |s| ready(s, 1) == 3).await;
    let first = state[&1]
        .replicas
        .iter()
        .find(|r| r.index == 0)
        .unwrap()
        .addr;
    next.scale(&template("web", 1), 1);
    let state = until(&mut rx, "one replica left", |s| s[&1].replicas.len() == 1).await;
    let kept = &state[&1].replicas[0];
    assert_eq!((kept.index, kept.addr), (0, first), "{state:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_comes_from_the_metrics_api_which_is_asked_again_after_a_failure() {
    use bellwether_core::signal::ResourceSource;
    let (_dir, subject) = fake().await;
    let (platform, script) = (&subject.platform, subject.cluster.script());
    let minute = Duration::from_secs(60);
    assert_eq!(
        platform.resources("web", 1, minute),
        None,
        "no such revision"
    );
    script.fail_metrics(3);
    let mut burning = template("web", 1);
    let burn =
        "import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'while True: pass'])\n";
    burning.run.command[2] = format!("{burn}{}", support::WORKLOAD);
    let mut rx = platform.watch("web");
    platform.scale(&burning, 1);
    until(&mut rx, "one ready replica", |s| ready(s, 1) == 1).await;

    let measured = tokio::time::timeout(WAIT, async {
        loop {
            let sample = platform.resources("web", 1, minute);
            if let Some(sample) = sample.filter(|s| s.cpu.is_some_and(|cpu| cpu > 0.3)) {
                return sample;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the burning pod's CPU measured");
    assert_eq!(measured.replicas, 1);
    assert_eq!(
        measured.memory, None,
        "a pod without a memory limit has no share of it"
    );
    let metrics: Vec<_> = subject
        .cluster
        .requests()
        .into_iter()
        .filter(|r| r.group == "metrics.k8s.io")
        .collect();
    assert!(
        metrics.len() > 3
            && metrics
                .iter()
                .all(|r| (r.verb, r.resource.as_str()) == ("list", "pods")),
        "listed again after the three failures: {metrics:#?}"
    );
}
