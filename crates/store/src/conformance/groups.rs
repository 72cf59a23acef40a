//! Appends that arrive together on one handle, as the control plane's many services make
//! them: each keeps every rule it has alone. A backend may write them in one transaction (group
//! commit); then one append's conflict or failure is its own, and the rest of its group lands.

use serde_json::json;

use super::Fixture;
use super::support::{UNSTORABLE_MS, race, stored};
use crate::{Record, StoreError};

/// Threads appending at once, more than a backend's connections or threads.
const THREADS: usize = 16;

/// Appends each thread makes one after another.
const ROUNDS: u64 = 12;

pub fn concurrent_appends_to_distinct_streams_all_land_in_order(f: &Fixture) {
    let store = f.events();
    let results = race(THREADS, |i| {
        let stream = format!("rollout/{i}");
        (0..ROUNDS)
            .map(|n| {
                let record = Record::new(n, "step", json!({"thread": i, "n": n}));
                // Every fourth append carries a snapshot, as a rollout's log makes them.
                if n % 4 == 3 {
                    let state = json!({"thread": i, "up_to": n + 1});
                    store.append_with_snapshot(&stream, n, &[record], &state)
                } else {
                    store.append(&stream, n, &[record])
                }
            })
            .collect::<Vec<_>>()
    });
    for (i, appends) in results.iter().enumerate() {
        let positions: Vec<u64> = appends
            .iter()
            .map(|r| *r.as_ref().expect("an append to a stream of its own lands"))
            .collect();
        assert_eq!(positions, (1..=ROUNDS).collect::<Vec<_>>(), "thread {i}");
        let stream = format!("rollout/{i}");
        let bodies: Vec<_> = store
            .read(&stream, 0)
            .expect("read")
            .into_iter()
            .map(|r| (r.seq, r.body))
            .collect();
        let expected: Vec<_> = (0..ROUNDS)
            .map(|n| (n + 1, json!({"thread": i, "n": n})))
            .collect();
        assert_eq!(bodies, expected, "{stream} holds its appends in order");
        let snapshot = store.snapshot(&stream).expect("snapshot").expect("kept");
        assert_eq!(snapshot.seq, 12);
        assert_eq!(snapshot.body, json!({"thread": i, "up_to": 12}));
    }
    assert_eq!(store.streams("rollout/").expect("streams").len(), THREADS);
}

pub fn of_concurrent_appends_at_one_position_exactly_one_lands_beside_the_others(f: &Fixture) {
    let store = f.events();
    for round in 0..ROUNDS {
        // Even threads race at one position of a shared stream, odd ones append to their own.
        let results = race(THREADS, |i| {
            let record = Record::new(round, format!("thread {i}"), json!(i));
            let snapshot = json!({"by": i});
            match i % 2 {
                0 => store.append_with_snapshot("shared", round, &[record], &snapshot),
                _ => store.append(&format!("own/{i}"), round, &[record]),
            }
        });
        let winners: Vec<usize> = (0..THREADS)
            .step_by(2)
            .filter(|&i| results[i].is_ok())
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: one racer lands: {results:?}"
        );
        for (i, result) in results.iter().enumerate() {
            match (i % 2, result) {
                (_, Ok(last)) => assert_eq!(*last, round + 1, "thread {i}"),
                (
                    0,
                    Err(StoreError::Conflict {
                        expected, actual, ..
                    }),
                ) => {
                    assert_eq!((*expected, *actual), (round, round + 1), "thread {i}");
                }
                (_, Err(e)) => panic!("round {round}, thread {i}: {e:?}"),
            }
        }
        let shared = store.read("shared", round).expect("read");
        let winner = format!("thread {}", winners[0]);
        assert_eq!(shared.len(), 1, "round {round}: only the winner's record");
        assert_eq!(shared[0].kind, winner);
        let snapshot = store.snapshot("shared").expect("snapshot").expect("kept");
        assert_eq!(
            (snapshot.seq, snapshot.body),
            (round + 1, json!({"by": winners[0]})),
            "the snapshot is the winner's"
        );
    }
    for i in (1..THREADS).step_by(2) {
        assert_eq!(store.last_seq(&format!("own/{i}")).expect("last"), ROUNDS);
    }
}

pub fn an_append_that_fails_among_concurrent_ones_fails_alone(f: &Fixture) {
    let store = f.events();
    let good = |i: usize, n: u64| Record::new(n, format!("good {i}"), json!(n));
    let results = race(THREADS, |i| {
        let stream = format!("s/{i}");
        (0..ROUNDS)
            .map(|n| {
                // A quarter of the threads send, every other time, a batch the backend may be
                // unable to hold: it must then fail whole, and alone.
                let batch = if i % 4 == 0 && n % 2 == 1 {
                    vec![
                        good(i, n),
                        Record::new(UNSTORABLE_MS, "unstorable", json!(n)),
                    ]
                } else {
                    vec![good(i, n)]
                };
                let at = store.last_seq(&stream).expect("last");
                (batch.clone(), at, store.append(&stream, at, &batch))
            })
            .collect::<Vec<_>>()
    });
    for (i, appends) in results.into_iter().enumerate() {
        let stream = format!("s/{i}");
        let mut expected = Vec::new();
        for (batch, at, result) in appends {
            match result {
                Ok(last) => {
                    assert_eq!(last, at + batch.len() as u64, "{stream}");
                    expected.extend(batch.iter().zip(at + 1..).map(|(r, seq)| stored(seq, r)));
                }
                Err(e) => {
                    assert!(
                        batch.iter().any(|r| r.at_ms == UNSTORABLE_MS),
                        "{stream}: only an unstorable batch may fail: {e:?}"
                    );
                    assert!(
                        !matches!(e, StoreError::Conflict { .. } | StoreError::Grouped(_)),
                        "{stream}: an unstorable batch fails for itself: {e:?}"
                    );
                }
            }
        }
        assert_eq!(
            store.read(&stream, 0).expect("read"),
            expected,
            "{stream} holds exactly the appends that succeeded"
        );
    }
}

pub fn concurrent_revisions_are_numbered_distinctly_and_a_failed_one_alone(f: &Fixture) {
    let store = f.events();
    let results = race(THREADS, |i| {
        // Every fourth thread's revision carries a time the backend may be unable to hold.
        let at_ms = if i % 4 == 0 { UNSTORABLE_MS } else { i as u64 };
        store.add_revision("web", &format!("v{i}"), &json!({"i": i}), at_ms)
    });
    let mut numbers = Vec::new();
    for (i, result) in results.iter().enumerate() {
        match result {
            Ok(revision) => {
                assert_eq!(revision.version, format!("v{i}"));
                numbers.push(revision.number);
            }
            Err(e) => assert!(
                i % 4 == 0 && !matches!(e, StoreError::Grouped(_)),
                "revision {i} failed: {e:?}"
            ),
        }
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=numbers.len() as u64).collect::<Vec<_>>());
    let stored = store.revisions("web").expect("revisions");
    assert_eq!(
        stored.iter().map(|r| r.number).collect::<Vec<_>>(),
        numbers,
        "exactly the revisions that succeeded are stored"
    );
}

pub fn racing_groups_of_several_handles_admit_exactly_one_at_a_position(f: &Fixture) {
    const HANDLES: usize = 2;
    let handles: Vec<_> = (0..HANDLES).map(|_| f.events()).collect();
    for round in 0..ROUNDS {
        // Each handle's threads append together, so that its group meets the other handles'
        // at the shared stream's next position.
        let results = race(THREADS, |i| {
            let store = &handles[i % HANDLES];
            let record = Record::new(round, format!("thread {i}"), json!(i));
            match i % 4 {
                0 => store.append("shared", round, &[record]),
                _ => store.append(&format!("own/{i}"), round, &[record]),
            }
        });
        let winners = (0..THREADS)
            .step_by(4)
            .filter(|&i| results[i].is_ok())
            .count();
        assert_eq!(winners, 1, "round {round}: one racer lands: {results:?}");
        for (i, result) in results.iter().enumerate() {
            match (i % 4, result) {
                (_, Ok(last)) => assert_eq!(*last, round + 1, "thread {i}"),
                (0, Err(StoreError::Conflict { actual, .. })) => {
                    assert_eq!(*actual, round + 1, "thread {i}");
                }
                (_, Err(e)) => panic!("round {round}, thread {i}: {e:?}"),
            }
        }
    }
    assert_eq!(handles[0].last_seq("shared").expect("last"), ROUNDS);
    for i in (0..THREADS).filter(|i| i % 4 != 0) {
        assert_eq!(
            handles[0].last_seq(&format!("own/{i}")).expect("last"),
            ROUNDS
        );
    }
}
