//! Retention: finished runs past an age are forgotten whole, in one transaction, never a run
//! still going on or the latest of its pipeline; old events of streams read whole are
//! forgotten, each stream's last kept so that its numbering goes on.

use super::Fixture;
use super::support::{gate, instance, job, new_run, review, wait_at_gate};
use crate::{Change, Record, RunHistory, RunStatus, run_stream};

/// When the checks' cut falls: runs that finished before it are old.
const CUT_MS: u64 = 5_000;

/// A run of `pipeline` that ends `status` at `at_ms`.
fn ended(runs: &dyn RunHistory, pipeline: &str, status: RunStatus, at_ms: u64) -> u64 {
    let number = runs.create(&new_run(pipeline, 1_000), 1).expect("created");
    runs.start_attempt(number, 1, "alice", "abc123", 1_100)
        .expect("started");
    set(runs, number, status, at_ms);
    number
}

fn set(runs: &dyn RunHistory, number: u64, status: RunStatus, at_ms: u64) {
    runs.record(
        number,
        &[Change::Status {
            attempt: 1,
            status,
            at_ms,
        }],
    )
    .expect("recorded");
}

/// Everything a run has, as the seam reads it back; `None` when nothing of it is left.
fn everything(runs: &dyn RunHistory, number: u64) -> Option<String> {
    let row = runs.run(number).expect("read");
    let jobs = runs.jobs(number, 1).expect("jobs");
    let instances = runs.instances(number, 1).expect("instances");
    let gates = runs.gates(number, 1).expect("gates");
    let reviews = runs.reviews(number, 1, None).expect("reviews");
    let events = runs.events(number).expect("events");
    let nothing = row.is_none()
        && jobs.is_empty()
        && instances.is_empty()
        && gates.is_empty()
        && reviews.is_empty()
        && events.is_empty();
    (!nothing).then(|| format!("{row:?} {jobs:?} {instances:?} {gates:?} {reviews:?} {events:?}"))
}

pub fn finished_runs_past_the_age_are_forgotten_with_everything_of_theirs(f: &Fixture) {
    let runs = f.runs();
    let runs = runs.as_ref();
    // An old run with a job, an instance, a gate and its review.
    let old = runs.create(&new_run("ci", 1_000), 1).expect("created");
    runs.start_attempt(old, 1, "alice", "abc123", 1_100)
        .expect("started");
    wait_at_gate(runs, old, 1, "production");
    runs.review(&review(old, "production", "bob", 1_600))
        .expect("reviewed");
    runs.record(
        old,
        &[
            Change::Gate {
                attempt: 1,
                row: gate("ship", "production", 1_500, "open"),
                at_ms: 1_700,
            },
            Change::Job {
                attempt: 1,
                row: job("ship", 0, Some("success")),
                at_ms: 1_800,
            },
            Change::Instance {
                attempt: 1,
                row: instance("ship", 0, 0, "success"),
            },
            Change::Status {
                attempt: 1,
                status: RunStatus::Success,
                at_ms: 2_000,
            },
        ],
    )
    .expect("recorded");
    let recent = ended(runs, "ci", RunStatus::Failure, CUT_MS + 1);
    let latest = ended(runs, "ci", RunStatus::Cancelled, 2_000);
    let kept = [recent, latest];
    assert!(everything(runs, old).is_some());
    let before: Vec<_> = kept.iter().map(|&n| everything(runs, n)).collect();

    assert_eq!(
        runs.forget_finished(CUT_MS, 100, &[]).expect("forgotten"),
        [old]
    );
    assert_eq!(everything(runs, old), None, "nothing of run {old} is left");
    let after: Vec<_> = kept.iter().map(|&n| everything(runs, n)).collect();
    assert_eq!(after, before, "the recent run and the latest are untouched");
    assert_eq!(
        runs.forget_finished(CUT_MS, 100, &[]).expect("forgotten"),
        [] as [u64; 0],
        "forgetting again finds nothing more"
    );
    let next = runs.create(&new_run("ci", 9_000), 1).expect("created");
    assert_eq!(next, latest + 1, "numbers go on from the latest, kept");
}

pub fn runs_going_on_and_the_latest_of_each_pipeline_are_kept(f: &Fixture) {
    let runs = f.runs();
    let runs = runs.as_ref();
    let waiting = runs.create(&new_run("deploy", 1_000), 1).expect("created");
    runs.start_attempt(waiting, 1, "alice", "abc123", 1_100)
        .expect("started");
    wait_at_gate(runs, waiting, 1, "production");
    let queued = runs.create(&new_run("deploy", 1_000), 1).expect("created");
    let running = ended(runs, "deploy", RunStatus::Running, 1_200);
    // Finished long ago, then started again by a rerun: going on.
    let rerun = ended(runs, "deploy", RunStatus::Failure, 1_300);
    runs.start_attempt(rerun, 2, "bob", "def456", 9_000)
        .expect("started again");
    let latest_deploy = ended(runs, "deploy", RunStatus::Success, 1_400);
    let latest_lint = ended(runs, "lint", RunStatus::Interrupted, 1_500);
    let all = [latest_lint, latest_deploy, rerun, running, queued, waiting];
    let listed = |runs: &dyn RunHistory| -> Vec<u64> {
        let rows = runs.list(None, 100).expect("listed");
        rows.iter().map(|r| r.number).collect()
    };
    assert_eq!(listed(runs), all);
    assert_eq!(
        runs.forget_finished(u64::MAX, 100, &[]).expect("forgotten"),
        [] as [u64; 0],
        "nothing finished is older than every cut but the latest of each pipeline"
    );
    assert_eq!(listed(runs), all);
    // Once the rerun's attempt ends, it is an old finished run like any other, unless the
    // caller keeps it.
    runs.record(
        rerun,
        &[Change::Status {
            attempt: 2,
            status: RunStatus::Success,
            at_ms: 2_000,
        }],
    )
    .expect("recorded");
    assert_eq!(
        runs.forget_finished(CUT_MS, 100, &[rerun, u64::MAX])
            .expect("forgotten"),
        [] as [u64; 0],
        "the caller keeps what it names"
    );
    assert_eq!(
        runs.forget_finished(CUT_MS, 100, &[]).expect("forgotten"),
        [rerun]
    );
}

pub fn forgetting_goes_oldest_first_at_most_the_limit_at_a_time(f: &Fixture) {
    let runs = f.runs();
    let runs = runs.as_ref();
    let numbers: Vec<u64> = (0..6)
        .map(|i| ended(runs, "ci", RunStatus::Success, 1_000 + i))
        .collect();
    let forget = || runs.forget_finished(CUT_MS, 2, &[]).expect("forgotten");
    assert_eq!(forget(), numbers[0..2]);
    assert_eq!(forget(), numbers[2..4]);
    assert_eq!(forget(), numbers[4..5], "the latest stays");
    assert_eq!(forget(), [] as [u64; 0]);
    let other = f.runs();
    let stream = run_stream(numbers[0]);
    assert_eq!(
        f.events().read(&stream, 0).expect("read"),
        [],
        "the run's stream is gone from the event store too"
    );
    assert!(other.run(numbers[5]).expect("read").is_some());
}

pub fn old_events_are_forgotten_but_each_streams_last(f: &Fixture) {
    let store = f.events();
    let store = store.as_ref();
    let record = |at_ms: u64| Record::new(at_ms, "analysis_run", serde_json::json!({"at": at_ms}));
    let append = |stream: &str, times: &[u64]| {
        let records: Vec<Record> = times.iter().map(|&t| record(t)).collect();
        store.append(stream, 0, &records).expect("appended");
    };
    append("analysis/api", &[1_000, 2_000, 3_000, CUT_MS + 1]);
    append("analysis/web", &[1_000, 2_000]);
    // Streams just below and just above the prefix in byte order, and elsewhere.
    let others = ["analysis", "analysis.x", "analysis0", "deploy/api"];
    for stream in others {
        append(stream, &[1_000, 2_000]);
    }
    let untouched: Vec<_> = others
        .iter()
        .map(|s| store.read(s, 0).expect("read"))
        .collect();

    assert_eq!(
        store.forget_events("analysis/", CUT_MS).expect("forgotten"),
        4
    );
    let seqs = |stream: &str| -> Vec<u64> {
        let records = store.read(stream, 0).expect("read");
        records.iter().map(|r| r.seq).collect()
    };
    assert_eq!(seqs("analysis/api"), [4]);
    assert_eq!(
        seqs("analysis/web"),
        [2],
        "a stream's last is kept, however old"
    );
    let after: Vec<_> = others
        .iter()
        .map(|s| store.read(s, 0).expect("read"))
        .collect();
    assert_eq!(after, untouched, "the prefix is literal");
    assert_eq!(store.last_seq("analysis/web").expect("last"), 2);
    assert_eq!(
        store
            .append("analysis/web", 2, &[record(9_000)])
            .expect("appended"),
        3,
        "appends number on after the kept last"
    );
    assert_eq!(
        store.forget_events("analysis/", CUT_MS).expect("forgotten"),
        1,
        "the old last of a stream goes once a newer one follows it"
    );
    assert_eq!(
        store.forget_events("analysis/", CUT_MS).expect("forgotten"),
        0
    );
}
