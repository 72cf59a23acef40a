//! A fake Kubernetes cluster for the tests that run `up --platform kubernetes` on it: the
//! real client, through a kubeconfig, against an API server and kubelet of the test's own.

use std::path::Path;
use std::time::Duration;

use bellwether_kube_fake::{FakeCluster, Options};
use tokio::runtime::Runtime;

use super::ControlPlane;

/// A cluster whose kubelet restarts a crashed container after 200 ms rather than its default.
pub fn restarting_fast() -> Options {
    Options {
        restart_backoff: Duration::from_millis(200),
        ..Options::default()
    }
}

/// A fake cluster on a runtime of its own, which must be kept as long as the cluster.
pub fn start(options: Options) -> (Runtime, FakeCluster) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let cluster = runtime
        .block_on(FakeCluster::start(options))
        .expect("a fake cluster");
    (runtime, cluster)
}

/// `up --platform kubernetes` on `file`, in `namespace` of `cluster` as its kubeconfig's
/// context names it (the kubeconfig written to `dir`).
pub fn up(cluster: &FakeCluster, dir: &Path, file: &Path, namespace: &str) -> ControlPlane {
    let kubeconfig = cluster
        .write_kubeconfig(dir, namespace)
        .expect("a kubeconfig");
    ControlPlane::start_with(
        file,
        &[
            "--platform",
            "kubernetes",
            "--kubeconfig",
            &kubeconfig.to_string_lossy(),
        ],
    )
}
