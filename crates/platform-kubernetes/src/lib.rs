//! The kubernetes platform: each revision of a service a ReplicaSet in one namespace, written
//! with server-side apply under bellwether's field manager (`writer.rs`, from the objects
//! `template.rs` makes), its pods watched for readiness and addresses (`watcher.rs` feeding
//! `pods.rs`), their logs read from the API (`logs.rs`), their CPU and memory for the `cpu` and
//! `memory` metrics from the metrics API, `metrics.k8s.io` (`metrics.rs`, its quantities read
//! by `quantity.rs`). `connect.rs` finds the cluster: a kubeconfig, or the pod's service account
//! when bellwether runs in the cluster.

mod connect;
#[cfg(test)]
mod golden;
mod logs;
mod metrics;
mod names;
mod platform;
mod pods;
mod quantity;
mod shared;
mod template;
mod traffic;
mod watcher;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use bellwether_core::platform::SecretSource;

pub use connect::{ConnectError, Connection, connect};
pub use platform::KubernetesPlatform;
pub use template::TemplateError;
pub use traffic::KubernetesTraffic;

/// How the platform runs revisions in its namespace.
#[derive(Clone, Debug)]
pub struct Options {
    pub namespace: String,
    /// The field manager of every server-side apply.
    pub field_manager: String,
    /// The port every pod's container listens on (its IP is its own): the service's port
    /// variable says this number, and probes and the router use it.
    pub container_port: u16,
    /// How long a pod has between SIGTERM and SIGKILL (`terminationGracePeriodSeconds`).
    pub grace_period: Duration,
    /// How long a revision scaled to no pods keeps its ReplicaSet (and Secret) before they
    /// are deleted, so that a quick way back finds them.
    pub keep_scaled_down: Duration,
    /// Where the values of a revision's secrets come from, when it names any.
    pub secrets: Option<Arc<dyn SecretSource>>,
}

impl Options {
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            field_manager: "bellwether".into(),
            container_port: 8080,
            grace_period: Duration::from_secs(30),
            keep_scaled_down: Duration::from_secs(600),
            secrets: None,
        }
    }
}
