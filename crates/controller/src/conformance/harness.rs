//! Running one check: a fresh platform on a fresh directory, the check bounded in time, and
//! the platform shut down whatever the check's outcome.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bellwether_core::platform::{ReplicaTemplate, ServiceState};
use bellwether_core::rollout::RevisionNumber;
use bellwether_core::spec::{Probe, RunSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::Platform;

/// How long a check may take, and how long it waits for any one thing.
const CHECK_LIMIT: Duration = Duration::from_secs(60);
pub(super) const WAIT: Duration = Duration::from_secs(20);

type MakePlatform = dyn Fn(&Path) -> Arc<dyn Platform> + Send + Sync;

/// What the suite needs of a platform: a way to make one, and a workload it can run.
pub struct Fixture {
    make: Box<MakePlatform>,
    workload: RunSpec,
}

impl Fixture {
    /// `make` builds a platform that keeps whatever it keeps under the directory it is given
    /// (inside the tests' runtime). `workload` runs a replica that serves HTTP on the port the
    /// platform gives it, answers `/health` with 200, any other path with 404 and `/exit` by
    /// exiting, and writes the line `listening` when it starts and `request <path>` for each
    /// request, each line as soon as it happens.
    pub fn new(
        make: impl Fn(&Path) -> Arc<dyn Platform> + Send + Sync + 'static,
        workload: RunSpec,
    ) -> Self {
        Self {
            make: Box::new(make),
            workload,
        }
    }
}

/// The platform a check runs against, and the templates of the workload.
pub struct Subject {
    pub platform: Arc<dyn Platform>,
    workload: RunSpec,
}

impl Subject {
    /// A revision of the workload whose readiness is probed at `readiness`, often.
    pub fn template(
        &self,
        service: &str,
        revision: RevisionNumber,
        readiness: &str,
    ) -> ReplicaTemplate {
        let mut probe = Probe::http(readiness);
        probe.interval = Duration::from_millis(100);
        ReplicaTemplate {
            service: service.to_owned(),
            revision,
            version: format!("v{revision}"),
            run: self.workload.clone(),
            readiness: probe,
            liveness: None,
            environment: None,
        }
    }
}

type Check = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs `check` on a platform the fixture makes, then shuts the platform down; a check that
/// panics or takes too long fails the test.
pub fn run(fixture: Fixture, check: impl FnOnce(Subject) -> Check) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let platform = (fixture.make)(dir.path());
        let subject = Subject {
            platform: Arc::clone(&platform),
            workload: fixture.workload,
        };
        let checked = tokio::spawn(tokio::time::timeout(CHECK_LIMIT, check(subject))).await;
        tokio::time::timeout(CHECK_LIMIT, platform.shutdown())
            .await
            .expect("the platform shuts down in time");
        match checked {
            Ok(Ok(())) => {}
            Ok(Err(_)) => panic!("the check took longer than {CHECK_LIMIT:?}"),
            Err(failed) => std::panic::resume_unwind(failed.into_panic()),
        }
    });
}

/// Waits (bounded) until the service's state satisfies `f`.
pub(super) async fn until(
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

/// The status line of `GET path` from a replica.
pub(super) async fn get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response);
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

/// Waits (bounded) until nothing answers at `addr`.
pub(super) async fn until_gone(addr: SocketAddr) {
    let gone = async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(WAIT, gone)
        .await
        .unwrap_or_else(|_| panic!("{addr} still answers"));
}
