//! Reviews of a run's environment gates: accepted only while a gate of the run's current
//! attempt waits for that environment, once per person and attempt; a refused one leaves no
//! trace.

use super::Fixture;
use super::support::{gate, new_run, race, review, wait_at_gate, waiting_run};
use crate::{Change, GateRow, ReviewError, ReviewRow, RunHistory};

fn refused(runs: &dyn RunHistory, review: &ReviewRow) -> ReviewError {
    runs.review(review).expect_err("refused")
}

fn rejection(run: u64, environment: &str, by: &str, at_ms: u64) -> ReviewRow {
    ReviewRow {
        approved: false,
        comment: None,
        ..review(run, environment, by, at_ms)
    }
}

pub fn a_review_of_an_unknown_run_is_refused(f: &Fixture) {
    let runs = f.runs();
    let error = refused(runs.as_ref(), &review(9, "production", "bob", 2_000));
    assert!(matches!(error, ReviewError::NoRun(9)), "{error:?}");
    assert_eq!(error.to_string(), "run 9 does not exist");
    assert_eq!(runs.run(9).expect("read"), None);
    assert_eq!(runs.events(9).expect("events"), []);
}

pub fn a_review_is_accepted_only_while_a_gate_of_the_current_attempt_waits(f: &Fixture) {
    let runs = f.runs();
    let runs = runs.as_ref();
    let not_waiting = |run: u64, why: &str| {
        let error = refused(runs, &review(run, "production", "bob", 2_000));
        assert!(
            matches!(error, ReviewError::NotWaiting(_)),
            "{why}: {error:?}"
        );
    };

    let ungated = runs.create(&new_run("ci", 1_000), 1).expect("created");
    runs.start_attempt(ungated, 1, "alice", "abc", 1_100)
        .expect("started");
    not_waiting(ungated, "no gate");

    let staging = waiting_run(runs, "staging");
    not_waiting(staging, "a gate waits for another environment");
    runs.review(&review(staging, "staging", "bob", 2_000))
        .expect("the environment it waits for");

    let decided = waiting_run(runs, "production");
    let opened = GateRow {
        state: "open".to_owned(),
        decided_ms: Some(1_600),
        ..gate("ship", "production", 1_500, "waiting")
    };
    runs.record(
        decided,
        &[Change::Gate {
            attempt: 1,
            row: opened,
            at_ms: 1_600,
        }],
    )
    .expect("recorded");
    not_waiting(decided, "the gate was decided");

    let rerun = waiting_run(runs, "production");
    runs.start_attempt(rerun, 2, "alice", "abc", 3_000)
        .expect("started");
    not_waiting(rerun, "the gate that waits is an earlier attempt's");
    wait_at_gate(runs, rerun, 2, "production");
    runs.review(&review(rerun, "production", "bob", 3_500))
        .expect("the current attempt's gate waits");

    let interrupted = waiting_run(runs, "production");
    runs.interrupt(interrupted, 2_500, "gone")
        .expect("interrupted");
    not_waiting(interrupted, "the run was interrupted");

    assert_eq!(
        runs.reviews(staging, 1, None).expect("reviews"),
        [review(staging, "staging", "bob", 2_000)]
    );
    assert_eq!(
        runs.reviews(rerun, 2, None).expect("reviews"),
        [review(rerun, "production", "bob", 3_500)]
    );
    for run in [ungated, decided, interrupted] {
        assert_eq!(runs.reviews(run, 1, None).expect("reviews"), []);
    }
}

pub fn each_person_reviews_an_environment_once_per_attempt(f: &Fixture) {
    let runs = f.runs();
    let runs = runs.as_ref();
    let number = waiting_run(runs, "production");
    runs.review(&review(number, "production", "bob", 2_000))
        .expect("reviewed");
    let twice = refused(runs, &rejection(number, "production", "bob", 2_100));
    assert!(
        matches!(&twice, ReviewError::Twice { run, environment, by, approved: true }
            if *run == number && environment == "production" && by == "bob"),
        "the first answer stands: {twice:?}"
    );
    assert_eq!(
        twice.to_string(),
        format!("bob has already approved environment `production` of run {number}")
    );
    runs.review(&rejection(number, "production", "carol", 2_200))
        .expect("another person");
    let twice = refused(runs, &review(number, "production", "carol", 2_300));
    assert!(
        matches!(
            twice,
            ReviewError::Twice {
                approved: false,
                ..
            }
        ),
        "{twice:?}"
    );
    assert_eq!(
        runs.reviews(number, 1, Some("production"))
            .expect("reviews"),
        [
            review(number, "production", "bob", 2_000),
            rejection(number, "production", "carol", 2_200)
        ]
    );

    runs.start_attempt(number, 2, "alice", "abc123", 3_000)
        .expect("started");
    wait_at_gate(runs, number, 2, "production");
    runs.review(&review(number, "production", "bob", 3_500))
        .expect("a new attempt is reviewed anew");
    assert_eq!(
        runs.reviews(number, 2, None).expect("reviews"),
        [review(number, "production", "bob", 3_500)]
    );
    assert_eq!(runs.reviews(number, 1, None).expect("reviews").len(), 2);
}

pub fn a_refused_review_writes_nothing(f: &Fixture) {
    let runs = f.runs();
    let runs = runs.as_ref();
    let number = waiting_run(runs, "production");
    runs.review(&review(number, "production", "bob", 2_000))
        .expect("reviewed");
    let read = || {
        (
            runs.run(number).expect("read"),
            runs.gates(number, 1).expect("gates"),
            runs.reviews(number, 1, None).expect("reviews"),
            runs.events(number).expect("events"),
        )
    };
    let before = read();
    for review in [
        rejection(number, "production", "bob", 2_100),
        review(number, "staging", "dave", 2_200),
        review(number + 1, "production", "dave", 2_300),
    ] {
        let error = refused(runs, &review);
        assert_eq!(read(), before, "after {error}");
    }
    assert_eq!(runs.run(number + 1).expect("read"), None);
    assert_eq!(runs.events(number + 1).expect("events"), []);
}

pub fn reviews_are_listed_oldest_first_per_environment(f: &Fixture) {
    let runs = f.runs();
    let runs = runs.as_ref();
    let number = waiting_run(runs, "production");
    runs.record(
        number,
        &[Change::Gate {
            attempt: 1,
            row: gate("canary", "staging", 1_500, "waiting"),
            at_ms: 1_500,
        }],
    )
    .expect("recorded");
    let carol = review(number, "production", "carol", 3_000);
    let dave = rejection(number, "production", "dave", 2_000);
    let bob = review(number, "production", "bob", 3_000);
    let erin = review(number, "staging", "erin", 2_500);
    for r in [&carol, &dave, &bob, &erin] {
        runs.review(r).expect("reviewed");
    }
    // Oldest first; at the same time, by name.
    assert_eq!(
        runs.reviews(number, 1, Some("production"))
            .expect("reviews"),
        [dave.clone(), bob.clone(), carol.clone()]
    );
    assert_eq!(
        runs.reviews(number, 1, None).expect("reviews"),
        [dave, erin.clone(), bob, carol]
    );
    assert_eq!(
        runs.reviews(number, 1, Some("staging")).expect("reviews"),
        [erin]
    );
    assert_eq!(runs.reviews(number, 2, None).expect("reviews"), []);
}

pub fn concurrent_reviews_by_one_person_admit_one(f: &Fixture) {
    const REVIEWERS: usize = 6;
    let handles: Vec<_> = (0..REVIEWERS).map(|_| f.runs()).collect();
    let number = waiting_run(handles[0].as_ref(), "production");
    let attempts: Vec<ReviewRow> = (0..REVIEWERS)
        .map(|i| ReviewRow {
            approved: i % 2 == 0,
            comment: Some(format!("try {i}")),
            ..review(number, "production", "bob", 2_000 + i as u64)
        })
        .collect();
    let results = race(REVIEWERS, |i| handles[i].review(&attempts[i]));
    let winners: Vec<usize> = (0..REVIEWERS).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "one review of bob's stands: {results:?}");
    let winner = &attempts[winners[0]];
    for result in &results {
        if let Err(e) = result {
            assert!(
                matches!(e, ReviewError::Twice { approved, .. } if *approved == winner.approved),
                "the others are told of the one that stands: {e:?}"
            );
        }
    }
    assert_eq!(
        handles[0].reviews(number, 1, None).expect("reviews"),
        std::slice::from_ref(winner)
    );
    let answers = handles[0]
        .events(number)
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == "approved" || e.kind == "rejected")
        .count();
    assert_eq!(answers, 1);
}
