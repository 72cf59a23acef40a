//! Reading the platform's state for one service: which replicas of a revision may take
//! traffic, and how many are still coming up.

use std::net::SocketAddr;

use bellwether_core::platform::{ReplicaPhase, ReplicaState, RevisionState};

/// The replicas of a revision that are wanted: those a scale-down is about to stop are left
/// out, so that the router stops sending them requests before they stop.
fn wanted(revision: Option<&RevisionState>, desired: u32) -> impl Iterator<Item = &ReplicaState> {
    revision
        .into_iter()
        .flat_map(|r| &r.replicas)
        .filter(move |r| r.index < desired)
}

/// Where traffic for a revision may go: its wanted replicas that pass their readiness probe.
pub(crate) fn routable(revision: Option<&RevisionState>, desired: u32) -> Vec<SocketAddr> {
    wanted(revision, desired)
        .filter(|r| r.phase == ReplicaPhase::Ready)
        .filter_map(|r| r.addr)
        .collect()
}

/// Ready replicas, and replicas that may yet become ready without having failed: starting
/// ones and those whose task has not reported yet (right after a restart, while adopted
/// replicas are probed again).
pub(crate) fn readiness(revision: Option<&RevisionState>, desired: u32) -> (u32, u32) {
    let mut ready = 0;
    let mut seen = 0;
    let mut starting = 0;
    for replica in wanted(revision, desired) {
        seen += 1;
        match replica.phase {
            ReplicaPhase::Ready => ready += 1,
            ReplicaPhase::Starting => starting += 1,
            _ => {}
        }
    }
    (ready, starting + desired.saturating_sub(seen))
}

/// Why a wanted replica that is not ready is not: the last error of the first that has one.
pub(crate) fn failing(revision: Option<&RevisionState>, desired: u32) -> Option<String> {
    wanted(revision, desired)
        .filter(|replica| replica.phase != ReplicaPhase::Ready)
        .find_map(|replica| replica.last_error.clone())
}

/// How people read a replica's phase.
pub(crate) fn phase_name(phase: ReplicaPhase) -> &'static str {
    match phase {
        ReplicaPhase::Starting => "starting",
        ReplicaPhase::Ready => "ready",
        ReplicaPhase::Unready => "unready",
        ReplicaPhase::Crashed => "crashed",
        ReplicaPhase::Stopping => "stopping",
    }
}
