//! A service's history, replayed from its stored events: what each event did, in words, and
//! which revisions were stable in turn (for `undo`).

use bellwether_api::{EventView, HistoryEntry};
use bellwether_core::rollout::{Action, Event, Revision, Rollout};
use bellwether_store::{Store, StoreError, rollout_stream};

/// The notes of the actions an event produced, as people read them.
pub(crate) fn notes(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Record(note) => Some(note.to_string()),
            _ => None,
        })
        .collect()
}

/// Every event of `service`, replayed from the first, with what it did.
pub(crate) fn entries(store: &dyn Store, service: &str) -> Result<Vec<HistoryEntry>, StoreError> {
    let mut out = Vec::new();
    replay(store, service, |event, kind, seq, _, rollout, actions| {
        let view = EventView {
            service: service.to_owned(),
            seq,
            at: event.at,
            kind: kind.to_owned(),
            notes: notes(actions),
            phase: rollout.phase(),
            weights: rollout.traffic.weights.clone(),
        };
        out.push(entry(view));
    })?;
    Ok(out)
}

pub(crate) fn entry(view: EventView) -> HistoryEntry {
    HistoryEntry {
        seq: view.seq,
        at: view.at,
        kind: view.kind,
        notes: view.notes,
        phase: view.phase,
        weights: view.weights,
    }
}

/// The revisions that became stable, in the order they did.
pub(crate) fn stables(store: &dyn Store, service: &str) -> Result<Vec<Revision>, StoreError> {
    let mut out = Vec::new();
    replay(store, service, |_, _, _, _, _, actions| {
        for action in actions {
            if let Action::MarkStable { revision } = action {
                out.push(revision.clone());
            }
        }
    })?;
    Ok(out)
}

/// Applies every stored event to a fresh rollout, in order, and hands each to `each` with its
/// kind, its position, the rollout before and after it, and the actions it led to. Only
/// accepted events are stored, so each is accepted again.
pub(crate) fn replay(
    store: &dyn Store,
    service: &str,
    mut each: impl FnMut(&Event, &str, u64, &Rollout, &Rollout, &[Action]),
) -> Result<(), StoreError> {
    let mut rollout = Rollout::new(service);
    for record in store.read(&rollout_stream(service), 0)? {
        let event: Event = serde_json::from_value(record.body)?;
        let before = rollout.clone();
        let actions = rollout.apply(&event).unwrap_or_default();
        each(
            &event,
            &record.kind,
            record.seq,
            &before,
            &rollout,
            &actions,
        );
    }
    Ok(())
}
