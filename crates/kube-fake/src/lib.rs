//! A scripted fake Kubernetes cluster for tests and benchmarks, in-process on a loopback port:
//! an API server speaking the REST API for Pods, Secrets, ReplicaSets, Services, Ingresses,
//! Gateway API HTTPRoutes and Istio VirtualServices and DestinationRules of any namespace
//! (`api.rs`; objects and their history in `store.rs`) and the metrics API's PodMetrics, each
//! pod's CPU and memory read from its process (`api/metrics.rs`, `usage.rs`), the two
//! controllers a cluster runs for them (`replicaset.rs`, and the garbage collector,
//! `collector.rs`), and a kubelet that runs each pod's container as a local process on a
//! loopback address of its own (`kubelet.rs`), or as none where a script says so. A client reaches it through a kubeconfig, so the code under test takes the
//! same path as against a real cluster. Faults are scripted through [`Script`]; every request
//! is recorded as Kubernetes' authorizer sees it ([`FakeCluster::requests`]), so a test can hold
//! a Role to what a client asked.
//!
//! What it does not play: images (a container's `command` and `args` run on this machine),
//! more than one container per pod, scheduling, field ownership conflicts between managers,
//! `$(VAR)` expansion, strategic merge patches, a data plane (Services, Ingresses and routes are
//! kept as objects, nothing routes by them), node metrics and any resource besides those
//! eight and PodMetrics.

mod api;
mod apply;
mod collector;
mod kubelet;
mod logs;
mod replicaset;
mod requests;
mod resource;
mod script;
mod status;
mod store;
mod time;
mod usage;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::serve::ListenerExt;

use serde_json::Value;
use tokio::task::JoinHandle;

pub use requests::ApiRequest;
pub use resource::Resource;
pub use script::Script;

/// One change the API server made to an object, as [`FakeCluster::changes`] reads it back.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// Its resourceVersion: changes of every resource are ordered by it.
    pub seq: u64,
    pub name: String,
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub kind: &'static str,
    /// The object after the change (before it, for a deletion).
    pub object: Value,
}

/// How the fake cluster behaves where a real one is configured.
#[derive(Clone, Debug)]
pub struct Options {
    /// How often a watch that allows bookmarks gets one (Kubernetes: about a minute).
    pub bookmark_interval: Duration,
    /// The kubelet's first restart back-off, doubled on each restart (Kubernetes: 10 s).
    pub restart_backoff: Duration,
    /// The longest restart back-off (Kubernetes: 5 min).
    pub max_backoff: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            bookmark_interval: Duration::from_secs(1),
            restart_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// A running fake cluster; dropping it stops the API server, and its pods' processes with
/// the runtime's tasks.
pub struct FakeCluster {
    address: SocketAddr,
    token: String,
    script: Script,
    store: store::Store,
    requests: requests::Requests,
    connections: Arc<AtomicU64>,
    tasks: Vec<JoinHandle<()>>,
}

impl FakeCluster {
    /// Starts a cluster on an ephemeral loopback port, on the current tokio runtime.
    pub async fn start(options: Options) -> std::io::Result<Self> {
        let store = store::Store::new(time::Now);
        let script = Script::new(store.clone());
        let logs = logs::Logs::default();
        let token = format!("fake-{}", api::suffix());
        let requests = requests::Requests::default();
        let usage = usage::Usage::default();
        let state = api::Api {
            store: store.clone(),
            script: script.clone(),
            logs: logs.clone(),
            token: token.clone(),
            bookmark_interval: options.bookmark_interval,
            requests: requests.clone(),
            usage: usage.clone(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let connections = Arc::new(AtomicU64::new(0));
        let accepted = Arc::clone(&connections);
        let listener = listener.tap_io(move |_| {
            accepted.fetch_add(1, Ordering::Relaxed);
        });
        let app = axum::Router::new().fallback(api::serve).with_state(state);
        let timing = kubelet::Timing {
            restart_backoff: options.restart_backoff,
            max_backoff: options.max_backoff,
        };
        let tasks = vec![
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            }),
            tokio::spawn(replicaset::run(store.clone())),
            tokio::spawn(collector::run(store.clone())),
            tokio::spawn(kubelet::run(
                store.clone(),
                script.clone(),
                logs,
                usage,
                timing,
            )),
        ];
        Ok(Self {
            address,
            token,
            script,
            store,
            requests,
            connections,
            tasks,
        })
    }

    /// The API server's URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The bearer token every request must present.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// A kubeconfig for this cluster, its context's namespace `namespace`.
    pub fn kubeconfig(&self, namespace: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\nusers:\n- name: fake\n  user:\n    token: {}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: {namespace}\ncurrent-context: fake\n",
            self.url(),
            self.token
        )
    }

    /// Writes [`kubeconfig`](Self::kubeconfig) to `dir/kubeconfig` and returns its path.
    pub fn write_kubeconfig(&self, dir: &Path, namespace: &str) -> std::io::Result<PathBuf> {
        let path = dir.join("kubeconfig");
        std::fs::write(&path, self.kubeconfig(namespace))?;
        Ok(path)
    }

    pub fn script(&self) -> &Script {
        &self.script
    }

    /// Every change of `resource`'s objects in `namespace` (pods excepted) since the cluster
    /// started, in the order the API server made them.
    pub fn changes(&self, resource: Resource, namespace: &str) -> Vec<Recorded> {
        let changes = self.changes_of(&[resource], namespace).into_iter();
        changes.map(|(_, recorded)| recorded).collect()
    }

    /// Every change in `namespace` (pods excepted), in order, of any of `resources`.
    pub fn changes_of(&self, resources: &[Resource], namespace: &str) -> Vec<(Resource, Recorded)> {
        self.store
            .journal()
            .iter()
            .filter(|c| resources.contains(&c.key.resource) && c.key.namespace == namespace)
            .map(|c| {
                let recorded = Recorded {
                    seq: c.rv,
                    name: c.key.name.clone(),
                    kind: c.kind.as_str(),
                    object: c.object.clone(),
                };
                (c.key.resource, recorded)
            })
            .collect()
    }

    /// Creates `object` (named by its `metadata.name`) as a user would have beforehand, e.g.
    /// the HTTPRoute a service's traffic is routed by; an error says why not.
    pub fn create(
        &self,
        resource: Resource,
        namespace: &str,
        object: Value,
    ) -> Result<Value, String> {
        let name = object["metadata"]["name"]
            .as_str()
            .ok_or("the object has no metadata.name")?;
        let key = resource::Key {
            resource,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        };
        self.store
            .create(key, object)
            .map_err(|status| status.message)
    }

    /// Every authenticated request served so far, in order, as Kubernetes' authorizer sees it;
    /// a server-side apply that created its object counts as a `patch` and a `create`.
    pub fn requests(&self) -> Vec<ApiRequest> {
        self.requests.all()
    }

    /// How many connections the API server accepted so far: a client holds one per request in
    /// flight, and keeps it for the next.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// The objects of `resource` in `namespace` as the API server holds them now.
    pub fn objects(&self, resource: Resource, namespace: &str) -> Vec<Value> {
        self.store
            .list(resource, Some(namespace), &store::Selector::default())
            .0
    }
}

impl Drop for FakeCluster {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
