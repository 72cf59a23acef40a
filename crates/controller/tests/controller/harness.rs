//! A control plane in a temporary directory running `support/service.py` as its replicas, a
//! steady client load through a router, and waiting on what the API shows.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bellwether_api::{DeployRequest, HistoryEntry, ServiceView};
use bellwether_controller::{ControlPlane, Options};
use bellwether_core::spec::Project;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, interval, sleep, timeout};

/// Every test ends within this, whatever happens to the processes it runs.
pub(crate) const TEST_LIMIT: Duration = Duration::from_secs(90);

/// Runs a test body with the overall time limit.
pub(crate) async fn bounded(body: impl Future<Output = ()>) {
    timeout(TEST_LIMIT, body)
        .await
        .expect("the test did not finish in time");
}

/// The path of the test service.
pub(crate) fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/service.py")
}

/// A `bellwether.yaml` lowered, with `{script}` standing for the test service's path.
pub(crate) fn project(yaml: &str) -> Project {
    let source = yaml.replace("{script}", &script().display().to_string());
    match bellwether_config::load("bellwether.yaml", &source) {
        Ok(loaded) => loaded.project,
        Err(diagnostics) => panic!("{diagnostics}"),
    }
}

/// A data directory whose replicas are killed when it goes, whatever the test left running.
pub(crate) struct DataDir {
    dir: tempfile::TempDir,
}

impl DataDir {
    pub(crate) fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) async fn start(&self, project: Project) -> ControlPlane {
        ControlPlane::start(Options {
            data_dir: self.path().join("data"),
            base_dir: self.path().to_owned(),
            project,
            secrets: None,
        })
        .await
        .expect("the control plane starts")
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        // Replica state files name each process group a control plane left behind.
        let mut dirs = vec![self.path().join("data/replicas")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let record = std::fs::read(&path).ok();
                let pid = record
                    .and_then(|r| serde_json::from_slice::<serde_json::Value>(&r).ok())
                    .and_then(|r| r["pid"].as_u64());
                if let Some(pid) = pid {
                    let _ = std::process::Command::new("kill")
                        .args(["-KILL", "--", &format!("-{pid}")])
                        .status();
                }
            }
        }
    }
}

pub(crate) fn deploy(version: &str, env: &[(&str, &str)]) -> DeployRequest {
    DeployRequest {
        version: version.to_owned(),
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        command: None,
        environment: None,
        run: None,
        commit: None,
    }
}

/// Waits until `service`'s view satisfies `done`, waking on every stored event and every 50ms
/// (replica phases change without events).
pub(crate) async fn until(
    plane: &ControlPlane,
    service: &str,
    what: &str,
    limit: Duration,
    done: impl Fn(&ServiceView) -> bool,
) -> ServiceView {
    let mut events = plane.subscribe();
    let deadline = Instant::now() + limit;
    loop {
        let view = plane.get(service).expect("the service exists");
        if done(&view) {
            return view;
        }
        assert!(
            Instant::now() < deadline,
            "{service} did not reach `{what}` within {limit:?}; it is {} because {}\n{view:#?}",
            view.phase,
            view.reason,
        );
        tokio::select! {
            _ = events.recv() => {}
            () = sleep(Duration::from_millis(50)) => {}
        }
    }
}

pub(crate) fn healthy_at(view: &ServiceView, version: &str) -> bool {
    view.phase == bellwether_core::rollout::Phase::Healthy
        && view.stable.as_ref().is_some_and(|s| s.version == version)
        && view
            .revisions
            .iter()
            .filter(|r| r.role == bellwether_api::RevisionRole::Stable)
            .all(|r| r.ready == r.desired)
}

/// Every note of a service's history, in order.
pub(crate) fn notes(history: &[HistoryEntry]) -> Vec<String> {
    history.iter().flat_map(|e| e.notes.clone()).collect()
}

/// What the clients saw: responses by status and body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) responses: BTreeMap<(u16, String), u64>,
    /// Requests that got no HTTP answer at all.
    pub(crate) transport_errors: u64,
    /// Why the last of them failed.
    pub(crate) last_error: Option<String>,
}

impl Seen {
    pub(crate) fn total(&self) -> u64 {
        self.responses.values().sum::<u64>() + self.transport_errors
    }

    pub(crate) fn of(&self, status: u16, body: &str) -> u64 {
        self.responses
            .get(&(status, body.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Requests that failed other than with an error `injected` by a version on purpose.
    pub(crate) fn failures_except(&self, injected: &[&str]) -> u64 {
        let failed = self
            .responses
            .iter()
            .filter(|((status, body), _)| *status != 200 && !injected.contains(&body.as_str()))
            .map(|(_, n)| n)
            .sum::<u64>();
        failed + self.transport_errors
    }
}

/// Clients sending requests through a router at a steady rate until dropped.
pub(crate) struct Load {
    seen: Arc<Mutex<Seen>>,
    /// Counts resets: a request sent before the last one belongs to the window it was sent in.
    epoch: Arc<AtomicU64>,
    workers: Vec<JoinHandle<()>>,
}

impl Load {
    /// `clients` clients each sending a request every 10ms (or as soon as the last answered).
    pub(crate) fn start(addr: SocketAddr, clients: usize) -> Self {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let epoch = Arc::new(AtomicU64::new(0));
        // A request slowed down by a busy machine (these tests run Python replicas beside each
        // other on two cores) is not a failed one; a hung one still fails, within the bound.
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        let url = format!("http://{addr}/");
        let workers = (0..clients)
            .map(|_| {
                let (seen, client, url) = (Arc::clone(&seen), client.clone(), url.clone());
                let epoch = Arc::clone(&epoch);
                tokio::spawn(async move {
                    let mut pace = interval(Duration::from_millis(10));
                    pace.set_missed_tick_behavior(MissedTickBehavior::Delay);
                    loop {
                        pace.tick().await;
                        let sent_in = epoch.load(Ordering::SeqCst);
                        let outcome = match client.get(&url).send().await {
                            Ok(response) => {
                                let status = response.status().as_u16();
                                response
                                    .text()
                                    .await
                                    .map(|body| (status, body.trim().to_owned()))
                            }
                            Err(e) => Err(e),
                        };
                        let mut seen = seen.lock().unwrap();
                        // A success answered after a reset says where the request went before
                        // it: not counted. A failure is counted whenever it shows.
                        let straggler = sent_in != epoch.load(Ordering::SeqCst);
                        match outcome {
                            Ok((status, _)) if straggler && status < 400 => {}
                            Ok(key) => *seen.responses.entry(key).or_default() += 1,
                            Err(e) => {
                                seen.transport_errors += 1;
                                seen.last_error = Some(format!("{e:?}"));
                            }
                        }
                    }
                })
            })
            .collect();
        Self {
            seen,
            epoch,
            workers,
        }
    }

    pub(crate) fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }

    /// Forgets what was seen so far, and the successes of requests sent before now.
    pub(crate) fn reset(&self) -> Seen {
        let mut seen = self.seen.lock().unwrap();
        self.epoch.fetch_add(1, Ordering::SeqCst);
        std::mem::take(&mut *seen)
    }

    /// Waits until the clients have seen `n` more requests answered.
    pub(crate) async fn more(&self, n: u64) -> Seen {
        let from = self.seen().total();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let seen = self.seen();
            if seen.total() >= from + n {
                return seen;
            }
            assert!(Instant::now() < deadline, "the load stalled: {seen:?}");
            sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for worker in &self.workers {
            worker.abort();
        }
    }
}
