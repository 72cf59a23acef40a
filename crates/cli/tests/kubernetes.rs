//! `bellwether up --platform kubernetes` end to end on a fake cluster (no real one can run
//! here; the client's code path is production's, through the kubeconfig): each revision of a
//! service a ReplicaSet whose pods are Python HTTP servers run by the fake kubelet on pod IPs
//! of their own, traffic through the embedded router to those IPs, a healthy canary promoted
//! (through conflicts on its writes and watches dropped and compacted away) and a failing one
//! rolled back, and every pod gone once `up` stops; a canary routed by the cluster's own
//! HTTPRoute, and `up` on the local platform refusing one.

mod support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use bellwether_kube_fake::{FakeCluster, Options, Resource};
use support::{COMMAND, ControlPlane, cluster, eventually, json};

/// A replica: `GET /` answers with its version and pod IP (500 when `FAIL` is set), `/health`
/// 200; it listens on its pod IP.
const SERVER: &str = r#"
import http.server, os
ip, version = os.environ["BELLWETHER_POD_IP"], os.environ["BELLWETHER_VERSION"]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        failing = self.path == "/" and os.environ.get("FAIL")
        body = f"{version} at {ip}\n".encode()
        self.send_response(500 if failing else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
print("serving", version, "on", ip, flush=True)
http.server.ThreadingHTTPServer((ip, int(os.environ["PORT"])), H).serve_forever()
"#;

fn project(dir: &Path, listen: SocketAddr) -> PathBuf {
    let file = dir.join("bellwether.yaml");
    let yaml = format!(
        r#"services:
  shop:
    replicas: 2
    listen: "{listen}"
    run:
      image: "shop:latest"
      command: ["python3", "-c", {server}]
    health: /health
    strategy:
      canary:
        steps:
          - setWeight: 50
          - pause: 4s
    analysis:
      interval: 200ms
      metrics: ["error_rate <= 1%"]
"#,
        server = serde_json::to_string(SERVER).unwrap()
    );
    std::fs::write(&file, yaml).unwrap();
    file
}

fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap()
}

/// Clients sending `GET /` through the router until stopped; the bodies of the 200s.
struct Load {
    stop: Arc<AtomicBool>,
    answers: Arc<Mutex<Vec<String>>>,
    client: JoinHandle<()>,
}

impl Load {
    fn start(addr: SocketAddr) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let answers = Arc::new(Mutex::new(Vec::new()));
        let (stopping, kept) = (Arc::clone(&stop), Arc::clone(&answers));
        let client = thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                if let Ok(answer) = get(addr)
                    && let Some(body) = answer.strip_prefix("HTTP/1.1 200 ")
                {
                    let body = body.rsplit("\r\n\r\n").next().unwrap_or_default();
                    kept.lock().unwrap().push(body.trim().to_owned());
                }
                thread::sleep(Duration::from_millis(5));
            }
        });
        Self {
            stop,
            answers,
            client,
        }
    }

    fn stop(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        self.client.join().unwrap();
        std::mem::take(&mut *self.answers.lock().unwrap())
    }
}

fn get(addr: SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(b"GET / HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n")?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

fn pod_ips(cluster: &FakeCluster) -> BTreeSet<String> {
    cluster
        .objects(Resource::Pods, "shop-ns")
        .iter()
        .filter_map(|p| p["status"]["podIP"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn a_canary_on_kubernetes_is_promoted_and_a_failing_one_rolled_back() {
    let (_runtime, cluster) = cluster::start(cluster::restarting_fast());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = cluster.write_kubeconfig(dir.path(), "default").unwrap();
    let listen = free_addr();
    let plane = ControlPlane::start_with(
        &project(dir.path(), listen),
        &[
            "--platform",
            "kubernetes",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--namespace",
            "shop-ns",
        ],
    );

    let deploy = plane.run(&["deploy", "shop", "--version", "v1"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    let status = plane.run(&["status", "shop", "--timeout", "120s"]);
    assert_eq!(status.code, 0, "{status:?}\n{:#?}", plane.log());
    let sets = cluster.objects(Resource::ReplicaSets, "shop-ns");
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0]["metadata"]["name"], "shop-r1");
    assert_eq!(
        sets[0]["spec"]["template"]["spec"]["containers"][0]["image"],
        "shop:latest"
    );

    let load = Load::start(listen);
    // While v2 rolls out, its writes meet conflicts and the watches keep being dropped with
    // their history compacted away (every resume is 410 Gone): nothing is lost.
    let script = cluster.script().clone();
    script.conflict_next_writes(Resource::ReplicaSets, 2);
    let faults_on = Arc::new(AtomicBool::new(true));
    let faulting = Arc::clone(&faults_on);
    let faults = thread::spawn(move || {
        while faulting.load(Ordering::Relaxed) {
            script.compact();
            script.drop_watches();
            thread::sleep(Duration::from_millis(500));
        }
    });
    let deploy = plane.run(&["deploy", "shop", "--version", "v2"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    let status = plane.run(&["status", "shop", "--timeout", "120s"]);
    faults_on.store(false, Ordering::Relaxed);
    faults.join().unwrap();
    assert_eq!(status.code, 0, "{status:?}\n{:#?}", plane.log());
    assert!(cluster.script().gone_answered() > 0, "the faults were met");
    let ips = pod_ips(&cluster);
    let view = json(&plane.run(&["get", "shop", "-o", "json"]));
    assert_eq!(view["stable"]["version"], "v2", "{view:#}");

    let deploy = plane.run(&["deploy", "shop", "--version", "v3", "--env", "FAIL=1"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    let status = plane.run(&["status", "shop", "--timeout", "120s"]);
    assert_eq!(status.code, 1, "{status:?}\n{:#?}", plane.log());
    let view = json(&plane.run(&["get", "shop", "-o", "json"]));
    assert_eq!(view["stable"]["version"], "v2", "{view:#}");
    assert!(
        view["reason"].as_str().unwrap().contains("error_rate"),
        "{view:#}"
    );

    let answers = load.stop();
    let from = |version: &str| -> Vec<&String> {
        answers
            .iter()
            .filter(|a| a.starts_with(&format!("{version} at ")))
            .collect()
    };
    assert!(
        !from("v1").is_empty() && !from("v2").is_empty(),
        "{answers:?}"
    );
    for answer in from("v1").into_iter().chain(from("v2")) {
        let ip = answer.rsplit(' ').next().unwrap();
        assert_ne!(ip, "127.0.0.1", "a pod's own IP");
        assert!(ip.starts_with("127."), "{answer}");
    }
    assert!(
        from("v2")
            .iter()
            .any(|a| ips.contains(a.rsplit(' ').next().unwrap())),
        "v2's answers came from its pods {ips:?}: {answers:?}"
    );

    plane.stop();
    let left = cluster.objects(Resource::Pods, "shop-ns");
    assert!(
        left.is_empty(),
        "up deleted its pods on the way out: {left:#?}"
    );
    assert!(cluster.objects(Resource::ReplicaSets, "shop-ns").is_empty());
}

#[test]
fn up_says_why_it_cannot_reach_a_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let file = project(dir.path(), free_addr());
    let file = file.to_str().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let missing = dir.path().join("missing-kubeconfig");
    let missing = missing.to_str().unwrap();
    let unreadable = support::bellwether(
        &[
            "up",
            "-f",
            file,
            "--data-dir",
            data,
            "--listen",
            "127.0.0.1:0",
            "--platform",
            "kubernetes",
            "--kubeconfig",
            missing,
        ],
        &[],
    );
    assert_eq!(unreadable.code, 1, "{unreadable:?}");
    assert!(
        unreadable
            .stderr
            .contains(&format!("cannot read the kubeconfig {missing}")),
        "{unreadable:?}"
    );

    let local = support::bellwether(
        &[
            "up",
            "-f",
            file,
            "--data-dir",
            data,
            "--namespace",
            "shop-ns",
        ],
        &[],
    );
    assert_eq!(local.code, 2, "a usage error: {local:?}");
    assert!(
        local
            .stderr
            .contains("--kubeconfig and --namespace are for --platform kubernetes"),
        "{local:?}"
    );
}

/// A service routed by a Gateway API HTTPRoute, its canary at 50% then promoted.
fn routed_project(dir: &Path) -> PathBuf {
    let file = dir.join("bellwether.yaml");
    let yaml = format!(
        r#"services:
  shop:
    run:
      image: "shop:latest"
      command: ["python3", "-c", {server}]
    health: /health
    strategy:
      canary:
        scaleDownDelay: 0s
        steps:
          - setWeight: 50
          - pause: 1s
    trafficRouting:
      plugins:
        argoproj-labs/gatewayAPI: {{httpRoute: shop-route}}
"#,
        server = serde_json::to_string(SERVER).unwrap()
    );
    std::fs::write(&file, yaml).unwrap();
    file
}

/// The user's HTTPRoute `shop-route`, routing to `shop-stable`, made in the cluster.
fn make_route(cluster: &FakeCluster) {
    let route = serde_json::json!({
        "metadata": {"name": "shop-route"},
        "spec": {
            "parentRefs": [{"name": "edge"}],
            "rules": [{"backendRefs": [{"name": "shop-stable", "port": 8080}]}],
        },
    });
    cluster
        .create(Resource::HttpRoutes, "shop-ns", route)
        .unwrap();
}

/// `up` on the cluster with [`routed_project`] in `dir`.
fn routed_plane(cluster: &FakeCluster, dir: &Path) -> ControlPlane {
    cluster::up(cluster, dir, &routed_project(dir), "shop-ns")
}

/// The weights of the HTTPRoute's backends at each of its changes, repeats left out.
fn route_weights(cluster: &FakeCluster) -> Vec<Vec<(String, u64)>> {
    let mut steps: Vec<Vec<(String, u64)>> = cluster
        .changes(Resource::HttpRoutes, "shop-ns")
        .iter()
        .map(|c| {
            let refs = c.object["spec"]["rules"][0]["backendRefs"]
                .as_array()
                .cloned();
            refs.unwrap_or_default()
                .iter()
                .map(|b| {
                    (
                        b["name"].as_str().unwrap_or_default().to_owned(),
                        b["weight"].as_u64().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .collect();
    steps.dedup();
    steps
}

#[test]
fn a_canary_on_kubernetes_is_routed_by_the_clusters_http_route() {
    let (_runtime, cluster) = cluster::start(Options::default());
    make_route(&cluster);
    let dir = tempfile::tempdir().unwrap();
    let plane = routed_plane(&cluster, dir.path());
    for version in ["v1", "v2"] {
        let deploy = plane.run(&["deploy", "shop", "--version", version]);
        assert_eq!(deploy.code, 0, "{deploy:?}");
        let status = plane.run(&["status", "shop", "--timeout", "120s"]);
        assert_eq!(status.code, 0, "{status:?}\n{:#?}", plane.log());
    }
    let stable = |w| vec![("shop-stable".to_owned(), w)];
    let half = vec![
        ("shop-stable".to_owned(), 5000),
        ("shop-canary".to_owned(), 5000),
    ];
    assert_eq!(
        route_weights(&cluster),
        [
            vec![("shop-stable".to_owned(), 0)],
            stable(10_000),
            half,
            stable(10_000)
        ],
        "the user's route, then v1, v2 at 50% and v2 promoted"
    );
    let services = cluster.objects(Resource::Services, "shop-ns");
    let selected = |name: &str| {
        let service = services.iter().find(|s| s["metadata"]["name"] == name);
        service.map(|s| s["spec"]["selector"]["bellwether.dev/revision"].clone())
    };
    assert_eq!(selected("shop-stable"), Some(serde_json::json!("2")));
    assert_eq!(selected("shop-canary"), Some(serde_json::json!("2")));
    plane.stop();
}

/// The HTTPRoute a service names is not there yet: `get` says why the cluster does not route
/// as the rollout stands, the rollout waits for it (no pod is asked for before its traffic can
/// be routed), and goes on once the route is made.
#[test]
fn a_missing_http_route_is_shown_and_the_rollout_waits_for_it() {
    let (_runtime, cluster) = cluster::start(Options::default());
    let dir = tempfile::tempdir().unwrap();
    let plane = routed_plane(&cluster, dir.path());
    let deploy = plane.run(&["deploy", "shop", "--version", "v1"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    let pending = eventually(&plane, "the route's failure in the view", COMMAND, || {
        let view = json(&plane.run(&["get", "shop", "-o", "json"]));
        view["routing_pending"].as_str().map(str::to_owned)
    });
    assert!(
        pending.contains("cannot route the traffic with a Gateway API HTTPRoute")
            && pending.contains("shop-route"),
        "{pending}"
    );
    let shown = plane.run(&["get", "shop"]);
    assert!(shown.stdout.contains("Not routed"), "{shown:?}");
    assert!(
        cluster.objects(Resource::ReplicaSets, "shop-ns").is_empty(),
        "pods asked for before their traffic can be routed"
    );

    make_route(&cluster);
    let status = plane.run(&["status", "shop", "--timeout", "120s"]);
    assert_eq!(status.code, 0, "{status:?}\n{:#?}", plane.log());
    let view = json(&plane.run(&["get", "shop", "-o", "json"]));
    assert_eq!(view["routing_pending"], serde_json::Value::Null, "{view:#}");
    assert_eq!(
        route_weights(&cluster).last(),
        Some(&vec![("shop-stable".to_owned(), 10_000)])
    );
    plane.stop();
}

#[test]
fn up_on_the_local_platform_refuses_a_service_routed_by_the_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let file = routed_project(dir.path());
    let data = dir.path().join("data");
    let refused = support::bellwether(
        &[
            "up",
            "-f",
            file.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains("service `shop` routes its traffic with a Gateway API HTTPRoute (`trafficRouting`), which only the kubernetes platform writes"),
        "{refused:?}"
    );
}
