//! What the pods' containers use, as metrics-server reports it: the kubelet says which process
//! group runs each pod's container, and a reading takes its CPU since the previous reading (or
//! since the container started) and its resident memory now, from `/proc`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::resource::Key;

/// The shortest span a CPU figure covers, as tick counts are too coarse below it: a container
/// has no metrics in its first one (metrics-server too needs two scrapes of a container), and
/// a reading sooner than this after the last one covers the span since the one before.
const SHORTEST: Duration = Duration::from_secs(1);

/// One pod's container at one reading.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Reading {
    /// CPU over `window`, in cores.
    pub cores: f64,
    pub memory_bytes: u64,
    /// The span the CPU figure covers.
    pub window: Duration,
}

/// The running containers' process groups, with the CPU ticks each had when last read.
#[derive(Clone, Default)]
pub(crate) struct Usage(Arc<Mutex<BTreeMap<Key, Running>>>);

struct Running {
    /// None for a container scripted to run no process: it uses nothing.
    pgid: Option<u32>,
    started: Instant,
    /// The CPU ticks at the reading the next one is taken against, and when.
    ticks: u64,
    at: Instant,
}

impl Usage {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<Key, Running>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The pod's container started as the process group `pgid` (or as none).
    pub(crate) fn started(&self, pod: &Key, pgid: Option<u32>) {
        let now = Instant::now();
        let running = Running {
            pgid,
            started: now,
            ticks: 0,
            at: now,
        };
        self.lock().insert(pod.clone(), running);
    }

    /// The pod's container is no longer running.
    pub(crate) fn ended(&self, pod: &Key) {
        self.lock().remove(pod);
    }

    /// The pod's container's use now; `None` while none runs, or in its first second.
    pub(crate) fn read(&self, pod: &Key) -> Option<Reading> {
        let mut running = self.lock();
        let container = running.get_mut(pod)?;
        let now = Instant::now();
        if now.duration_since(container.started) < SHORTEST {
            return None;
        }
        let (ticks, memory_bytes) = container
            .pgid
            .map_or((0, 0), bellwether_procfs::group_usage);
        let window = now.duration_since(container.at);
        let per_second = bellwether_procfs::clock_ticks_per_second() as f64;
        let cores = if window.is_zero() {
            0.0
        } else {
            ticks.saturating_sub(container.ticks) as f64 / per_second / window.as_secs_f64()
        };
        if window >= SHORTEST {
            container.ticks = ticks;
            container.at = now;
        }
        Some(Reading {
            cores,
            memory_bytes,
            window,
        })
    }
}
