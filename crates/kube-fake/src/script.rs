//! What a test scripts: faults of the API server (slow and dropped watches, conflicts, the
//! history compacted, the metrics API absent or failing) and of the kubelet (pods never ready,
//! pods crash-looping, pods that run no process).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use crate::resource::Resource;
use crate::store::{Selector, Store};

#[derive(Default)]
struct Faults {
    watch_delay: Duration,
    conflicts: BTreeMap<Resource, u32>,
    never_ready: Vec<Selector>,
    crash_loop: Vec<Selector>,
    without_process: Vec<Selector>,
    /// The metrics API is not served, as on a cluster with no metrics-server.
    no_metrics: bool,
    /// Requests of the metrics API still to be answered `500`.
    metrics_failures: u32,
}

/// The handle a test scripts the cluster with; every change takes effect at once.
#[derive(Clone)]
pub struct Script {
    faults: Arc<Mutex<Faults>>,
    /// Bumped to end every open watch.
    drops: watch::Sender<u64>,
    /// Watches answered `410 Gone`.
    gone: Arc<AtomicU64>,
    store: Store,
}

impl Script {
    pub(crate) fn new(store: Store) -> Self {
        Self {
            faults: Arc::default(),
            drops: watch::Sender::new(0),
            gone: Arc::default(),
            store,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Faults> {
        self.faults
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every watch event is sent `delay` late (zero: on time).
    pub fn slow_watches(&self, delay: Duration) {
        self.lock().watch_delay = delay;
    }

    /// Ends every open watch connection now, as a load balancer or an API server restart does.
    pub fn drop_watches(&self) {
        self.drops.send_modify(|n| *n += 1);
    }

    /// The next `count` writes (create, update, apply) of `resource` are refused with
    /// `409 Conflict`, as when another writer got there first.
    pub fn conflict_next_writes(&self, resource: Resource, count: u32) {
        *self.lock().conflicts.entry(resource).or_default() += count;
    }

    /// Forgets the history of changes: a watch from any resourceVersion seen so far gets
    /// `410 Gone` and the client must list again.
    pub fn compact(&self) {
        self.store.compact();
    }

    /// The kubelet never reports pods matching `selector` ready, whatever their probes say.
    pub fn never_ready(&self, selector: &str) {
        let selector = Selector::parse(selector).expect("a label selector the fake serves");
        self.lock().never_ready.push(selector);
    }

    /// The kubelet crash-loops pods matching `selector`: their container exits at once,
    /// whatever its process would do, and is restarted with back-off.
    pub fn crash_loop(&self, selector: &str) {
        let selector = Selector::parse(selector).expect("a label selector the fake serves");
        self.lock().crash_loop.push(selector);
    }

    /// Pods matching `selector` run no process: each gets an address (no port checked, as
    /// nothing listens on it), and its container is running and ready at once, whatever its
    /// probes say, using no CPU and no memory. For benchmarks that need many pods and none of
    /// their cost; [`never_ready`](Self::never_ready) still holds them unready.
    pub fn without_processes(&self, selector: &str) {
        let selector = Selector::parse(selector).expect("a label selector the fake serves");
        self.lock().without_process.push(selector);
    }

    /// Serves the metrics API (`metrics.k8s.io`, the default) or answers every request of it
    /// `404 Not Found`, as a cluster with no metrics-server does.
    pub fn metrics_api(&self, served: bool) {
        self.lock().no_metrics = !served;
    }

    /// The next `count` requests of the metrics API are answered `500 Internal Server Error`,
    /// a failure kube-rs's client does not retry by itself (it does `503`).
    pub fn fail_metrics(&self, count: u32) {
        self.lock().metrics_failures += count;
    }

    pub(crate) fn serves_metrics(&self) -> bool {
        !self.lock().no_metrics
    }

    /// Whether this request of the metrics API is one of the failures scripted, counting it.
    pub(crate) fn take_metrics_failure(&self) -> bool {
        let mut faults = self.lock();
        let failing = faults.metrics_failures > 0;
        faults.metrics_failures = faults.metrics_failures.saturating_sub(1);
        failing
    }

    /// How many watches were answered `410 Gone` so far.
    pub fn gone_answered(&self) -> u64 {
        self.gone.load(Ordering::SeqCst)
    }

    pub(crate) fn count_gone(&self) {
        self.gone.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn watch_delay(&self) -> Duration {
        self.lock().watch_delay
    }

    pub(crate) fn drops(&self) -> watch::Receiver<u64> {
        self.drops.subscribe()
    }

    /// Whether this write is one of the conflicts scripted, counting it.
    pub(crate) fn take_conflict(&self, resource: Resource) -> bool {
        let mut faults = self.lock();
        match faults.conflicts.get_mut(&resource) {
            Some(count) if *count > 0 => {
                *count -= 1;
                true
            }
            _ => false,
        }
    }

    pub(crate) fn is_never_ready(&self, pod: &Value) -> bool {
        self.lock().never_ready.iter().any(|s| s.matches(pod))
    }

    pub(crate) fn is_without_process(&self, pod: &Value) -> bool {
        self.lock().without_process.iter().any(|s| s.matches(pod))
    }

    pub(crate) fn is_crash_looping(&self, pod: &Value) -> bool {
        self.lock().crash_loop.iter().any(|s| s.matches(pod))
    }
}
