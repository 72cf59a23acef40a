//! Run history in a real SQLite file: numbering, attempts, changes in batches, reviews and
//! their refusals, interruption, and the events each leaves in the run's stream.

use std::collections::BTreeMap;

use bellwether_store::{
    Change, GateRow, JobRow, NewRun, ReviewError, ReviewRow, RunHistory, RunStatus, RunStore,
};

fn new_run(pipeline: &str) -> NewRun {
    NewRun {
        pipeline: pipeline.to_owned(),
        actor: "alice".to_owned(),
        summary: "push on branch `main`".to_owned(),
        trigger: serde_json::json!({"file": "bellwether.yaml"}),
        at_ms: 1_000,
    }
}

fn review(run: u64, by: &str, approved: bool) -> ReviewRow {
    ReviewRow {
        run,
        environment: "production".to_owned(),
        by: by.to_owned(),
        approved,
        comment: None,
        at_ms: 2_000,
    }
}

#[test]
fn runs_are_numbered_recorded_reviewed_and_interrupted() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("bellwether.db");
    let store = RunStore::open(&path).expect("opens");
    assert_eq!(store.create(&new_run("ci"), 1).expect("created"), 1);
    // Numbers never go back below the floor the caller knows of.
    assert_eq!(store.create(&new_run("release"), 7).expect("created"), 7);
    store
        .start_attempt(7, 1, "alice", "abc", 1_100)
        .expect("started");
    let job = JobRow {
        job: "build".to_owned(),
        position: 0,
        name: "build".to_owned(),
        conclusion: Some("success".to_owned()),
        message: None,
        outputs: BTreeMap::from([("version".to_owned(), "1.2".to_owned())]),
        reused_from: None,
    };
    let gate = GateRow {
        job: "ship".to_owned(),
        index: 0,
        environment: "production".to_owned(),
        since_ms: 1_500,
        state: "waiting".to_owned(),
        decided_ms: None,
    };
    store
        .record(
            7,
            &[
                Change::Job {
                    attempt: 1,
                    row: job.clone(),
                    at_ms: 1_200,
                },
                Change::Gate {
                    attempt: 1,
                    row: gate.clone(),
                    at_ms: 1_500,
                },
                Change::Status {
                    attempt: 1,
                    status: RunStatus::Waiting,
                    at_ms: 1_500,
                },
            ],
        )
        .expect("recorded");
    assert_eq!(store.jobs(7, 1).expect("jobs"), [job]);
    assert_eq!(store.gates(7, 1).expect("gates"), [gate]);

    assert!(matches!(
        store.review(&review(9, "bob", true)),
        Err(ReviewError::NoRun(9))
    ));
    assert!(matches!(
        store.review(&review(1, "bob", true)),
        Err(ReviewError::NotWaiting(_))
    ));
    store.review(&review(7, "bob", true)).expect("reviewed");
    let twice = store.review(&review(7, "bob", false)).expect_err("twice");
    assert_eq!(
        twice.to_string(),
        "bob has already approved environment `production` of run 7"
    );
    let reviews = store.reviews(7, 1, Some("production")).expect("reviews");
    assert_eq!(reviews, [review(7, "bob", true)]);

    // Reopening sees it all; an interrupted run's waiting gate is interrupted with it.
    drop(store);
    let store = RunStore::open(&path).expect("reopens");
    let unfinished: Vec<u64> = store
        .unfinished()
        .expect("unfinished")
        .iter()
        .map(|r| r.number)
        .collect();
    assert_eq!(unfinished, [1, 7]);
    assert!(store.interrupt(7, 3_000, "gone").expect("interrupted"));
    assert!(!store.interrupt(7, 3_100, "gone").expect("only once"));
    let run = store.run(7).expect("read").expect("run 7");
    assert_eq!(
        (run.status, run.finished_ms, run.sha.as_str()),
        (RunStatus::Interrupted, Some(3_000), "abc")
    );
    assert_eq!(store.gates(7, 1).expect("gates")[0].state, "interrupted");
    let kinds: Vec<String> = store
        .events(7)
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "created",
            "started",
            "job",
            "gate",
            "status",
            "approved",
            "interrupted"
        ]
    );
    let listed: Vec<(u64, String)> = store
        .list(None, 10)
        .expect("list")
        .into_iter()
        .map(|r| (r.number, r.pipeline))
        .collect();
    assert_eq!(listed, [(7, "release".to_owned()), (1, "ci".to_owned())]);
    assert_eq!(store.list(Some("ci"), 10).expect("list").len(), 1);
}

#[test]
fn two_processes_opening_a_new_file_at_once_both_succeed() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("bellwether.db");
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || RunStore::open(&path).is_ok())
        })
        .collect();
    assert!(threads.into_iter().all(|t| t.join().unwrap_or(false)));
}
