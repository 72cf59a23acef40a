//! Inputs that are not requests: what the platform runs, and time passing.

use std::time::Duration;

use bellwether_core::error::chain;
use bellwether_core::platform::ReplicaPhase;
use bellwether_core::rollout::{Command, EventKind, RevisionNumber};
use bellwether_core::time::Timestamp;

use super::Actor;
use crate::{ControlError, replicas};

/// A replica of a new revision that fails this often before it was ever ready will not start:
/// the rollout aborts instead of waiting for its progress deadline.
const FAILURES_BEFORE_ABORT: u32 = 3;

/// Readiness events one platform change may give rise to; each can change what is wanted, and
/// this bounds the chain should the platform and the rollout ever disagree for good.
const READINESS_PASSES: usize = 16;

/// If a deadline did not move after its timer event, the next attempt waits this long.
const RETRY_TIMER: Duration = Duration::from_secs(1);

impl Actor {
    /// The platform published a change: route to what is ready now, abort a revision that
    /// cannot start, and tell the rollout how many replicas are ready.
    pub(super) async fn on_platform(&mut self) {
        self.replicas = self.platform.borrow_and_update().clone();
        self.ever_ready
            .retain(|(r, _)| self.replicas.contains_key(r));
        for (revision, state) in &self.replicas {
            for replica in &state.replicas {
                if replica.phase == ReplicaPhase::Ready {
                    self.ever_ready.insert((*revision, replica.index));
                }
            }
        }
        self.route();
        if let Some(reason) = self.start_failure() {
            let abort = EventKind::Command {
                command: Command::Abort {
                    reason: Some(reason),
                },
                by: "controller".to_owned(),
            };
            self.insist(abort).await;
        }
        self.report_readiness().await;
        self.open_when_settled();
    }

    /// Opens the listeners once every revision has the ready replicas the rollout counts on:
    /// at once on a first start, after their probes pass again on a restart. Routing to a
    /// revision whose replicas are not probed yet would fail requests, and count against it.
    fn open_when_settled(&self) {
        if *self.gate.borrow() {
            return;
        }
        let scales = &self.log.rollout.scales;
        if scales
            .iter()
            .all(|(&r, &desired)| !self.settling(r, desired))
        {
            self.gate.send_replace(true);
        }
    }

    /// Whether replicas of `revision` the rollout counts as ready are not ready now but may
    /// still be: right after a restart, adopted replicas are probed again before they count.
    /// Until they pass or fail, the rollout keeps what it knew.
    fn settling(&self, revision: RevisionNumber, desired: u32) -> bool {
        let (ready, coming) = replicas::readiness(self.replicas.get(&revision), desired);
        let known = self.log.rollout.ready_of(revision);
        ready < known && ready + coming >= known
    }

    /// Why the revision being rolled out cannot start, if one of its replicas failed to spawn
    /// or kept crashing without ever becoming ready.
    fn start_failure(&self) -> Option<String> {
        let rollout = &self.log.rollout;
        if !rollout.in_progress() {
            return None;
        }
        let target = rollout.target.as_ref()?;
        let state = self.replicas.get(&target.number)?;
        let failing = state.replicas.iter().find(|r| {
            r.phase == ReplicaPhase::Crashed
                && r.restarts >= FAILURES_BEFORE_ABORT
                && !self.ever_ready.contains(&(target.number, r.index))
        })?;
        let last = failing.last_error.as_deref().unwrap_or("exited");
        Some(format!(
            "{target} cannot start: replica {} failed {} times without ever becoming ready (last: {last})",
            failing.index, failing.restarts
        ))
    }

    /// Records a readiness event for each revision whose ready count the rollout does not know;
    /// whether all were recorded (a failure is retried after a back-off).
    pub(super) async fn report_readiness(&mut self) -> bool {
        for _ in 0..READINESS_PASSES {
            let rollout = &self.log.rollout;
            let change = rollout.scales.iter().find_map(|(&revision, &desired)| {
                let state = self.replicas.get(&revision);
                let (ready, _) = replicas::readiness(state, desired);
                let failing = replicas::failing(state, desired).filter(|_| ready < desired);
                // A new reason is worth an event only while the revision is short of replicas.
                let changed = ready != rollout.ready_of(revision)
                    || (failing.is_some() && failing.as_ref() != rollout.failing.get(&revision));
                (changed && !self.settling(revision, desired)).then_some((revision, ready, failing))
            });
            let Some((revision, ready, failing)) = change else {
                return true;
            };
            let event = EventKind::ReplicasReady {
                revision,
                ready,
                failing,
            };
            match self.submit(event).await {
                Ok(()) => {}
                // Not a store failure: the next change of the platform tells the rollout again.
                Err(e @ ControlError::Rejected(_)) => {
                    tracing::error!(service = %self.service, "cannot record readiness: {}", chain(&e));
                    return true;
                }
                Err(e) => {
                    let wait = self.back_off();
                    tracing::error!(service = %self.service, "cannot record readiness, retrying in {wait:?}: {}", chain(&e));
                    return false;
                }
            }
        }
        true
    }

    /// When the rollout next needs a timer event.
    pub(super) fn next_tick(&self) -> Option<Timestamp> {
        let due = self.log.rollout.next_deadline()?;
        Some(match self.stalled_tick {
            Some(at) if due <= at => at.after(RETRY_TIMER),
            _ => due,
        })
    }

    pub(super) async fn on_tick(&mut self, due: Timestamp) {
        // The timer may fire a hair before the clock reads `due`: the event is never
        // earlier than the deadline it is for.
        let at = self.context.clock.now().max(due);
        if let Err(e) = self.submit_at(at, EventKind::Tick).await {
            tracing::error!(service = %self.service, "cannot record a timer event: {}", chain(&e));
        }
        // A deadline the event did not move (it could not be stored) is retried later, not at
        // once and again.
        let next = self.log.rollout.next_deadline();
        self.stalled_tick = next.filter(|d| *d <= at).map(|_| at);
    }
}
