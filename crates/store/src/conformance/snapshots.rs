//! Snapshots: the state of a stream up to a position, kept beside its events so that replay
//! starts there; the latest one is what a load gets. One saved with an append is stored with
//! its events or not at all.

use serde_json::json;

use super::Fixture;
use super::support::{UNSTORABLE_MS, kinds, stored, whole_or_nothing};
use crate::{Record, Snapshot, StoreError};

fn snapshot(stream: &str, seq: u64, body: serde_json::Value) -> Snapshot {
    Snapshot {
        stream: stream.to_owned(),
        seq,
        body,
    }
}

pub fn a_stream_without_a_snapshot_has_none(f: &Fixture) {
    let store = f.events();
    assert_eq!(store.snapshot("s").expect("loaded"), None);
    store
        .append("s", 0, &[Record::new(1, "a", json!(1))])
        .expect("appended");
    assert_eq!(store.snapshot("s").expect("loaded"), None);
}

pub fn the_latest_snapshot_is_loaded(f: &Fixture) {
    let store = f.events();
    let events: Vec<_> = (1..=5).map(|n| Record::new(n, "e", json!(n))).collect();
    store.append("s", 0, &events).expect("appended");
    store.append("t", 0, &events).expect("appended");
    let at_2 = snapshot("s", 2, json!({"total": 3, "seen": ["a", "b"]}));
    let at_5 = snapshot("s", 5, json!({"total": 15}));
    store.save_snapshot(&at_2).expect("saved");
    assert_eq!(store.snapshot("s").expect("loaded"), Some(at_2));
    store.save_snapshot(&at_5).expect("saved");
    assert_eq!(store.snapshot("s").expect("loaded"), Some(at_5));
    // Each stream has its own.
    assert_eq!(store.snapshot("t").expect("loaded"), None);
    let t = snapshot("t", 1, json!("t"));
    store.save_snapshot(&t).expect("saved");
    assert_eq!(store.snapshot("t").expect("loaded"), Some(t));
}

pub fn an_older_snapshot_never_replaces_a_newer_one(f: &Fixture) {
    let store = f.events();
    let events: Vec<_> = (1..=5).map(|n| Record::new(n, "e", json!(n))).collect();
    store.append("s", 0, &events).expect("appended");
    let newer = snapshot("s", 4, json!("at 4"));
    store.save_snapshot(&newer).expect("saved");
    // A writer that was slower to save, with an older state.
    store
        .save_snapshot(&snapshot("s", 3, json!("at 3")))
        .expect("saved or ignored");
    assert_eq!(store.snapshot("s").expect("loaded"), Some(newer));
}

pub fn the_events_after_a_snapshot_continue_it(f: &Fixture) {
    let store = f.events();
    let events: Vec<_> = (1..=5)
        .map(|n| Record::new(n, format!("e{n}"), json!(n)))
        .collect();
    store.append("s", 0, &events).expect("appended");
    store
        .save_snapshot(&snapshot("s", 3, json!({"sum": 6})))
        .expect("saved");
    let loaded = store.snapshot("s").expect("loaded").expect("a snapshot");
    assert_eq!(
        kinds(&store.read("s", loaded.seq).expect("read")),
        ["e4", "e5"]
    );
    // A snapshot shortens replay; it takes nothing from the stream, nor moves its position.
    assert_eq!(store.read("s", 0).expect("read").len(), 5);
    assert_eq!(store.last_seq("s").expect("last"), 5);
    assert_eq!(
        store
            .append("s", 5, &[Record::new(6, "e6", json!(6))])
            .expect("appended"),
        6
    );
    assert_eq!(
        kinds(&store.read("s", loaded.seq).expect("read")),
        ["e4", "e5", "e6"]
    );
}

pub fn an_append_with_a_snapshot_stores_both_at_its_last_position(f: &Fixture) {
    let store = f.events();
    store
        .append("s", 0, &[Record::new(1, "e1", json!(1))])
        .expect("appended");
    let batch = [
        Record::new(2, "e2", json!(2)),
        Record::new(3, "e3", json!(3)),
    ];
    let state = json!({"sum": 6});
    assert_eq!(
        store
            .append_with_snapshot("s", 1, &batch, &state)
            .expect("appended"),
        3
    );
    assert_eq!(
        kinds(&store.read("s", 0).expect("read")),
        ["e1", "e2", "e3"]
    );
    assert_eq!(
        store.snapshot("s").expect("loaded"),
        Some(snapshot("s", 3, state))
    );
}

pub fn an_append_with_a_snapshot_that_fails_stores_neither(f: &Fixture) {
    let store = f.events();
    store
        .append("s", 0, &[Record::new(1, "e1", json!(1))])
        .expect("appended");
    let kept = snapshot("s", 1, json!("at 1"));
    store.save_snapshot(&kept).expect("saved");
    let batch = [Record::new(2, "e2", json!(2))];
    let refused = store
        .append_with_snapshot("s", 0, &batch, &json!("at 2"))
        .expect_err("the stream is at 1");
    assert!(
        matches!(refused, StoreError::Conflict { actual: 1, .. }),
        "{refused:?}"
    );
    // A value the backend cannot hold fails the append part way: the snapshot goes with it.
    let unstorable = [
        Record::new(2, "e2", json!(2)),
        Record::new(UNSTORABLE_MS, "e3", json!(3)),
    ];
    let result = store.append_with_snapshot("s", 1, &unstorable, &json!("at 3"));
    let after = (
        store.read("s", 0).expect("read"),
        store.snapshot("s").expect("loaded"),
    );
    let before = (vec![stored(1, &Record::new(1, "e1", json!(1)))], Some(kept));
    let all = (
        vec![
            stored(1, &Record::new(1, "e1", json!(1))),
            stored(2, &unstorable[0]),
            stored(3, &unstorable[1]),
        ],
        Some(snapshot("s", 3, json!("at 3"))),
    );
    whole_or_nothing(&result, &before, &after, &all);
}
