//! The `cpu` metric on the kubernetes platform, end to end: `bellwether up --platform
//! kubernetes` against the fake cluster, whose metrics API measures each pod's processes. A
//! canary that burns a core is rolled back by `cpu <= 25%` and a quiet one promoted; on a
//! cluster without the metrics API (no metrics-server) `up` says so once, and the metric has
//! no data, which the analysis's `inconclusive: pass` lets through, as on the local platform.

mod support;

use std::path::{Path, PathBuf};

use bellwether_kube_fake::{FakeCluster, Options};
use support::{ControlPlane, cluster, json};

/// A replica: `/health` answers 200; with `BURN` set, a child of its process burns a core.
const SERVER: &str = r#"
import http.server, os, subprocess, sys
if os.environ.get("BURN"):
    subprocess.Popen([sys.executable, "-c", "while True: pass"])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer((os.environ["BELLWETHER_POD_IP"], int(os.environ["PORT"])), H).serve_forever()
"#;

fn project(dir: &Path) -> PathBuf {
    let file = dir.join("bellwether.yaml");
    let yaml = format!(
        r#"services:
  shop:
    replicas: 1
    listen: "127.0.0.1:0"
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
      interval: 500ms
      inconclusive: pass
      metrics: ["cpu <= 25%"]
"#,
        server = serde_json::to_string(SERVER).unwrap()
    );
    std::fs::write(&file, yaml).unwrap();
    file
}

/// A fake cluster (on a runtime of its own, kept with it) and `up` on it.
fn up(
    serves_metrics: bool,
) -> (
    tokio::runtime::Runtime,
    FakeCluster,
    ControlPlane,
    tempfile::TempDir,
) {
    let (runtime, cluster) = cluster::start(Options::default());
    cluster.script().metrics_api(serves_metrics);
    let dir = tempfile::tempdir().unwrap();
    let plane = cluster::up(&cluster, dir.path(), &project(dir.path()), "shop-ns");
    (runtime, cluster, plane, dir)
}

/// Deploys `version` (with `env`) and waits for its rollout to end with `code`.
fn deploy(plane: &ControlPlane, version: &str, env: &[&str], code: i32) -> serde_json::Value {
    let mut args = vec!["deploy", "shop", "--version", version];
    for pair in env {
        args.extend(["--env", pair]);
    }
    let deployed = plane.run(&args);
    assert_eq!(deployed.code, 0, "{deployed:?}");
    let status = plane.run(&["status", "shop", "--timeout", "120s"]);
    assert_eq!(
        status.code,
        code,
        "{version}: {status:?}\n{:#?}",
        plane.log()
    );
    json(&plane.run(&["get", "shop", "-o", "json"]))
}

#[test]
fn a_canary_that_burns_cpu_is_rolled_back_and_a_quiet_one_promoted() {
    let (_runtime, _cluster, plane, _dir) = up(true);
    deploy(&plane, "v1", &[], 0);

    let view = deploy(&plane, "v2", &["BURN=1"], 1);
    assert_eq!(view["stable"]["version"], "v1", "{view:#}");
    let reason = view["reason"].as_str().unwrap();
    assert!(
        reason.contains("cpu") && reason.contains("> 25%"),
        "{view:#}"
    );

    let view = deploy(&plane, "v3", &[], 0);
    assert_eq!(view["stable"]["version"], "v3", "{view:#}");
    let log = plane.stop();
    assert!(
        !log.iter().any(|l| l.contains("metrics API")),
        "nothing said of a metrics API that answers: {log:#?}"
    );
}

#[test]
fn without_a_metrics_api_up_says_so_once_and_the_metric_has_no_data() {
    let (_runtime, _cluster, plane, _dir) = up(false);
    deploy(&plane, "v1", &[], 0);
    let view = deploy(&plane, "v2", &["BURN=1"], 0);
    assert_eq!(view["stable"]["version"], "v2", "{view:#}");
    let history = plane.run(&["history", "shop"]).stdout;
    assert!(
        history.contains("cpu not judged: no data for the canary")
            && history.contains("inconclusive, so passed as `inconclusive: pass` asks"),
        "{history}"
    );
    let log = plane.stop();
    let said: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("the cluster serves no metrics API"))
        .collect();
    assert_eq!(said.len(), 1, "said once: {log:#?}");
    assert!(said[0].contains("is metrics-server installed?"), "{said:?}");
}
