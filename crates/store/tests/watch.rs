//! `RunStore::watch`: a watcher hears the number of each run a committed call changed, and
//! nothing of a call that changed nothing; one that returns `false` is not called again.

use std::sync::mpsc;

use bellwether_store::{Change, NewRun, RunHistory, RunStatus, RunStore};

fn new_run(at_ms: u64) -> NewRun {
    NewRun {
        pipeline: "release".to_owned(),
        actor: "alice".to_owned(),
        summary: "push on branch `main`".to_owned(),
        trigger: serde_json::json!({}),
        at_ms,
    }
}

#[test]
fn a_watcher_hears_each_committed_change_until_it_declines() {
    let dir = tempfile::tempdir().unwrap();
    let store = RunStore::open(&dir.path().join("bellwether.db")).unwrap();
    let (tx, heard) = mpsc::channel();
    store.watch(move |number| tx.send(number).is_ok());
    let (once, first_only) = mpsc::channel();
    store.watch(move |number| {
        let _ = once.send(number);
        false
    });

    let first = store.create(&new_run(1), 1).unwrap();
    let second = store.create(&new_run(2), 1).unwrap();
    store.start_attempt(second, 1, "alice", "abc", 3).unwrap();
    store.record(second, &[]).unwrap();
    store
        .record(
            second,
            &[Change::Status {
                attempt: 1,
                status: RunStatus::Success,
                at_ms: 4,
            }],
        )
        .unwrap();
    // Already finished: interrupting it changes nothing.
    assert!(!store.interrupt(second, 5, "gone").unwrap());
    assert!(store.interrupt(first, 6, "gone").unwrap());

    assert_eq!(
        heard.try_iter().collect::<Vec<_>>(),
        [first, second, second, second, first]
    );
    assert_eq!(first_only.try_iter().collect::<Vec<_>>(), [first]);
}
