//! `--serve-fake DIR`: the fake cluster in a process of its own, so that the control plane's
//! process holds none of it. Its kubeconfig (namespace `bench`) goes to `DIR/kubeconfig`, then
//! it says [`READY`] and serves until its stdin closes. bellwether's pods run no process.

use std::io::{Read, Write};
use std::path::Path;

use bellwether_kube_fake::FakeCluster;

/// The line the fake writes once it serves.
pub(crate) const READY: &str = "ready";

/// The label bellwether puts on every object it manages.
const MANAGED: &str = "app.kubernetes.io/managed-by=bellwether";

pub(crate) fn main(dir: &Path) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the fake's runtime: {e}"))?;
    runtime.block_on(async {
        let options = bellwether_kube_fake::Options::default();
        let cluster = FakeCluster::start(options)
            .await
            .map_err(|e| format!("the fake cluster did not start: {e}"))?;
        cluster.script().without_processes(MANAGED);
        cluster
            .write_kubeconfig(dir, "bench")
            .map_err(|e| format!("cannot write the kubeconfig: {e}"))?;
        let mut stdout = std::io::stdout();
        writeln!(stdout, "{READY}")
            .and_then(|()| stdout.flush())
            .map_err(|e| format!("cannot say the fake is ready: {e}"))?;
        tokio::task::spawn_blocking(|| {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
        })
        .await
        .map_err(|e| format!("the fake's wait for its end failed: {e}"))?;
        drop(cluster);
        Ok(())
    })
}
