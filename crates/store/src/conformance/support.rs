//! What the checks build their cases from.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Barrier;
use std::thread;

use serde_json::json;

use crate::{GateRow, InstanceRow, JobRow, NewRun, Record, ReviewRow, RunHistory};

/// A time past what a signed 64-bit column holds: a backend may refuse to store it, and
/// then the operation must fail whole. The suite uses it to make an operation fail part way.
pub(super) const UNSTORABLE_MS: u64 = u64::MAX;

/// `record` as a store hands it back, at position `seq`.
pub(super) fn stored(seq: u64, record: &Record) -> Record {
    Record {
        seq,
        ..record.clone()
    }
}

pub(super) fn kinds(records: &[Record]) -> Vec<&str> {
    records.iter().map(|r| r.kind.as_str()).collect()
}

pub(super) fn new_run(pipeline: &str, at_ms: u64) -> NewRun {
    NewRun {
        pipeline: pipeline.to_owned(),
        actor: "alice".to_owned(),
        summary: "push on branch `main`".to_owned(),
        trigger: json!({"file": "bellwether.yaml", "inputs": {"debug": true}}),
        at_ms,
    }
}

pub(super) fn job(name: &str, position: u32, conclusion: Option<&str>) -> JobRow {
    JobRow {
        job: name.to_owned(),
        position,
        name: format!("{name} (linux)"),
        conclusion: conclusion.map(str::to_owned),
        message: None,
        outputs: BTreeMap::from([("version".to_owned(), "1.2".to_owned())]),
        reused_from: None,
    }
}

pub(super) fn instance(job: &str, index: u32, position: u32, status: &str) -> InstanceRow {
    InstanceRow {
        job: job.to_owned(),
        index,
        position,
        name: format!("{job} ({index})"),
        status: status.to_owned(),
        job_attempt: 1,
        started_ms: Some(1_300),
        finished_ms: None,
        message: None,
        steps: json!([{"name": "build", "status": status, "exit": null}]),
        logs: Some(format!("runs/1/{job}-{index}")),
    }
}

pub(super) fn gate(job: &str, environment: &str, since_ms: u64, state: &str) -> GateRow {
    GateRow {
        job: job.to_owned(),
        index: 0,
        environment: environment.to_owned(),
        since_ms,
        state: state.to_owned(),
        decided_ms: (state != "waiting").then_some(since_ms + 100),
    }
}

pub(super) fn review(run: u64, environment: &str, by: &str, at_ms: u64) -> ReviewRow {
    ReviewRow {
        run,
        environment: environment.to_owned(),
        by: by.to_owned(),
        approved: true,
        comment: Some(format!("{by} says yes")),
        at_ms,
    }
}

/// A run at its first attempt whose job `ship` waits for `environment`'s approval.
pub(super) fn waiting_run(runs: &dyn RunHistory, environment: &str) -> u64 {
    let number = runs.create(&new_run("release", 1_000), 1).expect("created");
    runs.start_attempt(number, 1, "alice", "abc123", 1_100)
        .expect("started");
    wait_at_gate(runs, number, 1, environment);
    number
}

/// Makes attempt `attempt` of run `number` wait for `environment`'s approval.
pub(super) fn wait_at_gate(runs: &dyn RunHistory, number: u64, attempt: u32, environment: &str) {
    runs.record(
        number,
        &[
            crate::Change::Gate {
                attempt,
                row: gate("ship", environment, 1_500, "waiting"),
                at_ms: 1_500,
            },
            crate::Change::Status {
                attempt,
                status: crate::RunStatus::Waiting,
                at_ms: 1_500,
            },
        ],
    )
    .expect("recorded");
}

/// Runs `work(i)` on `n` threads released at once, to race them; returns what each gave.
pub(super) fn race<T: Send>(n: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let start = Barrier::new(n);
    thread::scope(|scope| {
        let workers: Vec<_> = (0..n)
            .map(|i| {
                let (start, work) = (&start, &work);
                scope.spawn(move || {
                    start.wait();
                    work(i)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a racer finished"))
            .collect()
    })
}

/// That an operation which failed left `after` as it found `before`, and one which
/// succeeded left all of it (`all`).
pub(super) fn whole_or_nothing<T: PartialEq + Debug, E: Debug>(
    result: &Result<impl Debug, E>,
    before: &T,
    after: &T,
    all: &T,
) {
    match result {
        Ok(_) => assert_eq!(after, all, "a successful operation stored all of itself"),
        Err(e) => assert_eq!(
            after, before,
            "an operation that failed ({e:?}) stored part of itself"
        ),
    }
}
