//! The SQLite store against a real database file.

use std::time::Duration;

use bellwether_core::rollout::{Command, Event, EventKind, Revision, RolloutSpec};
use bellwether_core::spec::{CanarySpec, CanaryStep, Strategy, Weight};
use bellwether_core::time::Timestamp;
use bellwether_store::{Record, RolloutLog, SqliteStore, Store, StoreError};
use serde_json::json;

fn temp_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("bellwether.db")).unwrap();
    (dir, store)
}

#[test]
fn appends_are_ordered_and_guarded_by_the_expected_position() {
    let (_dir, store) = temp_store();
    let a = Record::new(1, "a", json!({"n": 1}));
    let b = Record::new(2, "b", json!({"n": 2}));
    assert_eq!(store.append("s", 0, &[a.clone(), b.clone()]).unwrap(), 2);
    let conflict = store.append("s", 1, std::slice::from_ref(&a)).unwrap_err();
    assert!(
        matches!(
            conflict,
            StoreError::Conflict {
                expected: 1,
                actual: 2,
                ..
            }
        ),
        "{conflict}"
    );
    assert_eq!(
        conflict.to_string(),
        "stream `s` is at event 2, not 1: it changed underneath"
    );
    let read = store.read("s", 0).unwrap();
    assert_eq!(
        read.iter()
            .map(|r| (r.seq, r.kind.as_str()))
            .collect::<Vec<_>>(),
        [(1, "a"), (2, "b")]
    );
    assert_eq!(store.read("s", 1).unwrap().len(), 1);
    assert_eq!(store.last_seq("other").unwrap(), 0);
    store.append("rollout/api", 0, &[a]).unwrap();
    assert_eq!(store.streams("rollout/").unwrap(), ["rollout/api"]);
}

#[test]
fn what_was_committed_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bellwether.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        store
            .append("s", 0, &[Record::new(5, "k", json!([1, 2]))])
            .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.read("s", 0).unwrap()[0].body, json!([1, 2]));
}

#[test]
fn revisions_are_numbered_per_service_and_pruned_around_pinned_ones() {
    let (_dir, store) = temp_store();
    for v in 1..=5 {
        let r = store
            .add_revision("api", &format!("v{v}"), &json!({"command": ["./api"]}), v)
            .unwrap();
        assert_eq!(r.number, v);
    }
    assert_eq!(
        store
            .add_revision("web", "v1", &json!({}), 9)
            .unwrap()
            .number,
        1
    );
    assert_eq!(store.prune_revisions("api", 2, &[1]).unwrap(), 2);
    let left: Vec<u64> = store
        .revisions("api")
        .unwrap()
        .iter()
        .map(|r| r.number)
        .collect();
    assert_eq!(left, [1, 4, 5]);
    assert_eq!(
        store
            .add_revision("api", "v6", &json!({}), 10)
            .unwrap()
            .number,
        6
    );
}

fn canary() -> RolloutSpec {
    let w = |p| CanaryStep::SetWeight(Weight::from_percent(p).unwrap());
    let steps = vec![
        w(10),
        CanaryStep::Pause(Some(Duration::from_secs(60))),
        w(50),
        CanaryStep::Pause(None),
    ];
    RolloutSpec {
        replicas: 2,
        strategy: Strategy::Canary(CanarySpec::with_steps(steps)),
        progress_deadline: Duration::from_secs(600),
    }
}

#[test]
fn a_rollout_rebuilt_from_the_store_equals_the_one_that_was_recorded() {
    let (_dir, store) = temp_store();
    let mut log = RolloutLog::load(&store, "api").unwrap();
    let mut at = 0;
    let mut record = |log: &mut RolloutLog, kind: EventKind| {
        at += 1;
        log.record(&store, &Event::new(Timestamp(at), kind))
            .unwrap()
            .unwrap();
    };
    // Forty releases, each deployed, made ready, promoted in full and made ready at full size.
    for n in 1..=40u64 {
        let revision = Revision {
            number: n,
            version: format!("v{n}"),
        };
        record(
            &mut log,
            EventKind::SpecChanged {
                revision,
                spec: canary(),
            },
        );
        record(
            &mut log,
            EventKind::ReplicasReady {
                revision: n,
                ready: 2,
            },
        );
        if log.rollout.in_progress() {
            let promote = Command::Promote { full: true };
            record(
                &mut log,
                EventKind::Command {
                    command: promote,
                    by: "test".into(),
                },
            );
            record(
                &mut log,
                EventKind::ReplicasReady {
                    revision: n,
                    ready: 2,
                },
            );
        }
    }
    assert_eq!(log.rollout.stable.as_ref().map(|r| r.number), Some(40));
    assert!(log.seq > 64, "enough events for a snapshot ({})", log.seq);
    assert!(store.snapshot("rollout/api").unwrap().is_some());
    let rebuilt = RolloutLog::load(&store, "api").unwrap();
    assert_eq!(rebuilt.seq, log.seq);
    assert_eq!(rebuilt.rollout, log.rollout);
}

#[test]
fn a_rejected_command_is_not_stored_and_a_failed_append_changes_nothing() {
    let (_dir, store) = temp_store();
    let mut log = RolloutLog::load(&store, "api").unwrap();
    let retry = EventKind::Command {
        command: Command::Retry,
        by: "test".into(),
    };
    let outcome = log
        .record(&store, &Event::new(Timestamp(1), retry))
        .unwrap();
    assert!(outcome.is_err());
    assert_eq!(store.last_seq("rollout/api").unwrap(), 0);

    let deploy = EventKind::SpecChanged {
        revision: Revision {
            number: 1,
            version: "v1".into(),
        },
        spec: canary(),
    };
    // Another writer got there first: the append fails and the log's state is untouched.
    store
        .append("rollout/api", 0, &[Record::new(0, "foreign", json!(null))])
        .unwrap();
    let before = log.rollout.clone();
    let err = log
        .record(&store, &Event::new(Timestamp(2), deploy))
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }));
    assert_eq!(log.rollout, before);
}
