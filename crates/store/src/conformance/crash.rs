//! Crash consistency: a store opened again sees exactly what was committed before, and
//! nothing of what failed.

use serde_json::json;

use super::Fixture;
use super::support::{instance, job, new_run, review, waiting_run};
use crate::{
    Change, GateRow, InstanceRow, JobRow, Record, ReviewRow, RunHistory, RunRow, RunStatus,
    Snapshot, Store, StoredRevision,
};

const SERVICES: [&str; 2] = ["api", "web"];

/// Everything the stores hold, as read through their handles.
#[derive(Debug, PartialEq)]
struct Contents {
    streams: Vec<(String, Vec<Record>, Option<Snapshot>)>,
    revisions: Vec<StoredRevision>,
    runs: Vec<RunContents>,
}

#[derive(Debug, PartialEq)]
struct RunContents {
    row: RunRow,
    /// From attempt 0 to the run's latest.
    attempts: Vec<AttemptContents>,
    events: Vec<Record>,
}

#[derive(Debug, PartialEq)]
struct AttemptContents {
    jobs: Vec<JobRow>,
    instances: Vec<InstanceRow>,
    gates: Vec<GateRow>,
    reviews: Vec<ReviewRow>,
}

fn contents(events: &dyn Store, runs: &dyn RunHistory) -> Contents {
    let streams = events
        .streams("")
        .expect("streams")
        .into_iter()
        .map(|stream| {
            let records = events.read(&stream, 0).expect("read");
            let snapshot = events.snapshot(&stream).expect("snapshot");
            (stream, records, snapshot)
        })
        .collect();
    let revisions = SERVICES
        .iter()
        .flat_map(|service| events.revisions(service).expect("revisions"))
        .collect();
    let runs = runs
        .list(None, u32::MAX)
        .expect("listed")
        .into_iter()
        .map(|row| {
            let n = row.number;
            let attempts = (0..=row.attempt)
                .map(|a| AttemptContents {
                    jobs: runs.jobs(n, a).expect("jobs"),
                    instances: runs.instances(n, a).expect("instances"),
                    gates: runs.gates(n, a).expect("gates"),
                    reviews: runs.reviews(n, a, None).expect("reviews"),
                })
                .collect();
            RunContents {
                events: runs.events(n).expect("events"),
                row,
                attempts,
            }
        })
        .collect();
    Contents {
        streams,
        revisions,
        runs,
    }
}

/// Some of everything: streams with a snapshot, pruned revisions, and runs finished,
/// waiting with a review, and only created.
fn write_everything(events: &dyn Store, runs: &dyn RunHistory) {
    let api: Vec<Record> = (1..=3)
        .map(|n| Record::new(n, "e", json!({"n": n})))
        .collect();
    events.append("rollout/api", 0, &api).expect("appended");
    events
        .append("rollout/web", 0, &api[..2])
        .expect("appended");
    events
        .save_snapshot(&Snapshot {
            stream: "rollout/api".to_owned(),
            seq: 2,
            body: json!({"state": "at 2"}),
        })
        .expect("saved");
    for v in 1..=4 {
        events
            .add_revision("api", &format!("v{v}"), &json!({"v": v}), v)
            .expect("added");
    }
    events
        .add_revision("web", "w1", &json!(null), 9)
        .expect("added");
    events.prune_revisions("api", 2, &[1]).expect("pruned");

    let done = runs.create(&new_run("ci", 1_000), 1).expect("created");
    runs.start_attempt(done, 1, "alice", "abc", 1_100)
        .expect("started");
    runs.record(
        done,
        &[
            Change::Instance {
                attempt: 1,
                row: instance("build", 0, 0, "success"),
            },
            Change::Job {
                attempt: 1,
                row: job("build", 0, Some("success")),
                at_ms: 1_200,
            },
            Change::Status {
                attempt: 1,
                status: RunStatus::Success,
                at_ms: 1_300,
            },
        ],
    )
    .expect("recorded");
    let waiting = waiting_run(runs, "production");
    runs.review(&review(waiting, "production", "bob", 2_000))
        .expect("reviewed");
    runs.create(&new_run("ci", 3_000), 5).expect("created");
}

pub fn reopening_sees_exactly_what_was_committed(f: &Fixture) {
    let committed = {
        let (events, runs) = (f.events(), f.runs());
        write_everything(events.as_ref(), runs.as_ref());
        contents(events.as_ref(), runs.as_ref())
    };
    assert_eq!(
        committed.streams.len(),
        5,
        "two rollouts' streams and three runs'"
    );
    assert_eq!(committed.revisions.len(), 4, "api 1, 3, 4 and web 1");
    assert_eq!(committed.runs.len(), 3);
    let (events, runs) = (f.events(), f.runs());
    assert_eq!(contents(events.as_ref(), runs.as_ref()), committed);
}

pub fn reopening_sees_nothing_of_what_failed(f: &Fixture) {
    let committed = {
        let (events, runs) = (f.events(), f.runs());
        let (events, runs) = (events.as_ref(), runs.as_ref());
        write_everything(events, runs);
        let committed = contents(events, runs);
        let late = [
            Record::new(9, "late", json!(9)),
            Record::new(10, "late", json!(10)),
        ];
        events
            .append("rollout/api", 1, &late)
            .expect_err("the stream is at 3");
        events
            .append("rollout/new", 4, &late)
            .expect_err("new is at 0");
        let with_status = |status| {
            let run = committed.runs.iter().find(|r| r.row.status == status);
            run.expect("a run of each status").row.number
        };
        let (waiting, finished) = (
            with_status(RunStatus::Waiting),
            with_status(RunStatus::Success),
        );
        runs.review(&review(waiting, "production", "bob", 2_100))
            .expect_err("bob has reviewed");
        runs.review(&review(waiting, "staging", "carol", 2_100))
            .expect_err("no gate waits for staging");
        runs.review(&review(finished, "production", "carol", 2_100))
            .expect_err("the run has finished");
        assert!(!runs.interrupt(finished, 4_000, "late").expect("answered"));
        assert_eq!(contents(events, runs), committed);
        committed
    };
    let (events, runs) = (f.events(), f.runs());
    assert_eq!(contents(events.as_ref(), runs.as_ref()), committed);
}
