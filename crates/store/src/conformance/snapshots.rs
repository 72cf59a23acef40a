//! Snapshots: the state of a stream up to a position, kept beside its events so that replay
//! starts there; the latest one is what a load gets.

use serde_json::json;

use super::Fixture;
use super::support::kinds;
use crate::{Record, Snapshot};

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
