//! The platform: which replicas of which revision should run, the tasks that run them, and the
//! published state and resource use.

mod replica;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bellwether_core::platform::{
    LogLine, LogQuery, PlatformState, ReplicaPhase, ReplicaState, ReplicaTemplate, RevisionKey,
    SecretSource, ServiceState,
};
use bellwether_core::rollout::RevisionNumber;
use bellwether_core::signal::{ResourceHistory, ResourceSample, ResourceSource};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::resources::{self, Sampler};
use crate::{adopt, logs};
use replica::Replica;

/// How resource use is sampled: often enough for analysis that evaluates every second.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
pub struct Options {
    /// Where state files and logs live.
    pub data_dir: PathBuf,
    /// What a service's `workdir` is relative to: the directory of `bellwether.yaml`.
    pub base_dir: PathBuf,
    /// How long a replica has to exit after SIGTERM before it gets SIGKILL.
    pub grace_period: Duration,
    /// How long a replica is shown as stopping (so the router stops sending it requests)
    /// before it receives SIGTERM.
    pub drain_delay: Duration,
    /// `PATH` for replicas, when it should differ from the control plane's own.
    pub search_path: Option<String>,
    /// Logs are rotated past this size, keeping `log_keep` old files.
    pub log_max_bytes: u64,
    pub log_keep: u32,
    /// Where the values of a replica's `run.secrets` are read when it starts.
    pub secrets: Option<Arc<dyn SecretSource>>,
    /// What a command whose program is `bellwether` runs: the control plane's own binary,
    /// so that `[bellwether, demo-service]` works whether or not `bellwether` is on `PATH`.
    pub own_program: Option<PathBuf>,
}

impl Options {
    pub fn new(data_dir: impl Into<PathBuf>, base_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            base_dir: base_dir.into(),
            grace_period: Duration::from_secs(10),
            drain_delay: Duration::from_millis(500),
            search_path: None,
            log_max_bytes: 10 * 1024 * 1024,
            log_keep: 3,
            secrets: None,
            own_program: None,
        }
    }
}

/// State shared by the platform and its replica tasks.
pub(crate) struct Shared {
    pub(crate) options: Options,
    state: watch::Sender<PlatformState>,
    /// Each service's part of `state`, so that a change wakes only who watches that service.
    services: Mutex<HashMap<String, watch::Sender<ServiceState>>>,
    revisions: Mutex<BTreeMap<RevisionKey, Control>>,
    resources: Mutex<ResourceHistory>,
    /// The origin of the resource readings' times.
    started: Instant,
}

/// What the platform was asked to run for one revision, and which replica tasks exist.
struct Control {
    desired: watch::Sender<u32>,
    running: BTreeSet<u32>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<RevisionKey, Control>> {
        self.revisions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the published state, then the channel of `service` to match. Both happen under
    /// the state's lock, so that a service's watchers see its changes in order.
    fn publish(&self, service: &str, change: impl FnOnce(&mut PlatformState)) {
        self.state.send_modify(|state| {
            change(state);
            let current = state.of_service(service);
            let mut services = self.services.lock().unwrap_or_else(|p| p.into_inner());
            let channel = services.entry(service.to_owned()).or_default();
            channel.send_if_modified(|published| {
                let changed = *published != current;
                *published = current;
                changed
            });
        });
    }

    /// Changes one replica's published state, creating its entry if needed.
    pub(crate) fn update(&self, key: &RevisionKey, index: u32, f: impl FnOnce(&mut ReplicaState)) {
        self.publish(&key.service, |s| {
            let revision = s.revisions.entry(key.clone()).or_default();
            let pos = match revision.replicas.binary_search_by_key(&index, |r| r.index) {
                Ok(pos) => pos,
                Err(pos) => {
                    let replica = ReplicaState {
                        index,
                        pid: None,
                        addr: None,
                        phase: ReplicaPhase::Starting,
                        restarts: 0,
                        last_error: None,
                    };
                    revision.replicas.insert(pos, replica);
                    pos
                }
            };
            f(&mut revision.replicas[pos]);
        });
    }

    /// Called by a replica task that is no longer wanted: it ends unless it became wanted again
    /// meanwhile (checked under the lock that `scale` takes, so no replica is lost in between).
    pub(crate) fn retire(&self, key: &RevisionKey, index: u32) -> bool {
        let mut revisions = self.lock();
        let Some(control) = revisions.get_mut(key) else {
            return true;
        };
        if *control.desired.borrow() > index {
            return false;
        }
        control.running.remove(&index);
        self.publish(&key.service, |s| {
            if let Some(r) = s.revisions.get_mut(key) {
                r.replicas.retain(|p| p.index != index);
                if r.replicas.is_empty() && r.desired == 0 {
                    s.revisions.remove(key);
                }
            }
        });
        true
    }
}

/// Runs revisions as local processes. Create it inside a tokio runtime.
pub struct LocalPlatform {
    shared: Arc<Shared>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    sampler: JoinHandle<()>,
}

impl LocalPlatform {
    pub fn new(options: Options) -> Self {
        let shared = Arc::new(Shared {
            options,
            state: watch::Sender::new(PlatformState::default()),
            services: Mutex::new(HashMap::new()),
            revisions: Mutex::new(BTreeMap::new()),
            resources: Mutex::new(ResourceHistory::new(resources::KEEP)),
            started: Instant::now(),
        });
        let sampler = tokio::spawn(sample_resources(Arc::clone(&shared)));
        Self {
            shared,
            tasks: Mutex::new(Vec::new()),
            sampler,
        }
    }

    /// Runs exactly `replicas` replicas of the template's revision: starts the missing ones
    /// (adopting any that a previous control plane left running) and stops the extra ones.
    pub fn scale(&self, template: &ReplicaTemplate, replicas: u32) {
        let key = template.key();
        let mut revisions = self.shared.lock();
        let control = revisions.entry(key.clone()).or_insert_with(|| Control {
            desired: watch::Sender::new(replicas),
            running: BTreeSet::new(),
        });
        control.desired.send_replace(replicas);
        self.shared.publish(&key.service, |s| {
            if replicas > 0 || s.revisions.contains_key(&key) {
                s.revisions.entry(key.clone()).or_default().desired = replicas;
            }
        });
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        tasks.retain(|t| !t.is_finished());
        for index in 0..replicas {
            if control.running.insert(index) {
                let replica = Replica {
                    template: template.clone(),
                    index,
                    shared: Arc::clone(&self.shared),
                    desired: control.desired.subscribe(),
                };
                tasks.push(tokio::spawn(replica.run()));
            }
        }
    }

    /// What runs where, updated as replicas start, become ready, crash and stop.
    pub fn state(&self) -> watch::Receiver<PlatformState> {
        self.shared.state.subscribe()
    }

    /// What runs of `service`, updated only when that changes: with many services, a change
    /// to one wakes only its own watchers.
    pub fn watch(&self, service: &str) -> watch::Receiver<ServiceState> {
        let mut services = self
            .shared
            .services
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // A service whose channel does not exist yet has never run anything: it starts empty.
        services.entry(service.to_owned()).or_default().subscribe()
    }

    /// The lines `service`'s replicas wrote, on a channel in batches: each replica's in turn,
    /// then (following) new lines as they are written, until `stop` resolves or the receiver
    /// is dropped. Replicas that start later join in; rotations lose nothing.
    pub fn logs(
        &self,
        service: &str,
        query: LogQuery,
        stop: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> mpsc::Receiver<Vec<LogLine>> {
        logs::read(
            logs::log_dir(&self.shared.options.data_dir, service),
            query,
            stop,
        )
    }

    /// Stops replicas that a previous control plane left running and that nothing asked for
    /// since (call it once the desired state has been applied). Returns their state files.
    pub fn reap_unclaimed(&self) -> Vec<PathBuf> {
        let revisions = self.shared.lock();
        let claimed: BTreeSet<PathBuf> = revisions
            .iter()
            .flat_map(|(key, c)| {
                let data_dir = &self.shared.options.data_dir;
                c.running
                    .iter()
                    .map(move |i| adopt::path(data_dir, &key.service, key.revision, *i))
            })
            .collect();
        let mut reaped = Vec::new();
        for path in adopt::all(&self.shared.options.data_dir) {
            if claimed.contains(&path) {
                continue;
            }
            if let Some(record) = adopt::find_alive(&path) {
                let _ = killpg(Pid::from_raw(record.pid as i32), Signal::SIGTERM);
            }
            adopt::remove(&path);
            reaped.push(path);
        }
        reaped
    }

    /// Stops supervising every replica and leaves its process running, as a control plane that
    /// crashed would: the next platform on the same data directory adopts them.
    pub fn abandon(&self) {
        for task in self
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            task.abort();
        }
    }

    /// Stops every replica gracefully and waits for them.
    pub async fn shutdown(&self) {
        for control in self.shared.lock().values() {
            control.desired.send_replace(0);
        }
        let tasks: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for task in tasks {
            let _ = task.await;
        }
    }
}

impl Drop for LocalPlatform {
    fn drop(&mut self) {
        self.sampler.abort();
    }
}

/// Samples CPU and memory of every replica's process group once a second.
async fn sample_resources(shared: Arc<Shared>) {
    let mut sampler = Sampler::new();
    let mut interval = tokio::time::interval(SAMPLE_EVERY);
    loop {
        interval.tick().await;
        let state = shared.state.borrow().clone();
        let now = Instant::now();
        let points = sampler.sample(&state, now, now.duration_since(shared.started));
        shared
            .resources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(points, now.duration_since(shared.started));
    }
}

/// CPU and memory of a revision over a window, from the samples taken every second.
impl ResourceSource for LocalPlatform {
    fn resources(
        &self,
        service: &str,
        revision: RevisionNumber,
        window: Duration,
    ) -> Option<ResourceSample> {
        let key = RevisionKey {
            service: service.to_owned(),
            revision,
        };
        let history = self
            .shared
            .resources
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(sample) = history.summarize(&key, window, self.shared.started.elapsed()) {
            return Some(sample);
        }
        // A revision that runs but was not sampled yet has no readings: no data, not an
        // unknown revision (which analysis counts as an error).
        self.shared
            .state
            .borrow()
            .revisions
            .contains_key(&key)
            .then(ResourceSample::default)
    }
}
