//! [`RolloutLog`] on the backend: a rollout rebuilt from its latest snapshot and the events
//! after it is the rollout that was recorded; what it refuses, or fails to store, is not
//! there.

use std::time::Duration;

use bellwether_core::rollout::{Command, Event, EventKind, Revision, RolloutSpec};
use bellwether_core::spec::{CanarySpec, CanaryStep, Strategy, Weight};
use bellwether_core::time::Timestamp;
use serde_json::json;

use super::Fixture;

use crate::{Record, RolloutLog, Store, StoreError, rollout_stream};

fn canary() -> RolloutSpec {
    let weight = |p| CanaryStep::SetWeight(Weight::from_percent(p).expect("a weight"));
    let steps = vec![
        weight(10),
        CanaryStep::Pause(Some(Duration::from_secs(60))),
        weight(50),
        CanaryStep::Pause(None),
    ];
    RolloutSpec {
        replicas: 2,
        strategy: Strategy::Canary(CanarySpec::with_steps(steps)),
        progress_deadline: Duration::from_secs(600),
        post_rollback_analysis: None,
    }
}

fn deploy(number: u64) -> EventKind {
    EventKind::SpecChanged {
        revision: Revision {
            number,
            version: format!("v{number}"),
        },
        spec: canary(),
    }
}

fn record_event(store: &dyn Store, log: &mut RolloutLog, at: u64, kind: EventKind) {
    log.record(store, &Event::new(Timestamp(at), kind))
        .expect("stored")
        .expect("accepted");
}

pub fn a_rollout_rebuilt_from_snapshot_and_events_equals_the_recorded_one(f: &Fixture) {
    let store = f.events();
    let store = store.as_ref();
    let mut log = RolloutLog::load(store, "api").expect("loaded");
    let mut at = 0;
    let mut next = || {
        at += 1;
        at
    };
    // Forty releases, each deployed, made ready, promoted in full and made ready at full size:
    // enough events for snapshots, with events after the last one.
    for n in 1..=40 {
        record_event(store, &mut log, next(), deploy(n));
        let ready = EventKind::ReplicasReady {
            revision: n,
            ready: 2,
            failing: None,
        };
        record_event(store, &mut log, next(), ready.clone());
        if log.rollout.in_progress() {
            let promote = EventKind::Command {
                command: Command::Promote { full: true },
                by: "test".into(),
            };
            record_event(store, &mut log, next(), promote);
            record_event(store, &mut log, next(), ready);
        }
    }
    assert_eq!(log.rollout.stable.as_ref().map(|r| r.number), Some(40));
    let snapshot = store
        .snapshot(&rollout_stream("api"))
        .expect("loaded")
        .expect("a snapshot");
    assert!(
        snapshot.seq < log.seq,
        "events after the snapshot at {}: {}",
        snapshot.seq,
        log.seq
    );
    let rebuilt = RolloutLog::load(f.events().as_ref(), "api").expect("loaded");
    assert_eq!(rebuilt.seq, log.seq);
    assert_eq!(rebuilt.rollout, log.rollout);
}

pub fn a_rejected_command_is_never_stored(f: &Fixture) {
    let store = f.events();
    let mut log = RolloutLog::load(store.as_ref(), "api").expect("loaded");
    let retry = EventKind::Command {
        command: Command::Retry,
        by: "test".into(),
    };
    let outcome = log
        .record(store.as_ref(), &Event::new(Timestamp(1), retry))
        .expect("nothing to store");
    assert!(outcome.is_err(), "nothing to retry: {outcome:?}");
    assert_eq!(store.last_seq(&rollout_stream("api")).expect("last"), 0);
    assert_eq!(store.streams("").expect("streams"), Vec::<String>::new());
}

pub fn a_failed_append_leaves_the_rollout_as_it_was(f: &Fixture) {
    let store = f.events();
    let mut log = RolloutLog::load(store.as_ref(), "api").expect("loaded");
    // Another writer got there first.
    let foreign = Record::new(0, "foreign", json!(null));
    store
        .append(&rollout_stream("api"), 0, std::slice::from_ref(&foreign))
        .expect("appended");
    let before = log.rollout.clone();
    let failed = log
        .record(store.as_ref(), &Event::new(Timestamp(2), deploy(1)))
        .expect_err("the stream moved");
    assert!(matches!(failed, StoreError::Conflict { .. }), "{failed:?}");
    assert_eq!(log.rollout, before);
    assert_eq!(log.seq, 0);
    let stream = store.read(&rollout_stream("api"), 0).expect("read");
    assert_eq!(stream.len(), 1);
    assert_eq!(stream[0].kind, "foreign");
}

pub fn a_log_behind_its_stream_reads_what_it_missed_and_records_on(f: &Fixture) {
    let store = f.events();
    let store = store.as_ref();
    let mut ahead = RolloutLog::load(store, "api").expect("loaded");
    // A log that was told its append failed although it landed is where `behind` is: its
    // next append conflicts.
    let mut behind = ahead.clone();
    record_event(store, &mut ahead, 1, deploy(1));
    let ready = EventKind::ReplicasReady {
        revision: 1,
        ready: 2,
        failing: None,
    };
    record_event(store, &mut ahead, 2, ready);
    let refused = behind
        .record(store, &Event::new(Timestamp(3), deploy(2)))
        .expect_err("the stream moved");
    assert!(
        matches!(refused, StoreError::Conflict { .. }),
        "{refused:?}"
    );
    let missed = behind.unseen(store).expect("read");
    assert_eq!(
        missed.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(),
        [1, 2]
    );
    let acted: Vec<usize> = missed
        .iter()
        .map(|(seq, event)| behind.follow(*seq, event).len())
        .collect();
    assert!(
        acted.iter().all(|n| *n > 0),
        "each event led to actions: {acted:?}"
    );
    assert_eq!((behind.seq, &behind.rollout), (ahead.seq, &ahead.rollout));
    record_event(store, &mut behind, 3, deploy(2));
    assert_eq!(behind.seq, 3);
    assert_eq!(
        RolloutLog::load(store, "api").expect("loaded").rollout,
        behind.rollout
    );
}
