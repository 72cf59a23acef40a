//! Rollouts on top of the event store: write the event, then act on it.

use bellwether_core::rollout::{Action, Event, Rejected, Rollout};

use crate::{Record, Snapshot, Store, StoreError};

/// A snapshot is taken every this many events, so a restart replays at most this many.
const SNAPSHOT_EVERY: u64 = 64;

/// The stream that holds the events of one service's rollouts.
pub fn rollout_stream(service: &str) -> String {
    format!("rollout/{service}")
}

/// A service's rollout as rebuilt from the store, and how far into its stream it is.
#[derive(Clone, Debug)]
pub struct RolloutLog {
    pub rollout: Rollout,
    pub seq: u64,
    stream: String,
}

/// What recording an event led to.
pub type Outcome = Result<Vec<Action>, Rejected>;

impl RolloutLog {
    /// Rebuilds the rollout of `service`: the latest snapshot, then every event after it.
    pub fn load(store: &dyn Store, service: &str) -> Result<Self, StoreError> {
        let stream = rollout_stream(service);
        let (mut rollout, from) = match store.snapshot(&stream)? {
            Some(s) => (serde_json::from_value(s.body)?, s.seq),
            None => (Rollout::new(service), 0),
        };
        let mut seq = from;
        for record in store.read(&stream, from)? {
            let event: Event = serde_json::from_value(record.body)?;
            // Only accepted events are stored, so replaying one is accepted again; the actions
            // it produced were performed before, and `Rollout::resync` re-establishes them.
            let _ = rollout.apply(&event);
            seq = record.seq;
        }
        Ok(Self {
            rollout,
            seq,
            stream,
        })
    }

    /// Decides `event`, and if the rollout accepts it, stores it before returning the actions
    /// to perform. On a store error nothing changes: the event was not recorded and must not
    /// be acted upon.
    pub fn record(&mut self, store: &dyn Store, event: &Event) -> Result<Outcome, StoreError> {
        let mut next = self.rollout.clone();
        let actions = match next.apply(event) {
            Ok(actions) => actions,
            Err(rejected) => return Ok(Err(rejected)),
        };
        let record = Record::new(
            event.at.as_millis(),
            kind_of(event),
            serde_json::to_value(event)?,
        );
        self.seq = store.append(&self.stream, self.seq, &[record])?;
        self.rollout = next;
        if self.seq.is_multiple_of(SNAPSHOT_EVERY) {
            let body = serde_json::to_value(&self.rollout)?;
            store.save_snapshot(&Snapshot {
                stream: self.stream.clone(),
                seq: self.seq,
                body,
            })?;
        }
        Ok(Ok(actions))
    }
}

/// A short name of the event's kind, for queries over history and for people.
pub fn kind_of(event: &Event) -> &'static str {
    use bellwether_core::rollout::EventKind::*;
    match &event.kind {
        SpecChanged { .. } => "spec_changed",
        Tick => "tick",
        ReplicasReady { .. } => "replicas_ready",
        AnalysisCompleted { .. } => "analysis_completed",
        Command { .. } => "command",
    }
}
