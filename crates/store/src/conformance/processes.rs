//! Several handles on one store, as several processes on one data directory have: they
//! open it at once, and each sees the others' commits as soon as they are made.

use serde_json::json;

use super::Fixture;
use super::support::{gate, new_run, race, review, wait_at_gate};
use crate::{Record, Snapshot};

pub fn a_new_store_opened_by_many_at_once_opens_for_each(f: &Fixture) {
    const OPENERS: usize = 6;
    // Half open the event store, half the run history; any that fails fails the race.
    race(OPENERS, |i| {
        if i % 2 == 0 {
            f.events().last_seq("s").expect("read");
        } else {
            f.runs().list(None, 1).expect("listed");
        }
    });
    let number = f.runs().create(&new_run("ci", 1_000), 1).expect("created");
    assert_eq!(number, 1);
    assert_eq!(f.events().streams("").expect("streams"), ["run/1"]);
}

pub fn a_second_handle_sees_each_commit_at_once(f: &Fixture) {
    let (events, runs) = (f.events(), f.runs());
    let (other_events, other_runs) = (f.events(), f.runs());
    // Read first, so that a handle holding on to an old view would show it.
    assert_eq!(other_events.read("s", 0).expect("read"), []);
    assert_eq!(other_runs.list(None, 10).expect("listed"), []);

    events
        .append("s", 0, &[Record::new(1, "a", json!(1))])
        .expect("appended");
    assert_eq!(other_events.last_seq("s").expect("last"), 1);
    other_events
        .append("s", 0, &[Record::new(2, "stale", json!(2))])
        .expect_err("the other handle's append is seen by this one");
    other_events
        .append("s", 1, &[Record::new(2, "b", json!(2))])
        .expect("appended");
    assert_eq!(events.read("s", 0).expect("read").len(), 2);

    let snapshot = Snapshot {
        stream: "s".to_owned(),
        seq: 1,
        body: json!("one"),
    };
    events.save_snapshot(&snapshot).expect("saved");
    assert_eq!(other_events.snapshot("s").expect("loaded"), Some(snapshot));
    let revision = events
        .add_revision("api", "v1", &json!({}), 1)
        .expect("added");
    assert_eq!(other_events.revisions("api").expect("listed"), [revision]);
    assert_eq!(
        other_events
            .add_revision("api", "v2", &json!({}), 2)
            .expect("added")
            .number,
        2
    );

    let number = runs.create(&new_run("release", 1_000), 1).expect("created");
    assert_eq!(
        other_runs.run(number).expect("read"),
        runs.run(number).expect("read")
    );
    runs.start_attempt(number, 1, "alice", "abc", 1_100)
        .expect("started");
    wait_at_gate(runs.as_ref(), number, 1, "production");
    assert_eq!(
        other_runs.gates(number, 1).expect("gates"),
        [gate("ship", "production", 1_500, "waiting")]
    );
    other_runs
        .review(&review(number, "production", "bob", 2_000))
        .expect("the other handle sees the gate wait");
    assert_eq!(
        runs.reviews(number, 1, None).expect("reviews"),
        [review(number, "production", "bob", 2_000)]
    );
    assert_eq!(
        runs.events(number).expect("events"),
        other_runs.events(number).expect("events")
    );
}
