//! Where the verify provider reaches a revision: its ready replicas, as the platform
//! publishes them, taken in turn.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bellwether_core::platform::ReplicaPhase;
use bellwether_core::rollout::RevisionNumber;
use bellwether_core::signal::AddressSource;

use super::Platform;

pub(crate) struct ReadyReplicas {
    platform: Arc<dyn Platform>,
    turn: AtomicUsize,
}

impl ReadyReplicas {
    pub(crate) fn new(platform: Arc<dyn Platform>) -> Self {
        Self {
            platform,
            turn: AtomicUsize::new(0),
        }
    }
}

impl AddressSource for ReadyReplicas {
    fn address(&self, service: &str, revision: RevisionNumber) -> Option<String> {
        let state = self.platform.watch(service);
        let state = state.borrow();
        let ready: Vec<_> = state
            .get(&revision)?
            .replicas
            .iter()
            .filter(|r| r.phase == ReplicaPhase::Ready)
            .filter_map(|r| r.addr)
            .collect();
        if ready.is_empty() {
            return None;
        }
        let turn = self.turn.fetch_add(1, Ordering::Relaxed) % ready.len();
        Some(ready[turn].to_string())
    }
}
