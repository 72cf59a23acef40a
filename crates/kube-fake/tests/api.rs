//! The fake API server's semantics, through kube-rs's client and a kubeconfig, as a platform
//! sees them: optimistic concurrency, server-side apply, watches (resumption, `410 Gone`,
//! bookmarks, dropped connections), garbage collection and the kubelet's pods.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use bellwether_kube_fake::{FakeCluster, Options, Resource};
use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, LogParams, Patch,
    PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, Error};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

async fn cluster() -> (FakeCluster, Client) {
    let options = Options {
        bookmark_interval: Duration::from_millis(100),
        ..Options::default()
    };
    let cluster = FakeCluster::start(options).await.expect("a fake cluster");
    let kubeconfig: Kubeconfig = serde_yaml_free(&cluster.kubeconfig("test"));
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("the kubeconfig is read");
    let client = Client::try_from(config).expect("a client");
    (cluster, client)
}

/// The kubeconfig as written to a file and read back, as `--kubeconfig` does.
fn serde_yaml_free(text: &str) -> Kubeconfig {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, text).unwrap();
    Kubeconfig::read_from(&path).expect("a kubeconfig")
}

fn secret(name: &str) -> Secret {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name},
        "stringData": {"key": "value"},
    }))
    .unwrap()
}

/// The next event that is not a bookmark.
async fn next_change<S>(stream: &mut S) -> Option<WatchEvent<Secret>>
where
    S: futures_util::Stream<Item = kube::Result<WatchEvent<Secret>>> + Unpin,
{
    loop {
        let event = tokio::time::timeout(WAIT, stream.try_next())
            .await
            .expect("an event in time");
        match event.expect("a watch event") {
            Some(WatchEvent::Bookmark(_)) => {}
            other => return other,
        }
    }
}

fn code(error: Error) -> u16 {
    match error {
        Error::Api(status) => status.code,
        other => panic!("not an API error: {other}"),
    }
}

/// Waits (bounded) until `check` holds, asking again every 50 ms.
async fn until<F: Future<Output = bool>>(what: &str, check: impl Fn() -> F) {
    let waited = tokio::time::timeout(WAIT, async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    waited.unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

#[tokio::test]
async fn a_request_without_the_token_or_with_a_method_not_served_is_refused() {
    let (cluster, _) = cluster().await;
    let url = format!("{}/api/v1/namespaces/test/secrets", cluster.url());
    let response = raw("GET", &url, None).await;
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    let response = raw("PUT", &url, Some(cluster.token())).await;
    assert!(response.starts_with("HTTP/1.1 405"), "{response}");
    assert!(
        response.contains("\"reason\":\"MethodNotAllowed\""),
        "{response}"
    );
}

#[tokio::test]
async fn every_request_is_recorded_with_the_verb_the_authorizer_sees() {
    let (cluster, client) = cluster().await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "test");
    let apply = PatchParams::apply("t");
    secrets
        .patch("a", &apply, &Patch::Apply(&secret("a")))
        .await
        .unwrap();
    secrets
        .patch("a", &apply, &Patch::Apply(&secret("a")))
        .await
        .unwrap();
    let made = secrets
        .create(&PostParams::default(), &secret("b"))
        .await
        .unwrap();
    secrets
        .replace("b", &PostParams::default(), &made)
        .await
        .unwrap();
    secrets.get("b").await.unwrap();
    let listed = secrets.list(&ListParams::default()).await.unwrap();
    let version = listed.metadata.resource_version.unwrap();
    let params = WatchParams::default().timeout(1);
    let mut stream = secrets.watch(&params, &version).await.unwrap().boxed();
    while stream.try_next().await.unwrap().is_some() {}
    secrets.delete("b", &DeleteParams::default()).await.unwrap();
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "test");
    assert_eq!(code(sets.get("missing").await.unwrap_err()), 404);
    let pods: Api<Pod> = Api::namespaced(client, "test");
    let _ = pods.logs("p", &LogParams::default()).await;
    // Unauthenticated: never reaches the authorizer.
    let url = format!("{}/api/v1/namespaces/test/secrets", cluster.url());
    raw("GET", &url, None).await;

    let seen: Vec<String> = cluster
        .requests()
        .iter()
        .map(|r| {
            format!(
                "{} {}/{}{} {} {}",
                r.verb,
                r.group,
                r.resource,
                r.subresource
                    .as_ref()
                    .map_or(String::new(), |s| format!("/{s}")),
                r.namespace.as_deref().unwrap_or("-"),
                r.name.as_deref().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            "patch /secrets test a",
            "create /secrets test a",
            "patch /secrets test a",
            "create /secrets test -",
            "update /secrets test b",
            "get /secrets test b",
            "list /secrets test -",
            "watch /secrets test -",
            "delete /secrets test b",
            "get apps/replicasets test missing",
            "get /pods/log test p",
        ]
    );
}

/// A bare request over TCP, with the bearer token given or none.
async fn raw(method: &str, url: &str, token: Option<&str>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let authorization =
        token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    let request = format!(
        "{method} /{path} HTTP/1.1\r\nHost: {host}\r\n{authorization}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn an_update_from_a_stale_version_is_a_409_conflict() {
    let (_cluster, client) = cluster().await;
    let secrets: Api<Secret> = Api::namespaced(client, "test");
    let created = secrets
        .create(&PostParams::default(), &secret("s"))
        .await
        .unwrap();
    let mut first = created.clone();
    first.metadata.labels = Some([("n".to_owned(), "1".to_owned())].into());
    let updated = secrets
        .replace("s", &PostParams::default(), &first)
        .await
        .unwrap();
    assert_ne!(
        updated.metadata.resource_version,
        created.metadata.resource_version
    );

    let mut stale = created;
    stale.metadata.labels = Some([("n".to_owned(), "2".to_owned())].into());
    let refused = secrets
        .replace("s", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert_eq!(code(refused), 409);
    let kept = secrets.get("s").await.unwrap();
    assert_eq!(kept.metadata.labels.unwrap()["n"], "1");

    let again = secrets
        .create(&PostParams::default(), &secret("s"))
        .await
        .unwrap_err();
    assert_eq!(code(again), 409, "a name taken");
}

#[tokio::test]
async fn apply_creates_then_updates_and_records_its_manager() {
    let (cluster, client) = cluster().await;
    let sets: Api<ReplicaSet> = Api::namespaced(client, "test");
    let set = |replicas: i32, label: &str| {
        json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "web", "labels": {"tier": label}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "web", "image": "web", "command": ["sleep", "60"]}]}},
            },
        })
    };
    let params = PatchParams::apply("bellwether").force();
    let created = sets
        .patch("web", &params, &Patch::Apply(set(0, "a")))
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let updated = sets
        .patch("web", &params, &Patch::Apply(set(0, "b")))
        .await
        .unwrap();
    assert_eq!(updated.metadata.labels.unwrap()["tier"], "b");
    assert_eq!(
        updated.metadata.generation,
        Some(1),
        "the spec did not change"
    );
    let managed = updated.metadata.managed_fields.unwrap();
    assert_eq!(managed.len(), 1);
    assert_eq!(managed[0].manager.as_deref(), Some("bellwether"));
    assert_eq!(managed[0].operation.as_deref(), Some("Apply"));
    // The ReplicaSet controller writes the status once, on its own time: an apply that changes
    // nothing is compared with the object after that.
    let deadline = tokio::time::Instant::now() + WAIT;
    let settled = loop {
        let now = sets.get("web").await.unwrap();
        if now.status.as_ref().and_then(|s| s.observed_generation) == Some(1) {
            break now;
        }
        assert!(tokio::time::Instant::now() < deadline, "no status written");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let unchanged = sets
        .patch("web", &params, &Patch::Apply(set(0, "b")))
        .await
        .unwrap();
    assert_eq!(
        unchanged.metadata.resource_version,
        settled.metadata.resource_version
    );

    cluster
        .script()
        .conflict_next_writes(Resource::ReplicaSets, 1);
    let refused = sets
        .patch("web", &params, &Patch::Apply(set(1, "b")))
        .await
        .unwrap_err();
    assert_eq!(code(refused), 409);
    let scaled = sets
        .patch("web", &params, &Patch::Apply(set(1, "b")))
        .await
        .unwrap();
    assert_eq!(scaled.spec.unwrap().replicas, Some(1));
    assert_eq!(scaled.metadata.generation, Some(2));
}

#[tokio::test]
async fn a_watch_from_a_compacted_version_is_410_gone_and_a_relist_resumes_it() {
    let (cluster, client) = cluster().await;
    let secrets: Api<Secret> = Api::namespaced(client, "test");
    let first = secrets
        .create(&PostParams::default(), &secret("a"))
        .await
        .unwrap();
    let version = first.metadata.resource_version.unwrap();
    secrets
        .create(&PostParams::default(), &secret("b"))
        .await
        .unwrap();

    let mut replayed = secrets
        .watch(&WatchParams::default(), &version)
        .await
        .unwrap()
        .boxed();
    match next_change(&mut replayed).await {
        Some(WatchEvent::Added(secret)) => assert_eq!(secret.metadata.name.as_deref(), Some("b")),
        other => panic!("expected b replayed, got {other:?}"),
    }

    cluster.script().compact();
    let mut gone = secrets
        .watch(&WatchParams::default(), &version)
        .await
        .unwrap()
        .boxed();
    match next_change(&mut gone).await {
        Some(WatchEvent::Error(status)) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"))
        }
        other => panic!("expected 410 Gone, got {other:?}"),
    }
    assert_eq!(cluster.script().gone_answered(), 1);

    let list = secrets.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 2);
    let relisted = list.metadata.resource_version.unwrap();
    let mut resumed = secrets
        .watch(&WatchParams::default(), &relisted)
        .await
        .unwrap()
        .boxed();
    secrets
        .create(&PostParams::default(), &secret("c"))
        .await
        .unwrap();
    match next_change(&mut resumed).await {
        Some(WatchEvent::Added(secret)) => assert_eq!(secret.metadata.name.as_deref(), Some("c")),
        other => panic!("expected c, got {other:?}"),
    }
}

#[tokio::test]
async fn bookmarks_carry_the_latest_version_and_a_dropped_watch_resumes_from_it() {
    let (cluster, client) = cluster().await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "test");
    let elsewhere: Api<Secret> = Api::namespaced(client, "other");
    let list = secrets.list(&ListParams::default()).await.unwrap();
    let start = list.metadata.resource_version.unwrap();
    // kube-rs asks for bookmarks by default.
    let params = WatchParams::default();
    let mut stream = secrets.watch(&params, &start).await.unwrap().boxed();
    let other = elsewhere
        .create(&PostParams::default(), &secret("x"))
        .await
        .unwrap();
    let other_version: u64 = other.metadata.resource_version.unwrap().parse().unwrap();
    let bookmark = loop {
        match tokio::time::timeout(WAIT, stream.try_next())
            .await
            .unwrap()
            .unwrap()
        {
            Some(WatchEvent::Bookmark(bookmark)) => {
                let version: u64 = bookmark.metadata.resource_version.parse().unwrap();
                if version >= other_version {
                    break bookmark.metadata.resource_version;
                }
            }
            other => panic!("only bookmarks are due, got {other:?}"),
        }
    };

    cluster.script().drop_watches();
    let ended = tokio::time::timeout(WAIT, async {
        while let Ok(Some(_)) = stream.try_next().await {}
    })
    .await;
    assert!(ended.is_ok(), "the dropped watch ends");
    secrets
        .create(&PostParams::default(), &secret("missed"))
        .await
        .unwrap();
    let mut resumed = secrets.watch(&params, &bookmark).await.unwrap().boxed();
    match next_change(&mut resumed).await {
        Some(WatchEvent::Added(secret)) => {
            assert_eq!(secret.metadata.name.as_deref(), Some("missed"))
        }
        other => panic!("expected the change made while no watch was open, got {other:?}"),
    }
}

fn sleeper_set(name: &str, replicas: i32) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "terminationGracePeriodSeconds": 5,
                    "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "600"]}],
                },
            },
        },
    })
}

async fn pods_of(pods: &Api<Pod>, app: &str) -> Vec<Pod> {
    pods.list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn deleting_an_owner_collects_its_dependents_as_its_propagation_says() {
    let (_cluster, client) = cluster().await;
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "test");
    let pods: Api<Pod> = Api::namespaced(client, "test");
    let params = PatchParams::apply("test");
    for name in ["fore", "back", "orphan"] {
        sets.patch(name, &params, &Patch::Apply(sleeper_set(name, 2)))
            .await
            .unwrap();
    }
    for name in ["fore", "back", "orphan"] {
        until("two running pods each", || async {
            let pods = pods_of(&pods, name).await;
            pods.len() == 2
                && pods
                    .iter()
                    .all(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        })
        .await;
    }

    sets.delete("fore", &DeleteParams::foreground())
        .await
        .unwrap();
    let owner = sets.get("fore").await;
    if let Ok(owner) = owner {
        assert!(
            owner.metadata.deletion_timestamp.is_some(),
            "kept while its pods go"
        );
    }
    until("the foreground owner gone after its pods", || async {
        pods_of(&pods, "fore").await.is_empty() && sets.get_opt("fore").await.unwrap().is_none()
    })
    .await;

    sets.delete("back", &DeleteParams::background())
        .await
        .unwrap();
    assert!(
        sets.get_opt("back").await.unwrap().is_none(),
        "a background owner goes at once"
    );
    until("its pods collected after it", || async {
        pods_of(&pods, "back").await.is_empty()
    })
    .await;

    sets.delete("orphan", &DeleteParams::orphan())
        .await
        .unwrap();
    assert!(sets.get_opt("orphan").await.unwrap().is_none());
    let orphans = pods_of(&pods, "orphan").await;
    assert_eq!(orphans.len(), 2);
    for pod in orphans {
        assert!(
            pod.metadata.owner_references.unwrap_or_default().is_empty(),
            "no owner left"
        );
    }
}

#[tokio::test]
async fn the_kubelet_runs_pods_on_their_own_ips_with_probes_secrets_and_logs() {
    let (_cluster, client) = cluster().await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "test");
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "test");
    let pods: Api<Pod> = Api::namespaced(client, "test");
    secrets
        .create(&PostParams::default(), &secret("creds"))
        .await
        .unwrap();
    let server = r#"
import http.server, os, sys
print("secret", os.environ["SECRET"], flush=True)
print("ip", os.environ["POD_IP"], flush=True)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/exit":
            os._exit(3)
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        print("request", self.path, flush=True)
http.server.ThreadingHTTPServer((os.environ["POD_IP"], 8080), H).serve_forever()
"#;
    let set = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{
                    "name": "web", "image": "python",
                    "command": ["python3", "-c", server],
                    "ports": [{"containerPort": 8080}],
                    "env": [
                        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                        {"name": "SECRET", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "key"}}},
                    ],
                    "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 1},
                }]},
            },
        },
    });
    sets.patch("web", &PatchParams::apply("test"), &Patch::Apply(set))
        .await
        .unwrap();
    let ready = |pod: &Pod| {
        pod.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    };
    until("two ready pods", || async {
        let pods = pods_of(&pods, "web").await;
        pods.len() == 2 && pods.iter().all(ready)
    })
    .await;
    until("the ReplicaSet's status counts them", || async {
        sets.get("web")
            .await
            .unwrap()
            .status
            .and_then(|s| s.ready_replicas)
            == Some(2)
    })
    .await;
    let running = pods_of(&pods, "web").await;
    let ips: Vec<String> = running
        .iter()
        .map(|p| p.status.as_ref().unwrap().pod_ip.clone().unwrap())
        .collect();
    assert_ne!(ips[0], ips[1], "each pod its own IP");
    for ip in &ips {
        assert!(ip.starts_with("127.") && ip != "127.0.0.1", "{ip}");
    }

    let name = running[0].metadata.name.clone().unwrap();
    let log = pods.logs(&name, &LogParams::default()).await.unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines[0], "secret value");
    assert_eq!(lines[1], format!("ip {}", ips[0]));
    assert!(lines.contains(&"request /ready"), "{log}");
    let tail = pods
        .logs(
            &name,
            &LogParams {
                tail_lines: Some(1),
                timestamps: true,
                ..LogParams::default()
            },
        )
        .await
        .unwrap();
    let (stamp, text) = tail.trim_end().split_once(' ').unwrap();
    assert!(stamp.ends_with('Z') && stamp.len() == 30, "{stamp}");
    assert_eq!(text, "request /ready");

    let mut followed = pods
        .log_stream(
            &name,
            &LogParams {
                follow: true,
                tail_lines: Some(0),
                ..LogParams::default()
            },
        )
        .await
        .unwrap();
    let url = format!("http://{}:8080/exit", ips[0]);
    let _ = tokio::time::timeout(Duration::from_secs(2), raw("GET", &url, None)).await;
    let mut rest = String::new();
    let ended = tokio::time::timeout(
        WAIT,
        futures_util::AsyncReadExt::read_to_string(&mut followed, &mut rest),
    )
    .await;
    assert!(ended.is_ok(), "following ends with the container's run");
    until("the container restarted, ready again", || async {
        let pod = pods.get(&name).await.unwrap();
        let status = pod.status.as_ref().unwrap();
        let restarts = status.container_statuses.as_ref().unwrap()[0].restart_count;
        restarts == 1 && ready(&pod)
    })
    .await;
    let previous = pods
        .logs(
            &name,
            &LogParams {
                previous: true,
                ..LogParams::default()
            },
        )
        .await
        .unwrap();
    assert!(previous.starts_with("secret value\n"), "{previous}");
}

#[tokio::test]
async fn deleting_a_pod_sends_sigterm_then_sigkill_after_its_grace_period() {
    let (_cluster, client) = cluster().await;
    let pods: Api<Pod> = Api::namespaced(client, "test");
    let dir = tempfile::tempdir().unwrap();
    // Notes SIGTERM, then goes on: only SIGKILL ends it.
    let stubborn = r#"
import os, signal, time
def noted(*_):
    open(os.path.join(os.environ["DIR"], "term"), "w").write("SIGTERM")
signal.signal(signal.SIGTERM, noted)
open(os.path.join(os.environ["DIR"], "pid"), "w").write(str(os.getpid()))
while True:
    time.sleep(0.05)
"#;
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "stubborn"},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": "main", "image": "python",
                "command": ["python3", "-c", stubborn],
                "env": [{"name": "DIR", "value": dir.path().to_str().unwrap()}],
            }],
        },
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let pid_file = dir.path().join("pid");
    until("the container running", || async { pid_file.exists() }).await;
    let pid = std::fs::read_to_string(&pid_file).unwrap();

    let asked = std::time::Instant::now();
    let marked = pods
        .delete("stubborn", &DeleteParams::default())
        .await
        .unwrap();
    let marked = marked.left().expect("the pod, marked for deletion");
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert_eq!(marked.metadata.deletion_grace_period_seconds, Some(1));
    until("the pod gone", || async {
        pods.get_opt("stubborn").await.unwrap().is_none()
    })
    .await;
    assert!(
        asked.elapsed() >= Duration::from_secs(1),
        "killed before its grace period"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("term")).unwrap(),
        "SIGTERM"
    );
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the process is gone"
    );
}

#[tokio::test]
async fn a_scripted_crash_loop_restarts_the_container_with_back_off() {
    let (cluster, client) = cluster().await;
    cluster.script().crash_loop("app=looping");
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "test");
    let pods: Api<Pod> = Api::namespaced(client, "test");
    sets.patch(
        "looping",
        &PatchParams::apply("test"),
        &Patch::Apply(sleeper_set("looping", 1)),
    )
    .await
    .unwrap();
    until("two restarts, in CrashLoopBackOff", || async {
        pods_of(&pods, "looping").await.iter().any(|pod| {
            let status = &pod.status.as_ref().unwrap().container_statuses.as_ref();
            status.is_some_and(|c| {
                let waiting = c[0].state.as_ref().and_then(|s| s.waiting.as_ref());
                c[0].restart_count >= 2
                    && !c[0].ready
                    && waiting.and_then(|w| w.reason.as_deref()) == Some("CrashLoopBackOff")
            })
        })
    })
    .await;
}

#[tokio::test]
async fn pods_scripted_without_a_process_are_ready_at_once_and_use_nothing() {
    let (cluster, client) = cluster().await;
    cluster.script().without_processes("app=hollow");
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "test");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "test");
    let metrics = pod_metrics(client);
    let mut hollow = sleeper_set("hollow", 3);
    // Nothing could run this, and nothing tries: no process means no command.
    hollow["spec"]["template"]["spec"]["containers"][0]["command"] = json!(["/nonexistent"]);
    hollow["spec"]["template"]["spec"]["containers"][0]["ports"] = json!([{"containerPort": 8080}]);
    sets.patch("hollow", &PatchParams::apply("test"), &Patch::Apply(hollow))
        .await
        .unwrap();
    until("three hollow pods running and ready", || async {
        let listed = pods_of(&pods, "hollow").await;
        listed.len() == 3
            && listed.iter().all(|pod| {
                let status = pod.status.as_ref().unwrap();
                let container = &status.container_statuses.as_ref().unwrap()[0];
                let running = container.state.as_ref().and_then(|s| s.running.as_ref());
                status.phase.as_deref() == Some("Running")
                    && status.pod_ip.is_some()
                    && container.ready
                    && container.restart_count == 0
                    && running.is_some()
            })
    })
    .await;
    let listed = pods_of(&pods, "hollow").await;
    let ips: std::collections::BTreeSet<_> = listed
        .iter()
        .map(|pod| pod.status.as_ref().unwrap().pod_ip.clone().unwrap())
        .collect();
    assert_eq!(ips.len(), 3, "each its own address: {ips:?}");
    until("their metrics, after their first second", || async {
        let list = metrics
            .list(&ListParams::default().labels("app=hollow"))
            .await;
        list.is_ok_and(|list| {
            list.items.len() == 3
                && list
                    .items
                    .iter()
                    .all(|m| usage(m, "cpu", "n") == 0.0 && usage(m, "memory", "Ki") == 0.0)
        })
    })
    .await;
    // Deleted, one goes at once: no process to stop.
    let name = listed[0].metadata.name.clone().unwrap();
    pods.delete(&name, &Default::default()).await.unwrap();
    until("the deleted pod gone", || async {
        pods.get_opt(&name).await.unwrap().is_none()
    })
    .await;
}

fn pod_metrics(client: Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("metrics.k8s.io", "v1beta1", "PodMetrics");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "pods");
    Api::namespaced_with(client, "test", &resource)
}

/// A container's usage quantity as the fake writes it: `123n` cores, `456Ki` bytes.
fn usage(metrics: &DynamicObject, what: &str, suffix: &str) -> f64 {
    let text = metrics.data["containers"][0]["usage"][what]
        .as_str()
        .unwrap();
    text.strip_suffix(suffix).unwrap().parse().unwrap()
}

#[tokio::test]
async fn pod_metrics_are_the_processes_use_and_the_group_can_be_taken_away() {
    let (cluster, client) = cluster().await;
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "test");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "test");
    let metrics = pod_metrics(client);
    let mut burner = sleeper_set("burner", 1);
    burner["spec"]["template"]["spec"]["containers"][0]["command"] =
        json!(["sh", "-c", "while :; do :; done"]);
    for set in [burner, sleeper_set("idle", 1)] {
        let name = set["metadata"]["name"].as_str().unwrap().to_owned();
        sets.patch(&name, &PatchParams::apply("test"), &Patch::Apply(set))
            .await
            .unwrap();
    }
    until("the burner measured busy, the idle pod quiet", || async {
        let busy = metrics
            .list(&ListParams::default().labels("app=burner"))
            .await;
        let quiet = metrics
            .list(&ListParams::default().labels("app=idle"))
            .await;
        let (Ok(busy), Ok(quiet)) = (busy, quiet) else {
            return false;
        };
        let cores = |list: &kube::core::ObjectList<DynamicObject>| {
            list.items.first().map(|m| usage(m, "cpu", "n") / 1e9)
        };
        busy.items.len() == 1
            && quiet.items.len() == 1
            && cores(&busy).is_some_and(|c| c > 0.3)
            && cores(&quiet).is_some_and(|c| c < 0.1)
            && usage(&busy.items[0], "memory", "Ki") > 0.0
    })
    .await;
    let idle = pods_of(&pods, "idle").await;
    let name = idle[0].metadata.name.clone().unwrap();
    let one = metrics.get(&name).await.unwrap();
    assert_eq!(one.metadata.labels.unwrap()["app"], "idle");
    assert_eq!(code(metrics.get("nobody").await.unwrap_err()), 404);

    cluster.script().metrics_api(false);
    assert_eq!(
        code(metrics.list(&ListParams::default()).await.unwrap_err()),
        404
    );
    assert_eq!(code(metrics.get(&name).await.unwrap_err()), 404);
    let asked: Vec<_> = cluster
        .requests()
        .into_iter()
        .filter(|r| r.group == "metrics.k8s.io")
        .map(|r| (r.verb, r.resource))
        .collect();
    assert!(
        asked.contains(&("list", "pods".to_owned())) && asked.contains(&("get", "pods".to_owned()))
    );
}
