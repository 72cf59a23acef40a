//! The kubernetes platform on a fake cluster of its own, reached through a kubeconfig as a
//! real one would be: the platform's code path is production's.

#![allow(dead_code, unreachable_pub)] // each test file uses its own part of the harness

pub mod plane;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bellwether_controller::Platform;
use bellwether_core::platform::{LogLine, LogQuery, ReplicaTemplate, SecretSource, ServiceState};
use bellwether_core::rollout::RevisionNumber;
use bellwether_core::signal::{ResourceSample, ResourceSource};
use bellwether_core::spec::RunSpec;
use bellwether_kube_fake::FakeCluster;
use bellwether_platform_kubernetes::{KubernetesPlatform, Options, connect};
use tokio::sync::{mpsc, watch};

/// The workload: `/health` 200, `/exit` exits, anything else 404; a line at start and one per
/// request; it listens on its pod's IP.
pub const WORKLOAD: &str = r#"
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/exit":
            os._exit(1)
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
    def log_message(self, *args):
        print("request", self.path, flush=True)
for name in os.environ.get("PRINT", "").split():
    print(name, os.environ[name], flush=True)
print("listening", flush=True)
address = (os.environ["BELLWETHER_POD_IP"], int(os.environ["PORT"]))
http.server.ThreadingHTTPServer(address, H).serve_forever()
"#;

pub fn workload() -> RunSpec {
    RunSpec {
        command: vec!["python3".into(), "-c".into(), WORKLOAD.into()],
        env: Default::default(),
        workdir: None,
        port_env: "PORT".into(),
        image: Some("python:3".into()),
        secrets: Vec::new(),
    }
}

/// Every secret's value is `value-of-NAME`.
#[derive(Debug)]
pub struct Secrets;

impl SecretSource for Secrets {
    fn values(
        &self,
        _: Option<&str>,
        names: &[String],
    ) -> Result<BTreeMap<String, String>, String> {
        Ok(names
            .iter()
            .map(|n| (n.clone(), format!("value-of-{n}")))
            .collect())
    }
}

/// A platform and the cluster it runs on, which lives as long as it.
pub struct OnFakeCluster {
    pub platform: KubernetesPlatform,
    pub cluster: FakeCluster,
}

/// Starts a fake cluster and a platform on it (inside the tests' multi-threaded runtime).
pub fn on_fake_cluster(dir: &Path, adjust: impl FnOnce(&mut Options)) -> Arc<OnFakeCluster> {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(start(dir, adjust)))
}

pub async fn start(dir: &Path, adjust: impl FnOnce(&mut Options)) -> Arc<OnFakeCluster> {
    let fake = bellwether_kube_fake::Options {
        restart_backoff: Duration::from_millis(200),
        bookmark_interval: Duration::from_millis(200),
        ..bellwether_kube_fake::Options::default()
    };
    let cluster = FakeCluster::start(fake).await.expect("a fake cluster");
    let platform = platform_on(&cluster, dir, adjust).await;
    Arc::new(OnFakeCluster { platform, cluster })
}

/// Another platform (a control plane) on the same cluster.
pub async fn platform_on(
    cluster: &FakeCluster,
    dir: &Path,
    adjust: impl FnOnce(&mut Options),
) -> KubernetesPlatform {
    let kubeconfig = cluster
        .write_kubeconfig(dir, "bellwether")
        .expect("the kubeconfig written");
    let connection = connect(Some(&kubeconfig), None).await.expect("connected");
    let mut options = Options::new(connection.namespace);
    options.grace_period = Duration::from_secs(2);
    options.keep_scaled_down = Duration::from_secs(1);
    adjust(&mut options);
    KubernetesPlatform::new(connection.client, options)
}

impl ResourceSource for OnFakeCluster {
    fn resources(
        &self,
        service: &str,
        revision: RevisionNumber,
        window: Duration,
    ) -> Option<ResourceSample> {
        self.platform.resources(service, revision, window)
    }
}

impl Platform for OnFakeCluster {
    fn scale(&self, template: &ReplicaTemplate, replicas: u32) {
        self.platform.scale(template, replicas);
    }

    fn watch(&self, service: &str) -> watch::Receiver<ServiceState> {
        self.platform.watch(service)
    }

    fn logs(
        &self,
        service: &str,
        query: LogQuery,
        stop: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> mpsc::Receiver<Vec<LogLine>> {
        self.platform.logs(service, query, stop)
    }

    fn reap_unclaimed(&self) {
        self.platform.reap_unclaimed();
    }

    fn abandon(&self) {
        self.platform.abandon();
    }

    fn shutdown(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        self.platform.shutdown()
    }
}
