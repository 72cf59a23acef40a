//! What a service's controller shows to the rest of the control plane: the rollout as last
//! stored, the service's revisions, its analysis runs and its listeners. The controller
//! changes it; the API reads it without waiting for the controller.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bellwether_analysis::engine::RunHandle;
use bellwether_core::rollout::{RevisionNumber, Rollout, RunId};
use bellwether_core::spec::{ServiceSpec, TrafficGenerator};

use crate::analyses::StoredRun;
use crate::template::KeptRevision;

pub(crate) struct Shared {
    pub(crate) spec: Arc<ServiceSpec>,
    pub(crate) rollout: Rollout,
    /// Every revision kept in the store, oldest first.
    pub(crate) revisions: Vec<KeptRevision>,
    /// Runs in progress, in the order they started.
    pub(crate) runs: Vec<LiveRun>,
    /// Finished runs of the latest attempt, in the order they finished.
    pub(crate) finished: Vec<StoredRun>,
    pub(crate) listen: SocketAddr,
    pub(crate) preview_listen: Option<SocketAddr>,
    /// Why the cluster does not route as `rollout` stands, while its write fails.
    pub(crate) routing_pending: Option<String>,
}

/// An analysis run in progress and what it judges.
pub(crate) struct LiveRun {
    pub(crate) run: RunId,
    pub(crate) revision: RevisionNumber,
    pub(crate) baseline: Option<RevisionNumber>,
    pub(crate) handle: RunHandle,
    /// Synthetic traffic to `revision` while the run lasts (the analysis's
    /// `trafficGenerator`).
    pub(crate) traffic: Option<TrafficGenerator>,
}

impl Shared {
    pub(crate) fn version_of(&self, number: RevisionNumber) -> Option<&str> {
        self.revisions
            .iter()
            .find(|r| r.number == number)
            .map(|r| r.version.as_str())
    }

    /// Takes the run out of the runs in progress.
    pub(crate) fn take_run(&mut self, run: RunId) -> Option<LiveRun> {
        let at = self.runs.iter().position(|r| r.run == run)?;
        Some(self.runs.remove(at))
    }
}

pub(crate) fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // Every change to `Shared` is a plain assignment; a panic cannot leave it half-made.
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}
