//! Run history: a run's life from its creation through its attempts, jobs, instances, gates
//! and end; each change also an event of the run's stream; each call whole or not at all.

use serde_json::json;

use super::Fixture;
use super::support::{
    UNSTORABLE_MS, gate, instance, job, kinds, new_run, race, review, waiting_run,
};
use crate::{
    Change, GateRow, InstanceRow, JobRow, NewRun, Record, ReviewRow, RunHistory, RunRow, RunStatus,
    run_stream,
};

fn status(attempt: u32, status: RunStatus, at_ms: u64) -> Change {
    Change::Status {
        attempt,
        status,
        at_ms,
    }
}

fn job_change(attempt: u32, row: JobRow, at_ms: u64) -> Change {
    Change::Job {
        attempt,
        row,
        at_ms,
    }
}

fn gate_change(attempt: u32, row: GateRow, at_ms: u64) -> Change {
    Change::Gate {
        attempt,
        row,
        at_ms,
    }
}

fn instance_change(attempt: u32, row: InstanceRow) -> Change {
    Change::Instance { attempt, row }
}

/// A run of `pipeline` at its first attempt.
fn started_run(runs: &dyn RunHistory, pipeline: &str) -> u64 {
    let number = runs.create(&new_run(pipeline, 1_000), 1).expect("created");
    runs.start_attempt(number, 1, "alice", "abc123", 1_100)
        .expect("started");
    number
}

fn run(runs: &dyn RunHistory, number: u64) -> RunRow {
    runs.run(number)
        .expect("read")
        .unwrap_or_else(|| panic!("run {number} exists"))
}

fn listed(rows: Vec<RunRow>) -> Vec<u64> {
    rows.iter().map(|r| r.number).collect()
}

pub fn runs_are_numbered_one_up_and_never_below_the_floor(f: &Fixture) {
    let runs = f.runs();
    let create = |floor| runs.create(&new_run("ci", 1_000), floor).expect("created");
    assert_eq!(create(0), 1);
    assert_eq!(create(1), 2);
    assert_eq!(create(7), 7, "numbers taken outside the store are skipped");
    assert_eq!(create(3), 8, "a lower floor never takes a number back");
    assert_eq!(listed(runs.list(None, 10).expect("listed")), [8, 7, 2, 1]);
}

pub fn a_new_run_is_running_before_its_first_attempt(f: &Fixture) {
    let runs = f.runs();
    let new = new_run("ci", 1_000);
    let number = runs.create(&new, 1).expect("created");
    let expected = RunRow {
        number,
        pipeline: "ci".to_owned(),
        attempt: 0,
        status: RunStatus::Running,
        actor: "alice".to_owned(),
        summary: new.summary.clone(),
        sha: String::new(),
        trigger: new.trigger.clone(),
        started_ms: 1_000,
        finished_ms: None,
    };
    assert_eq!(runs.run(number).expect("read"), Some(expected));
    assert_eq!(runs.run(number + 1).expect("read"), None);
    let created = Record {
        seq: 1,
        at_ms: 1_000,
        kind: "created".to_owned(),
        body: json!({"pipeline": "ci", "actor": "alice", "summary": new.summary}),
    };
    assert_eq!(runs.events(number).expect("events"), [created]);
    assert_eq!(runs.jobs(number, 0).expect("jobs"), []);
    assert_eq!(runs.instances(number, 0).expect("instances"), []);
    assert_eq!(runs.gates(number, 0).expect("gates"), []);
    assert_eq!(runs.reviews(number, 0, None).expect("reviews"), []);
}

pub fn an_attempt_starts_with_its_commit_and_clears_the_finish(f: &Fixture) {
    let runs = f.runs();
    let runs = runs.as_ref();
    let number = runs.create(&new_run("ci", 1_000), 1).expect("created");
    runs.start_attempt(number, 1, "alice", "abc", 1_100)
        .expect("started");
    let first = run(runs, number);
    assert_eq!(
        (
            first.attempt,
            first.sha.as_str(),
            first.status,
            first.finished_ms
        ),
        (1, "abc", RunStatus::Running, None)
    );
    let built = job("build", 0, Some("success"));
    runs.record(
        number,
        &[
            job_change(1, built.clone(), 1_200),
            status(1, RunStatus::Failure, 2_000),
        ],
    )
    .expect("recorded");
    assert_eq!(run(runs, number).finished_ms, Some(2_000));

    runs.start_attempt(number, 2, "bob", "def", 3_000)
        .expect("started");
    let second = run(runs, number);
    assert_eq!(
        (
            second.attempt,
            second.sha.as_str(),
            second.status,
            second.finished_ms
        ),
        (2, "def", RunStatus::Running, None)
    );
    assert_eq!(
        runs.jobs(number, 1).expect("jobs"),
        [built],
        "attempt 1 stays"
    );
    assert_eq!(runs.jobs(number, 2).expect("jobs"), []);
    let starts: Vec<_> = runs
        .events(number)
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == "started")
        .map(|e| (e.at_ms, e.body))
        .collect();
    assert_eq!(
        starts,
        [
            (1_100, json!({"attempt": 1, "actor": "alice", "sha": "abc"})),
            (3_000, json!({"attempt": 2, "actor": "bob", "sha": "def"})),
        ]
    );
}

pub fn a_final_status_finishes_the_attempt(f: &Fixture) {
    let runs = f.runs();
    let runs = runs.as_ref();
    let number = started_run(runs, "ci");
    for (at_ms, (next, finished)) in (2_000..).zip([
        (RunStatus::Queued, false),
        (RunStatus::Running, false),
        (RunStatus::Waiting, false),
        (RunStatus::Success, true),
        (RunStatus::Running, false),
        (RunStatus::Failure, true),
        (RunStatus::Cancelled, true),
        (RunStatus::Interrupted, true),
    ]) {
        runs.record(number, &[status(1, next, at_ms)])
            .expect("recorded");
        let row = run(runs, number);
        assert_eq!(
            (row.status, row.finished_ms),
            (next, finished.then_some(at_ms)),
            "after {next}"
        );
    }
}

pub fn a_status_of_an_older_attempt_leaves_the_run_alone(f: &Fixture) {
    let runs = f.runs();
    let runs = runs.as_ref();
    let number = started_run(runs, "ci");
    runs.start_attempt(number, 2, "bob", "def", 2_000)
        .expect("started");
    let before = run(runs, number);
    // The first attempt's writer, late.
    runs.record(number, &[status(1, RunStatus::Success, 2_500)])
        .expect("recorded");
    assert_eq!(run(runs, number), before);
}

pub fn jobs_are_kept_per_attempt_in_the_pipeline_order(f: &Fixture) {
    let runs = f.runs();
    let runs = runs.as_ref();
    let number = started_run(runs, "ci");
    let deploy = job("deploy", 2, None);
    let build = job("build", 0, None);
    let test = JobRow {
        message: Some("exit status 1".to_owned()),
        outputs: Default::default(),
        ..job("test", 1, Some("failure"))
    };
    runs.record(
        number,
        &[
            job_change(1, deploy.clone(), 1_200),
            job_change(1, build, 1_200),
            job_change(1, test.clone(), 1_300),
        ],
    )
    .expect("recorded");
    // A job recorded again is that job, as it is now.
    let built = JobRow {
        outputs: [("version".to_owned(), "1.3".to_owned())].into(),
        ..job("build", 0, Some("success"))
    };
    runs.record(number, &[job_change(1, built.clone(), 1_400)])
        .expect("recorded");
    assert_eq!(
        runs.jobs(number, 1).expect("jobs"),
        [built.clone(), test, deploy]
    );

    runs.start_attempt(number, 2, "bob", "abc123", 2_000)
        .expect("started");
    let kept = JobRow {
        reused_from: Some(1),
        ..built
    };
    runs.record(number, &[job_change(2, kept.clone(), 2_000)])
        .expect("recorded");
    assert_eq!(runs.jobs(number, 2).expect("jobs"), [kept]);
    assert_eq!(runs.jobs(number, 1).expect("jobs").len(), 3);
}

pub fn instances_are_kept_per_attempt_in_the_pipeline_order(f: &Fixture) {
    let runs = f.runs();
    let runs = runs.as_ref();
    let number = started_run(runs, "ci");
    let events_before = runs.events(number).expect("events");
    let build = instance("build", 0, 0, "success");
    let test_0 = instance("test", 0, 1, "running");
    let test_1 = instance("test", 1, 1, "pending");
    runs.record(
        number,
        &[
            instance_change(1, test_1.clone()),
            instance_change(1, test_0.clone()),
            instance_change(1, build.clone()),
        ],
    )
    .expect("recorded");
    assert_eq!(
        runs.instances(number, 1).expect("instances"),
        [build.clone(), test_0.clone(), test_1]
    );
    let test_1 = InstanceRow {
        status: "failure".to_owned(),
        job_attempt: 2,
        finished_ms: Some(1_900),
        message: Some("exit status 2".to_owned()),
        steps: json!([{"name": "test", "status": "failure", "exit": 2}]),
        ..instance("test", 1, 1, "failure")
    };
    runs.record(number, &[instance_change(1, test_1.clone())])
        .expect("recorded");
    assert_eq!(
        runs.instances(number, 1).expect("instances"),
        [build, test_0, test_1]
    );
    assert_eq!(runs.instances(number, 2).expect("instances"), []);
    assert_eq!(
        runs.events(number).expect("events"),
        events_before,
        "instances are rows, not events"
    );
}

pub fn gates_are_kept_and_decided(f: &Fixture) {
    let runs = f.runs();
    let runs = runs.as_ref();
    let number = started_run(runs, "ci");
    let ship = gate("ship", "production", 1_500, "waiting");
    let canary = gate("canary", "staging", 1_200, "waiting");
    runs.record(
        number,
        &[
            gate_change(1, ship.clone(), 1_500),
            gate_change(1, canary.clone(), 1_200),
        ],
    )
    .expect("recorded");
    assert_eq!(
        runs.gates(number, 1).expect("gates"),
        [canary.clone(), ship.clone()],
        "oldest first"
    );
    let opened = GateRow {
        state: "open".to_owned(),
        decided_ms: Some(1_600),
        ..ship
    };
    runs.record(number, &[gate_change(1, opened.clone(), 1_600)])
        .expect("recorded");
    assert_eq!(runs.gates(number, 1).expect("gates"), [canary, opened]);
    assert_eq!(runs.gates(number, 2).expect("gates"), []);
}

pub fn changes_are_recorded_all_or_nothing(f: &Fixture) {
    let runs = f.runs();
    let runs = runs.as_ref();
    let number = started_run(runs, "ci");
    let read = || {
        (
            run(runs, number),
            runs.jobs(number, 1).expect("jobs"),
            runs.instances(number, 1).expect("instances"),
            runs.gates(number, 1).expect("gates"),
            runs.events(number).expect("events"),
        )
    };
    let before = read();
    let built = job("build", 0, Some("success"));
    let building = instance("build", 0, 0, "success");
    let waiting = gate("ship", "production", 1_500, "waiting");
    let changes = [
        job_change(1, built.clone(), 1_200),
        Change::Note {
            attempt: 1,
            job: None,
            text: "a note from far in the future".to_owned(),
            at_ms: UNSTORABLE_MS,
        },
        instance_change(1, building.clone()),
        gate_change(1, waiting.clone(), 1_500),
        status(1, RunStatus::Waiting, 1_500),
    ];
    let result = runs.record(number, &changes);
    let after = read();
    match result {
        Err(e) => assert_eq!(
            after, before,
            "a batch that failed ({e:?}) wrote part of itself"
        ),
        Ok(()) => {
            let (row, jobs, instances, gates, events) = after;
            assert_eq!(row.status, RunStatus::Waiting);
            assert_eq!(
                (jobs, instances, gates),
                (vec![built], vec![building], vec![waiting])
            );
            assert_eq!(
                kinds(&events[before.4.len()..]),
                ["job", "note", "gate", "status"]
            );
        }
    }
}

pub fn a_run_that_fails_to_be_created_writes_nothing(f: &Fixture) {
    let runs = f.runs();
    let runs = runs.as_ref();
    let first = runs.create(&new_run("ci", 1_000), 1).expect("created");
    let result = runs.create(
        &NewRun {
            at_ms: UNSTORABLE_MS,
            ..new_run("release", 0)
        },
        1,
    );
    match result {
        Err(_) => {
            assert_eq!(listed(runs.list(None, 10).expect("listed")), [first]);
            assert_eq!(runs.events(first + 1).expect("events"), []);
            let next = runs.create(&new_run("ci", 2_000), 1).expect("created");
            assert_eq!(next, first + 1, "no number is lost");
        }
        Ok(number) => {
            assert_eq!(run(runs, number).started_ms, UNSTORABLE_MS);
            assert_eq!(kinds(&runs.events(number).expect("events")), ["created"]);
        }
    }
}

pub fn the_run_stream_tells_each_change(f: &Fixture) {
    let runs = f.runs();
    let runs = runs.as_ref();
    let number = runs.create(&new_run("release", 1_000), 1).expect("created");
    runs.start_attempt(number, 1, "alice", "abc", 1_100)
        .expect("started");
    let ship = gate("ship", "production", 1_500, "waiting");
    let canary = gate("canary", "staging", 1_500, "waiting");
    runs.record(
        number,
        &[
            // Neither an instance nor a job that has not ended is an event.
            instance_change(1, instance("build", 0, 0, "running")),
            job_change(1, job("build", 0, None), 1_150),
            job_change(1, job("build", 0, Some("success")), 1_200),
            gate_change(1, ship.clone(), 1_500),
            gate_change(1, canary, 1_500),
            status(1, RunStatus::Waiting, 1_500),
            Change::Note {
                attempt: 1,
                job: Some("ship".to_owned()),
                text: "waits for production".to_owned(),
                at_ms: 1_500,
            },
        ],
    )
    .expect("recorded");
    runs.review(&review(number, "production", "bob", 2_000))
        .expect("reviewed");
    let rejection = ReviewRow {
        approved: false,
        comment: None,
        ..review(number, "staging", "carol", 2_050)
    };
    runs.review(&rejection).expect("reviewed");
    let opened = GateRow {
        state: "open".to_owned(),
        decided_ms: Some(2_100),
        ..ship
    };
    runs.record(number, &[gate_change(1, opened, 2_100)])
        .expect("recorded");
    assert!(runs.interrupt(number, 3_000, "gone").expect("interrupted"));

    let expected = [
        (
            1_000,
            "created",
            json!({"pipeline": "release", "actor": "alice", "summary": "push on branch `main`"}),
        ),
        (
            1_100,
            "started",
            json!({"attempt": 1, "actor": "alice", "sha": "abc"}),
        ),
        (
            1_200,
            "job",
            json!({"attempt": 1, "job": "build", "conclusion": "success", "message": null}),
        ),
        (
            1_500,
            "gate",
            json!({"attempt": 1, "job": "ship", "index": 0, "environment": "production", "state": "waiting"}),
        ),
        (
            1_500,
            "gate",
            json!({"attempt": 1, "job": "canary", "index": 0, "environment": "staging", "state": "waiting"}),
        ),
        (1_500, "status", json!({"attempt": 1, "status": "waiting"})),
        (
            1_500,
            "note",
            json!({"attempt": 1, "job": "ship", "text": "waits for production"}),
        ),
        (
            2_000,
            "approved",
            json!({"attempt": 1, "environment": "production", "by": "bob", "comment": "bob says yes"}),
        ),
        (
            2_050,
            "rejected",
            json!({"attempt": 1, "environment": "staging", "by": "carol", "comment": null}),
        ),
        (
            2_100,
            "gate",
            json!({"attempt": 1, "job": "ship", "index": 0, "environment": "production", "state": "open"}),
        ),
        (3_000, "interrupted", json!({"why": "gone"})),
    ];
    let expected: Vec<Record> = (1..)
        .zip(expected)
        .map(|(seq, (at_ms, kind, body))| Record {
            seq,
            at_ms,
            kind: kind.to_owned(),
            body,
        })
        .collect();
    assert_eq!(runs.events(number).expect("events"), expected);
}

pub fn a_run_stream_is_a_stream_of_the_event_store(f: &Fixture) {
    let runs = f.runs();
    let number = waiting_run(runs.as_ref(), "production");
    let events = f.events();
    let stream = run_stream(number);
    let recorded = runs.events(number).expect("events");
    assert_eq!(events.read(&stream, 0).expect("read"), recorded);
    assert_eq!(
        events.last_seq(&stream).expect("last"),
        recorded.len() as u64
    );
    assert_eq!(events.streams("run/").expect("streams"), [stream]);
}

pub fn runs_are_listed_newest_first_by_pipeline_up_to_a_limit(f: &Fixture) {
    let runs = f.runs();
    let runs = runs.as_ref();
    for pipeline in ["ci", "release", "ci", "ci"] {
        started_run(runs, pipeline);
    }
    let all = runs.list(None, 10).expect("listed");
    assert_eq!(listed(all.clone()), [4, 3, 2, 1]);
    for row in &all {
        assert_eq!(row, &run(runs, row.number), "a listed run is the run");
    }
    let list = |pipeline, limit| listed(runs.list(pipeline, limit).expect("listed"));
    assert_eq!(list(Some("ci"), 10), [4, 3, 1]);
    assert_eq!(list(Some("ci"), 2), [4, 3]);
    assert_eq!(list(Some("release"), 10), [2]);
    assert_eq!(list(Some("unknown"), 10), Vec::<u64>::new());
    assert_eq!(list(None, 0), Vec::<u64>::new());
}

pub fn unfinished_runs_are_the_running_the_waiting_and_the_queued(f: &Fixture) {
    let runs = f.runs();
    let runs = runs.as_ref();
    for last in [
        RunStatus::Running,
        RunStatus::Waiting,
        RunStatus::Queued,
        RunStatus::Success,
        RunStatus::Failure,
        RunStatus::Cancelled,
        RunStatus::Interrupted,
    ] {
        let number = started_run(runs, "ci");
        runs.record(number, &[status(1, last, 2_000)])
            .expect("recorded");
    }
    // Created, and never started.
    let unstarted = runs.create(&new_run("ci", 3_000), 1).expect("created");
    assert_eq!(
        listed(runs.unfinished().expect("unfinished")),
        [1, 2, 3, unstarted]
    );
}

pub fn an_unfinished_run_is_interrupted_once_with_its_waiting_gates(f: &Fixture) {
    let runs = f.runs();
    let runs = runs.as_ref();
    let number = waiting_run(runs, "production");
    let staged = gate("canary", "staging", 1_200, "open");
    runs.record(number, &[gate_change(1, staged.clone(), 1_300)])
        .expect("recorded");
    assert!(
        runs.interrupt(number, 3_000, "its process ended")
            .expect("interrupted")
    );
    let row = run(runs, number);
    assert_eq!(
        (row.status, row.finished_ms),
        (RunStatus::Interrupted, Some(3_000))
    );
    let interrupted = GateRow {
        state: "interrupted".to_owned(),
        decided_ms: Some(3_000),
        ..gate("ship", "production", 1_500, "waiting")
    };
    assert_eq!(runs.gates(number, 1).expect("gates"), [staged, interrupted]);
    let events = runs.events(number).expect("events");
    let last = events.last().expect("events");
    assert_eq!(
        (last.at_ms, last.kind.as_str(), &last.body),
        (3_000, "interrupted", &json!({"why": "its process ended"}))
    );

    // Only once: a second call changes and writes nothing.
    assert!(!runs.interrupt(number, 4_000, "again").expect("answered"));
    assert_eq!(run(runs, number), row);
    assert_eq!(runs.events(number).expect("events"), events);

    let finished = started_run(runs, "ci");
    runs.record(finished, &[status(1, RunStatus::Success, 2_000)])
        .expect("recorded");
    let before = (run(runs, finished), runs.events(finished).expect("events"));
    assert!(!runs.interrupt(finished, 4_000, "late").expect("answered"));
    assert_eq!(
        (run(runs, finished), runs.events(finished).expect("events")),
        before
    );
    assert!(!runs.interrupt(99, 4_000, "unknown").expect("answered"));
    assert_eq!(runs.run(99).expect("read"), None);
    assert_eq!(runs.events(99).expect("events"), []);
}

pub fn concurrent_creates_number_runs_distinctly(f: &Fixture) {
    const WRITERS: usize = 6;
    let handles: Vec<_> = (0..WRITERS).map(|_| f.runs()).collect();
    let numbers = race(WRITERS, |i| {
        handles[i]
            .create(&new_run(&format!("p{i}"), 1_000), 1)
            .expect("created")
    });
    let mut sorted = numbers.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=WRITERS as u64).collect::<Vec<_>>());
    for (i, number) in numbers.into_iter().enumerate() {
        assert_eq!(run(handles[0].as_ref(), number).pipeline, format!("p{i}"));
        assert_eq!(
            kinds(&handles[0].events(number).expect("events")),
            ["created"]
        );
    }
}

/// A watcher of a handle hears the number of each run a committed call through it changed,
/// and nothing of a call that changed nothing; one that returns `false` is not called again.
pub fn a_watcher_hears_each_committed_change_until_it_declines(f: &Fixture) {
    let runs = f.runs();
    let (tx, heard) = std::sync::mpsc::channel();
    runs.watch(Box::new(move |number| tx.send(number).is_ok()));
    let (once, first_only) = std::sync::mpsc::channel();
    runs.watch(Box::new(move |number| {
        let _ = once.send(number);
        false
    }));

    let first = runs.create(&new_run("ci", 1), 1).expect("created");
    let second = runs.create(&new_run("ci", 2), 1).expect("created");
    runs.start_attempt(second, 1, "alice", "abc", 3)
        .expect("started");
    runs.record(second, &[]).expect("nothing recorded");
    runs.record(second, &[status(1, RunStatus::Success, 4)])
        .expect("recorded");
    assert!(
        !runs.interrupt(second, 5, "gone").expect("answered"),
        "a finished run is not interrupted"
    );
    assert!(runs.interrupt(first, 6, "gone").expect("interrupted"));

    assert_eq!(
        heard.try_iter().collect::<Vec<_>>(),
        [first, second, second, second, first]
    );
    assert_eq!(first_only.try_iter().collect::<Vec<_>>(), [first]);
}
