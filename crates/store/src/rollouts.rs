//! Rollouts on top of the event store: write the event, then act on it.

use bellwether_core::rollout::{Action, Event, Rejected, Rollout};

use crate::{Record, Store, StoreError};

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
        let (rollout, seq) = match store.snapshot(&stream)? {
            Some(s) => (serde_json::from_value(s.body)?, s.seq),
            None => (Rollout::new(service), 0),
        };
        let mut log = Self {
            rollout,
            seq,
            stream,
        };
        for (seq, event) in log.unseen(store)? {
            // The actions were performed when the event was stored, and `Rollout::resync`
            // re-establishes them.
            log.follow(seq, &event);
        }
        Ok(log)
    }

    /// The events stored after this log's position, with theirs: what another writer added,
    /// or an append that landed although its caller was told it failed.
    pub fn unseen(&self, store: &dyn Store) -> Result<Vec<(u64, Event)>, StoreError> {
        store
            .read(&self.stream, self.seq)?
            .into_iter()
            .map(|record| Ok((record.seq, serde_json::from_value(record.body)?)))
            .collect()
    }

    /// Folds in `event`, stored at `seq`, and returns the actions it leads to.
    pub fn follow(&mut self, seq: u64, event: &Event) -> Vec<Action> {
        self.seq = seq;
        // Only accepted events are stored, so a stored one is accepted again.
        self.rollout.apply(event).unwrap_or_default()
    }

    /// Decides `event`, and if the rollout accepts it, stores it before returning the actions
    /// to perform. On a store error nothing changes: the event was not recorded and must not
    /// be acted upon. (A backend may have stored it all the same, its answer lost: the next
    /// append then conflicts, and [`RolloutLog::unseen`] reads it.)
    pub fn record(&mut self, store: &dyn Store, event: &Event) -> Result<Outcome, StoreError> {
        let mut next = self.rollout.clone();
        let actions = match next.apply(event) {
            Ok(actions) => actions,
            Err(rejected) => return Ok(Err(rejected)),
        };
        let record = [Record::new(
            event.at.as_millis(),
            kind_of(event),
            serde_json::to_value(event)?,
        )];
        // The snapshot goes in the append's transaction: a snapshot that failed on its own
        // after its event was stored would leave this log behind the stream.
        self.seq = if (self.seq + 1).is_multiple_of(SNAPSHOT_EVERY) {
            let state = serde_json::to_value(&next)?;
            store.append_with_snapshot(&self.stream, self.seq, &record, &state)?
        } else {
            store.append(&self.stream, self.seq, &record)?
        };
        self.rollout = next;
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
