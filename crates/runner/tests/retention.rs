//! Retention on a real data directory: old finished runs go with their files, the artifact
//! contents nothing names go after them, and what is going on or latest stays.

use std::path::Path;

use bellwether_runner::{Cutoffs, DataDir, Swept, Uploader};
use bellwether_store::{Change, NewRun, RunStatus};

fn new_run(pipeline: &str) -> NewRun {
    NewRun {
        pipeline: pipeline.to_owned(),
        actor: "alice".to_owned(),
        summary: "push".to_owned(),
        trigger: serde_json::json!({}),
        at_ms: 1_000,
    }
}

/// A run of `pipeline` with a step log and an artifact holding `content`, ended `status` at
/// `at_ms` (or going on).
fn run(data: &DataDir, pipeline: &str, content: &str, end: Option<(RunStatus, u64)>) -> u64 {
    let (number, lock) = data.create(&new_run(pipeline)).expect("created");
    data.store
        .start_attempt(number, 1, "alice", "abc", 1_100)
        .expect("started");
    let logs = data.run_dir(number).join("logs/build");
    std::fs::create_dir_all(&logs).expect("log dir");
    std::fs::write(logs.join("1.log"), format!("building {content}\n")).expect("log");
    let workdir = tempfile::tempdir().expect("workdir");
    std::fs::write(workdir.path().join("app.txt"), content).expect("file");
    data.artifacts(number)
        .upload(
            "app",
            &["app.txt".to_owned()],
            workdir.path(),
            Uploader {
                job: "build".to_owned(),
                leg: 0,
            },
            false,
        )
        .expect("uploaded");
    if let Some((status, at_ms)) = end {
        data.store
            .record(
                number,
                &[Change::Status {
                    attempt: 1,
                    status,
                    at_ms,
                }],
            )
            .expect("ended");
        drop(lock);
    } else {
        // Going on: its process keeps the lock.
        std::mem::forget(lock);
    }
    number
}

fn contents(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("artifacts/objects"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn old_runs_go_with_their_files_and_what_nothing_names_after_them() {
    let dir = tempfile::tempdir().expect("data dir");
    let data = DataDir::open(dir.path()).expect("opened");
    let old = run(&data, "ci", "old", Some((RunStatus::Success, 2_000)));
    let shared = run(&data, "ci", "shared", Some((RunStatus::Failure, 2_100)));
    let recent = run(&data, "ci", "shared", Some((RunStatus::Success, 9_000)));
    let going_on = run(&data, "deploy", "deploying", None);
    let latest_deploy = run(&data, "deploy", "latest", Some((RunStatus::Success, 2_000)));
    let latest_ci = run(&data, "ci", "newest", Some((RunStatus::Cancelled, 2_000)));
    // A directory no run names: left by a sweep that stopped between the rows and the files.
    std::fs::create_dir_all(data.run_dir(99).join("logs")).expect("orphan");
    std::fs::write(data.run_dir(99).join("logs/x.log"), "x").expect("orphan log");
    assert_eq!(contents(dir.path()), 5);

    let cut = Cutoffs {
        runs: Some(5_000),
        logs: Some(5_000),
        artifacts: Some(5_000),
    };
    let swept = data.sweep_old(&cut).expect("swept");
    assert_eq!(
        (swept.runs, swept.log_files, swept.artifacts, swept.contents),
        (2, 3, 2, 1),
        "{swept:?}"
    );
    assert!(swept.bytes > 0);
    for gone in [old, shared, 99] {
        assert!(
            !data.run_dir(gone).exists(),
            "run {gone}'s directory is gone"
        );
    }
    for number in [old, shared] {
        assert_eq!(data.store.run(number).expect("read"), None);
    }
    for kept in [recent, going_on, latest_deploy, latest_ci] {
        assert!(data.store.run(kept).expect("read").is_some(), "run {kept}");
        assert!(data.run_dir(kept).join("logs/build/1.log").exists());
        assert!(data.run_dir(kept).join("artifacts/app.json").exists());
    }
    assert_eq!(
        contents(dir.path()),
        4,
        "`old`'s content went, `shared` is still named by a run kept"
    );
    assert_eq!(
        data.sweep_old(&cut).expect("swept again"),
        Swept::default(),
        "a second sweep finds nothing"
    );
}

#[test]
fn logs_and_artifacts_may_go_before_their_runs() {
    let dir = tempfile::tempdir().expect("data dir");
    let data = DataDir::open(dir.path()).expect("opened");
    let old = run(&data, "ci", "old", Some((RunStatus::Success, 2_000)));
    let latest = run(&data, "ci", "newest", Some((RunStatus::Success, 2_500)));
    let logs_only = Cutoffs {
        logs: Some(5_000),
        ..Cutoffs::default()
    };
    let swept = data.sweep_old(&logs_only).expect("swept");
    assert_eq!((swept.runs, swept.log_files, swept.artifacts), (0, 1, 0));
    assert!(data.store.run(old).expect("read").is_some());
    assert!(!data.run_dir(old).join("logs").exists());
    assert!(data.run_dir(old).join("artifacts/app.json").exists());
    let artifacts_only = Cutoffs {
        artifacts: Some(5_000),
        ..Cutoffs::default()
    };
    let swept = data.sweep_old(&artifacts_only).expect("swept");
    assert_eq!((swept.runs, swept.artifacts, swept.contents), (0, 1, 1));
    assert!(!data.run_dir(old).join("artifacts").exists());
    assert!(data.run_dir(latest).join("logs/build/1.log").exists());
    assert!(data.run_dir(latest).join("artifacts/app.json").exists());
}

#[test]
fn a_run_whose_lock_is_held_is_kept_for_the_rerun_that_holds_it() {
    let dir = tempfile::tempdir().expect("data dir");
    let data = DataDir::open(dir.path()).expect("opened");
    let old = run(&data, "ci", "old", Some((RunStatus::Failure, 2_000)));
    run(&data, "ci", "newest", Some((RunStatus::Success, 2_500)));
    let other = DataDir::open(dir.path()).expect("opened again");
    let (row, lock) = other
        .lock_existing(old)
        .expect("read")
        .expect("the run exists");
    assert_eq!(row.number, old);
    let lock = lock.expect("nobody else holds it");
    let cut = Cutoffs {
        runs: Some(5_000),
        ..Cutoffs::default()
    };
    assert_eq!(data.sweep_old(&cut).expect("swept"), Swept::default());
    drop(lock);
    assert_eq!(data.sweep_old(&cut).expect("swept").runs, 1);
    assert!(other.lock_existing(old).expect("read").is_none());
}

/// A data directory holding its own history and a shared one's runs (a control plane on
/// PostgreSQL): a sweep of the shared history judges its own runs and artifact contents only,
/// never the files of the directory's own runs, which its run numbers may equal.
#[test]
fn a_shared_historys_sweep_leaves_the_directorys_own_runs_alone() {
    let dir = tempfile::tempdir().expect("data dir");
    let own = DataDir::open(dir.path()).expect("opened");
    let mine = run(&own, "ci", "mine", Some((RunStatus::Success, 2_000)));
    run(&own, "ci", "latest", Some((RunStatus::Success, 2_000)));
    let history = tempfile::tempdir().expect("history");
    let store = bellwether_store::RunStore::open(&history.path().join("shared.db")).expect("store");
    let shared = DataDir::shared(dir.path(), std::sync::Arc::new(store)).expect("shared");
    let old = run(&shared, "ci", "theirs", Some((RunStatus::Success, 2_000)));
    run(&shared, "ci", "newest", Some((RunStatus::Success, 2_000)));
    assert_eq!(old, mine, "each history numbers its runs");
    assert_eq!(contents(&dir.path().join("shared")), 2);

    let cut = Cutoffs {
        runs: Some(5_000),
        logs: Some(5_000),
        artifacts: Some(5_000),
    };
    let swept = shared.sweep_old(&cut).expect("swept");
    assert_eq!((swept.runs, swept.contents), (1, 1), "{swept:?}");
    assert!(!shared.run_dir(old).exists());
    assert_eq!(contents(&dir.path().join("shared")), 1);
    assert!(own.run_dir(mine).join("logs/build/1.log").exists());
    assert!(own.run_dir(mine).join("artifacts/app.json").exists());
    assert_eq!(
        contents(dir.path()),
        2,
        "the own history's contents are all there"
    );
}
