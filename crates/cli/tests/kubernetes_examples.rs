//! `examples/kubernetes/` played end to end: the real `bellwether up --platform kubernetes`
//! against the fake cluster, each example as a user would write it but for what a test must
//! change (the pods' command, since the fake kubelet runs no images; Prometheus' address; pauses
//! and intervals in seconds rather than minutes), each change checked to apply.
//!
//! Seed 000's canary moves the Istio VirtualService 10 -> 25 -> 50 -> 75 -> 100 for a version
//! whose mesh metrics (served to Debian's Prometheus by a loopback exporter) are healthy, and
//! rolls back one whose requests fail. Seed 004's rolling update replaces pods one at a time
//! without dropping below three, and rolls back a version whose pods never get ready.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bellwether_kube_fake::{FakeCluster, Resource};
use serde_json::Value;
use support::{ControlPlane, cluster, json, prometheus};

/// A replica: `/ready` and `/health` answer 200, or 500 when `UNHEALTHY` is set; it listens
/// on its pod IP.
const SERVER: &str = r#"
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(500 if os.environ.get("UNHEALTHY") else 200)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer((os.environ["BELLWETHER_POD_IP"], int(os.environ["PORT"])), H).serve_forever()
"#;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/kubernetes")
}

/// The example `name` with each `(from, to)` replaced; each must be there.
fn example(name: &str, changes: &[(&str, String)]) -> String {
    let mut source = std::fs::read_to_string(examples().join(name)).expect("the example");
    for (from, to) in changes {
        assert!(source.contains(from), "{name} has no `{from}`");
        source = source.replace(from, to);
    }
    source
}

/// `image: IMAGE` followed by the command the fake kubelet runs in its place.
fn with_command(image_line: &str) -> String {
    let indent = &image_line[..image_line.len() - image_line.trim_start().len()];
    let command = serde_json::to_string(&["python3", "-c", SERVER]).expect("json");
    format!("{image_line}\n{indent}command: {command}")
}

fn validate_strict(file: &Path) {
    let outcome = support::bellwether(&["validate", "--strict", &file.to_string_lossy()], &[]);
    assert_eq!(outcome.code, 0, "{outcome:?}");
}

/// `up --platform kubernetes` on `source`, in `namespace` of `cluster`.
fn up(dir: &Path, source: &str, cluster: &FakeCluster, namespace: &str) -> ControlPlane {
    let file = dir.join("bellwether.yaml");
    std::fs::write(&file, source).expect("the project written");
    validate_strict(&file);
    cluster::up(cluster, dir, &file, namespace)
}

fn deploy(plane: &ControlPlane, service: &str, version: &str, env: &[&str]) -> i32 {
    let mut args = vec!["deploy", service, "--version", version];
    for e in env {
        args.extend(["--env", e]);
    }
    let deployed = plane.run(&args);
    assert_eq!(deployed.code, 0, "{deployed:?}");
    plane.run(&["status", service, "--timeout", "55s"]).code
}

/// Istio's telemetry of each revision of `api-service` as its sidecars report it: 1,000
/// requests a second each, all answered within 25 ms; revision 3 fails one in ten.
fn istio_metrics(started: Instant) -> String {
    let seconds = started.elapsed().as_secs_f64();
    let mut text = String::from(
        "# TYPE istio_requests_total counter\n# TYPE istio_request_duration_milliseconds histogram\n",
    );
    for revision in 1..=3 {
        let labels = format!(
            "reporter=\"destination\",destination_workload=\"api-service-r{revision}\",destination_service_name=\"api-service\""
        );
        let total = (1000.0 * seconds).floor();
        let failed = if revision == 3 {
            (total / 10.0).floor()
        } else {
            0.0
        };
        text.push_str(&format!(
            "istio_requests_total{{{labels},response_code=\"200\"}} {}\n",
            total - failed
        ));
        text.push_str(&format!(
            "istio_requests_total{{{labels},response_code=\"503\"}} {failed}\n"
        ));
        for le in ["10", "25", "50", "100", "250", "500", "+Inf"] {
            let within = if le == "10" { 0.0 } else { total };
            text.push_str(&format!(
                "istio_request_duration_milliseconds_bucket{{{labels},le=\"{le}\"}} {within}\n"
            ));
        }
        text.push_str(&format!(
            "istio_request_duration_milliseconds_sum{{{labels}}} {}\nistio_request_duration_milliseconds_count{{{labels}}} {total}\n",
            total * 20.0
        ));
    }
    text
}

/// The objects of `istio-routing.yaml`, made in the cluster as `kubectl apply` would.
fn apply_routing(cluster: &FakeCluster, namespace: &str) {
    let text = std::fs::read_to_string(examples().join("istio-routing.yaml")).expect("the file");
    let objects: Vec<Value> = serde_saphyr::from_multiple(&text).expect("YAML documents");
    assert_eq!(objects.len(), 3);
    for object in objects {
        let resource = match object["kind"].as_str() {
            Some("Service") => Resource::Services,
            Some("DestinationRule") => Resource::DestinationRules,
            Some("VirtualService") => Resource::VirtualServices,
            other => panic!("an object of kind {other:?}"),
        };
        cluster
            .create(resource, namespace, object)
            .expect("the user's object made");
    }
}

/// The `(stable, canary)` weights of the VirtualService's route `primary` at each change,
/// repeats left out.
fn virtual_service_weights(cluster: &FakeCluster, namespace: &str) -> Vec<(u64, u64)> {
    let mut weights: Vec<(u64, u64)> = cluster
        .changes(Resource::VirtualServices, namespace)
        .iter()
        .map(|change| {
            let routes = change.object["spec"]["http"].as_array().cloned();
            let primary = routes
                .unwrap_or_default()
                .into_iter()
                .find(|r| r["name"] == "primary")
                .expect("the route primary");
            let weight = |subset: &str| {
                let destinations = primary["route"].as_array().cloned().unwrap_or_default();
                destinations
                    .iter()
                    .find(|d| d["destination"]["subset"] == subset)
                    .and_then(|d| d["weight"].as_u64())
                    .unwrap_or(0)
            };
            (weight("stable"), weight("canary"))
        })
        .collect();
    weights.dedup();
    weights
}

/// The revision the DestinationRule's subset `name` selects now.
fn subset_revision(cluster: &FakeCluster, namespace: &str, name: &str) -> Value {
    let rules = cluster.objects(Resource::DestinationRules, namespace);
    let subsets = rules[0]["spec"]["subsets"].as_array().cloned();
    let subset = subsets
        .unwrap_or_default()
        .into_iter()
        .find(|s| s["name"] == name)
        .expect("the subset");
    subset["labels"]["bellwether.dev/revision"].clone()
}

#[test]
fn seed_000_canary_through_istio_is_judged_by_prometheus() {
    validate_strict(&examples().join("canary-istio.yaml"));
    let (_runtime, cluster) = cluster::start(cluster::restarting_fast());
    apply_routing(&cluster, "media");
    let started = Instant::now();
    let target = prometheus::exporter(move || istio_metrics(started));
    let prometheus = prometheus::start("istio", &target);

    let image = "      image: registry.example.com/media/api-service:1.4.0";
    let source = example(
        "canary-istio.yaml",
        &[
            (
                "http://prometheus.istio-system:9090",
                format!("http://{}", prometheus.address),
            ),
            (image, with_command(image)),
            ("pause: 2m", "pause: 1s".into()),
            ("pause: 5m", "pause: 1s".into()),
            ("pause: 10m", "pause: 1s".into()),
            ("interval: 30s", "interval: 1s".into()),
        ],
    );
    let dir = tempfile::tempdir().expect("a directory");
    let plane = up(dir.path(), &source, &cluster, "media");

    assert_eq!(
        deploy(&plane, "api-service", "v1", &[]),
        0,
        "{:#?}",
        plane.log()
    );
    assert_eq!(
        deploy(&plane, "api-service", "v2", &[]),
        0,
        "{:#?}",
        plane.log()
    );
    let view = json(&plane.run(&["get", "api-service", "-o", "json"]));
    assert_eq!(view["stable"]["version"], "v2", "{view:#}");
    let promoted = virtual_service_weights(&cluster, "media");
    assert_eq!(
        promoted,
        [(100, 0), (90, 10), (75, 25), (50, 50), (25, 75), (100, 0)],
        "v2 through its steps, then all traffic on the stable subset, now v2's"
    );
    assert_eq!(subset_revision(&cluster, "media", "stable"), "2");

    assert_eq!(
        deploy(&plane, "api-service", "v3", &[]),
        1,
        "{:#?}",
        plane.log()
    );
    let view = json(&plane.run(&["get", "api-service", "-o", "json"]));
    assert_eq!(view["stable"]["version"], "v2", "{view:#}");
    let reason = view["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("success-rate"), "{view:#}");
    let weights = virtual_service_weights(&cluster, "media");
    let after = &weights[promoted.len()..];
    assert_eq!(after.first(), Some(&(90, 10)), "{weights:?}");
    assert_eq!(after.last(), Some(&(100, 0)), "{weights:?}");
    assert_eq!(subset_revision(&cluster, "media", "stable"), "2");
    assert_eq!(subset_revision(&cluster, "media", "canary"), "3");
    plane.stop();
}

/// Each ReplicaSet's `spec.replicas` after each change of any of them, in order.
fn replica_counts(cluster: &FakeCluster, namespace: &str) -> Vec<Vec<(String, u64)>> {
    let mut now: std::collections::BTreeMap<String, u64> = Default::default();
    cluster
        .changes(Resource::ReplicaSets, namespace)
        .iter()
        .map(|change| {
            let replicas = match change.kind {
                "DELETED" => 0,
                _ => change.object["spec"]["replicas"].as_u64().unwrap_or(0),
            };
            now.insert(change.name.clone(), replicas);
            now.iter().map(|(n, r)| (n.clone(), *r)).collect()
        })
        .collect()
}

#[test]
fn seed_004_rolling_update_keeps_three_ready_and_rolls_back_a_version_never_ready() {
    validate_strict(&examples().join("rolling.yaml"));
    let (_runtime, cluster) = cluster::start(cluster::restarting_fast());
    let image = "      image: registry.example.com/isa/user-service:2.1.0";
    let source = example(
        "rolling.yaml",
        &[
            (image, with_command(image)),
            ("interval: 5s, initialDelay: 5s", "interval: 1s".into()),
            ("progressDeadline: 10m", "progressDeadline: 15s".into()),
        ],
    );
    let dir = tempfile::tempdir().expect("a directory");
    let plane = up(dir.path(), &source, &cluster, "users");

    assert_eq!(
        deploy(&plane, "user-service", "v1", &[]),
        0,
        "{:#?}",
        plane.log()
    );
    let before = replica_counts(&cluster, "users").len();
    assert_eq!(
        deploy(&plane, "user-service", "v2", &[]),
        0,
        "{:#?}",
        plane.log()
    );
    let of = |at: &Vec<(String, u64)>, name: &str| {
        at.iter().find(|(n, _)| n == name).map_or(0, |(_, r)| *r)
    };
    let counts = support::eventually(&plane, "v1 scaled down", Duration::from_secs(30), || {
        let counts = replica_counts(&cluster, "users");
        let last = counts.last()?;
        (of(last, "user-service-r1") == 0).then_some(counts)
    });
    let mut new: Vec<u64> = counts[before..]
        .iter()
        .map(|at| of(at, "user-service-r2"))
        .collect();
    new.dedup();
    assert_eq!(new, [1, 2, 3], "one new pod at a time");
    let mut old: Vec<u64> = counts[before..]
        .iter()
        .map(|at| of(at, "user-service-r1"))
        .collect();
    old.dedup();
    assert_eq!(old, [3, 2, 1, 0], "an old pod removed for each one ready");
    // A new pod is asked for only once the old one it replaces is written away: never more
    // than one pod over the three (maxSurge 1), at any change of the cluster's ReplicaSets.
    let most = counts[before..]
        .iter()
        .map(|at| of(at, "user-service-r1") + of(at, "user-service-r2"))
        .max();
    assert_eq!(most, Some(4), "{:?}", &counts[before..]);

    let code = deploy(&plane, "user-service", "v3", &["UNHEALTHY=1"]);
    assert_eq!(code, 1, "{:#?}", plane.log());
    let view = json(&plane.run(&["get", "user-service", "-o", "json"]));
    assert_eq!(view["stable"]["version"], "v2", "{view:#}");
    let last = support::eventually(&plane, "v3 scaled down", Duration::from_secs(30), || {
        let last = replica_counts(&cluster, "users").pop()?;
        (of(&last, "user-service-r3") == 0).then_some(last)
    });
    assert_eq!(of(&last, "user-service-r2"), 3, "{last:?}");
    plane.stop();
}
