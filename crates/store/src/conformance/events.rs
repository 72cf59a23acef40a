//! Event streams: an append lands whole at the position its writer expected, or not at all;
//! reads give a stream back in order; streams know nothing of each other.

use serde_json::json;

use super::Fixture;
use super::support::{UNSTORABLE_MS, kinds, race, stored, whole_or_nothing};
use crate::{Record, StoreError};

pub fn appends_number_records_from_one_in_order(f: &Fixture) {
    let store = f.events();
    let mut first = [
        Record::new(
            10,
            "a",
            json!({"n": 1, "nested": {"list": [1, 2.5, "three"]}}),
        ),
        Record::new(11, "b", json!(null)),
    ];
    // The position is the store's to assign, whatever the writer put there.
    first[1].seq = 42;
    let second = Record::new(12, "c", json!("ünïcode ✓"));
    assert_eq!(store.append("s", 0, &first).expect("appended"), 2);
    assert_eq!(
        store
            .append("s", 2, std::slice::from_ref(&second))
            .expect("appended"),
        3
    );
    assert_eq!(
        store.read("s", 0).expect("read"),
        [
            stored(1, &first[0]),
            stored(2, &first[1]),
            stored(3, &second)
        ]
    );
    assert_eq!(store.last_seq("s").expect("last"), 3);
}

pub fn a_conflicting_append_is_refused_and_writes_nothing(f: &Fixture) {
    let store = f.events();
    store
        .append(
            "s",
            0,
            &[Record::new(1, "a", json!(1)), Record::new(2, "b", json!(2))],
        )
        .expect("appended");
    let before = store.read("s", 0).expect("read");
    let batch = [
        Record::new(3, "late", json!(3)),
        Record::new(4, "late", json!(4)),
    ];
    for expected in [0, 1, 3, 9] {
        let refused = store.append("s", expected, &batch).expect_err("refused");
        assert!(
            matches!(&refused, StoreError::Conflict { stream, expected: e, actual: 2 } if stream == "s" && *e == expected),
            "appending at {expected} to a stream at 2: {refused:?}"
        );
        assert_eq!(store.read("s", 0).expect("read"), before);
        assert_eq!(store.last_seq("s").expect("last"), 2);
    }
    let refused = store.append("s", 1, &batch).expect_err("refused");
    assert_eq!(
        refused.to_string(),
        "stream `s` is at event 2, not 1: it changed underneath"
    );
    // A stream that does not exist is at 0, and is not made by a refused append.
    let refused = store.append("new", 1, &batch).expect_err("refused");
    assert!(
        matches!(
            refused,
            StoreError::Conflict {
                expected: 1,
                actual: 0,
                ..
            }
        ),
        "{refused:?}"
    );
    assert_eq!(store.read("new", 0).expect("read"), []);
    assert_eq!(store.streams("").expect("streams"), ["s"]);
    // The writer that was behind reloads, and then appends.
    assert_eq!(store.append("s", 2, &batch).expect("appended"), 4);
}

pub fn an_append_that_fails_part_way_writes_nothing(f: &Fixture) {
    let store = f.events();
    store
        .append("s", 0, &[Record::new(1, "a", json!(1))])
        .expect("appended");
    let before = store.read("s", 0).expect("read");
    let batch = [
        Record::new(2, "b", json!(2)),
        Record::new(UNSTORABLE_MS, "c", json!(3)),
        Record::new(4, "d", json!(4)),
    ];
    let result = store.append("s", 1, &batch);
    let after = store.read("s", 0).expect("read");
    let all: Vec<Record> = before
        .iter()
        .cloned()
        .chain(batch.iter().zip(2..).map(|(r, seq)| stored(seq, r)))
        .collect();
    whole_or_nothing(&result, &before, &after, &all);
    let last = store.last_seq("s").expect("last");
    assert_eq!(last, after.len() as u64);
    assert_eq!(
        store
            .append("s", last, &[Record::new(5, "e", json!(5))])
            .expect("appended after the failure"),
        last + 1
    );
}

pub fn reads_start_after_the_given_position(f: &Fixture) {
    let store = f.events();
    let batch: Vec<Record> = (1..=4)
        .map(|n| Record::new(n, format!("e{n}"), json!(n)))
        .collect();
    store.append("s", 0, &batch).expect("appended");
    for (after, expected) in [
        (0, vec!["e1", "e2", "e3", "e4"]),
        (1, vec!["e2", "e3", "e4"]),
        (3, vec!["e4"]),
        (4, vec![]),
        (10, vec![]),
    ] {
        let read = store.read("s", after).expect("read");
        assert_eq!(kinds(&read), expected, "the records after {after}");
        assert!(read.iter().all(|r| r.seq > after));
    }
    assert_eq!(store.read("unknown", 0).expect("read"), []);
    assert_eq!(store.last_seq("unknown").expect("last"), 0);
}

pub fn streams_are_independent(f: &Fixture) {
    let store = f.events();
    for n in 0..3 {
        assert_eq!(
            store
                .append("a", n, &[Record::new(n, "a", json!(n))])
                .expect("appended"),
            n + 1
        );
        assert_eq!(
            store
                .append("b", n, &[Record::new(n, "b", json!(n))])
                .expect("appended"),
            n + 1
        );
    }
    store
        .append("a", 0, &[Record::new(9, "a", json!(9))])
        .expect_err("a is at 3");
    assert_eq!(
        store
            .append("b", 3, &[Record::new(9, "b", json!(9))])
            .expect("appended"),
        4
    );
    let a = store.read("a", 0).expect("read");
    assert_eq!(
        a.iter()
            .map(|r| (r.seq, r.body.clone()))
            .collect::<Vec<_>>(),
        [(1, json!(0)), (2, json!(1)), (3, json!(2))]
    );
    assert_eq!(kinds(&store.read("b", 0).expect("read")), ["b"; 4]);
    assert_eq!(store.last_seq("a").expect("last"), 3);
    assert_eq!(store.last_seq("b").expect("last"), 4);
}

pub fn streams_are_listed_by_literal_prefix(f: &Fixture) {
    let store = f.events();
    for stream in [
        "rollout/web",
        "run/1",
        "rollout/api",
        "rollout_x",
        "rollout%",
    ] {
        store
            .append(
                stream,
                0,
                &[Record::new(1, "a", json!(1)), Record::new(2, "b", json!(2))],
            )
            .expect("appended");
    }
    // In byte order, each once however many records it holds; no character is a wildcard.
    assert_eq!(
        store.streams("rollout/").expect("streams"),
        ["rollout/api", "rollout/web"]
    );
    assert_eq!(
        store.streams("").expect("streams"),
        [
            "rollout%",
            "rollout/api",
            "rollout/web",
            "rollout_x",
            "run/1"
        ]
    );
    assert_eq!(store.streams("rollout%").expect("streams"), ["rollout%"]);
    assert_eq!(
        store.streams("r_n/").expect("streams"),
        Vec::<String>::new()
    );
    assert_eq!(
        store.streams("run/1/").expect("streams"),
        Vec::<String>::new()
    );
}

pub fn concurrent_appends_at_one_position_admit_exactly_one(f: &Fixture) {
    const WRITERS: usize = 8;
    let handles: Vec<_> = (0..WRITERS).map(|_| f.events()).collect();
    handles[0]
        .append("s", 0, &[Record::new(1, "first", json!(0))])
        .expect("appended");
    let results = race(WRITERS, |i| {
        let kind = format!("writer {i}");
        let batch = [
            Record::new(2, &kind, json!(i)),
            Record::new(3, &kind, json!(i)),
        ];
        handles[i].append("s", 1, &batch)
    });
    let winners: Vec<usize> = (0..WRITERS).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "one writer wins: {results:?}");
    for (i, result) in results.iter().enumerate() {
        match result {
            Ok(last) => assert_eq!(*last, 3),
            Err(e) => assert!(
                matches!(
                    e,
                    StoreError::Conflict {
                        expected: 1,
                        actual: 3,
                        ..
                    }
                ),
                "writer {i} lost with a conflict: {e:?}"
            ),
        }
    }
    let winner = format!("writer {}", winners[0]);
    assert_eq!(
        kinds(&handles[0].read("s", 0).expect("read")),
        ["first", winner.as_str(), winner.as_str()]
    );
}
