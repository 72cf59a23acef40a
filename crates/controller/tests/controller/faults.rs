//! The controller on a store that fails at the moments that used to switch automatic rollback
//! off: a failing canary's verdict refused by the store, a verdict stored with its answer lost,
//! and an append carrying a snapshot that landed while the store answered with an error. The
//! canary still ends with no traffic, and later appends succeed without a restart.

mod store;

use std::sync::Arc;
use std::time::Duration;

use bellwether_controller::{ControlPlane, Options, Platform, Seams};
use bellwether_core::rollout::{Phase, Verdict};
use bellwether_core::spec::{Project, Weight};
use bellwether_platform_local::LocalPlatform;
use bellwether_store::{SqliteStore, Store, rollout_stream};

use crate::harness::{DataDir, Load, bounded, deploy, healthy_at, project, until};
use crate::ready_platform::ReadyPlatform;
use store::{FaultyStore, Mode, Target};

/// A canary at 50% judged by its error rate, as in `canary.rs`.
const CANARY: &str = r#"
services:
  api:
    replicas: 2
    run:
      command: [python3, "{script}"]
      env: {VERSION: v1}
    readiness: {path: /health, interval: 100ms}
    progressDeadline: 30s
    strategy:
      canary:
        steps:
          - setWeight: 50
          - pause: 30s
        scaleDownDelay: 1s
        abortScaleDownDelay: 1s
    analysis:
      interval: 200ms
      window: 2s
      minSample: 20
      metrics: ["error_rate <= 1%"]
"#;

const LIMIT: Duration = Duration::from_secs(30);

/// A control plane on `platform` whose store is `store`, in `dir`.
async fn start(
    dir: &DataDir,
    project: Project,
    platform: Arc<dyn Platform>,
    store: &Arc<FaultyStore>,
) -> ControlPlane {
    let mut seams = Seams::new(platform);
    seams.store = Some(Arc::clone(store) as Arc<dyn Store>);
    let options = Options {
        data_dir: dir.path().join("data"),
        base_dir: dir.path().to_owned(),
        project,
        secrets: None,
    };
    ControlPlane::start_on(options, seams)
        .await
        .expect("the control plane starts")
}

/// A control plane running `CANARY` as processes, on a store in `dir` that fails when armed.
async fn local(dir: &DataDir) -> (ControlPlane, Arc<FaultyStore>) {
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("the data directory");
    let sqlite = SqliteStore::open(&data.join("bellwether.db")).expect("the store opens");
    let store = Arc::new(FaultyStore::new(sqlite));
    let platform = LocalPlatform::new(bellwether_platform_local::Options::new(&data, dir.path()));
    let plane = start(dir, project(CANARY), Arc::new(platform), &store).await;
    (plane, store)
}

/// Deploys v1, then v2 failing half its requests under load, and waits until v2 has no
/// traffic; returns the analyses' verdicts as the history stored them.
async fn fail_a_canary(plane: &ControlPlane) -> usize {
    plane.deploy("api", deploy("v1", &[])).await.unwrap();
    let view = until(plane, "api", "v1 stable", LIMIT, |v| healthy_at(v, "v1")).await;
    let load = Load::start(view.listen.unwrap(), 2);
    load.more(20).await;
    plane
        .deploy(
            "api",
            deploy("v2", &[("VERSION", "v2"), ("ERROR_RATE", "0.5")]),
        )
        .await
        .unwrap();
    let view = until(plane, "api", "v2 aborted with no traffic", LIMIT, |v| {
        v.phase == Phase::Degraded
            && v.revisions
                .iter()
                .filter(|r| r.version == "v2")
                .all(|r| r.weight == Weight::ZERO)
    })
    .await;
    assert!(view.reason.contains("error_rate"), "{}", view.reason);
    assert!(
        view.analyses
            .iter()
            .any(|a| a.revision == 2 && a.verdict == Some(Verdict::Failed)),
        "{view:#?}"
    );
    // Every request goes to v1 again.
    load.more(10).await;
    load.reset();
    let after = load.more(50).await;
    assert_eq!(after.of(200, "v1"), after.total(), "{after:?}");
    let history = plane.history("api").unwrap();
    history
        .iter()
        .filter(|e| e.kind == "analysis_completed")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verdict_the_store_refuses_is_retried_until_the_failing_canary_has_no_traffic() {
    bounded(async {
        let dir = DataDir::new();
        let (plane, store) = local(&dir).await;
        store.arm(Target::Kind("analysis_completed"), Mode::Refuse, 3);

        let verdicts = fail_a_canary(&plane).await;

        let refused = (Target::Kind("analysis_completed"), Mode::Refuse);
        assert_eq!(store.failed(), [refused; 3]);
        assert_eq!(verdicts, 1, "the verdict is stored once");
        plane.shutdown(true).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verdict_stored_with_its_answer_lost_still_rolls_back_and_later_appends_succeed() {
    bounded(async {
        let dir = DataDir::new();
        let (plane, store) = local(&dir).await;
        store.arm(Target::Kind("analysis_completed"), Mode::Lose, 1);

        // The verdict landed, the controller was told it failed: its retry conflicts, reads
        // the verdict back and performs it.
        let verdicts = fail_a_canary(&plane).await;
        assert_eq!(
            store.failed(),
            [(Target::Kind("analysis_completed"), Mode::Lose)]
        );
        assert_eq!(verdicts, 1, "the verdict is stored once");

        // The controller follows the stream again: a healthy release goes all the way.
        plane
            .deploy("api", deploy("v3", &[("VERSION", "v3")]))
            .await
            .unwrap();
        let promote = bellwether_core::rollout::Command::Promote { full: true };
        until(&plane, "api", "v3 at 50%", LIMIT, |v| {
            v.revisions
                .iter()
                .any(|r| r.version == "v3" && r.weight == Weight::from_percent(50).unwrap())
        })
        .await;
        plane.command("api", promote, "test").await.unwrap();
        until(&plane, "api", "v3 stable", LIMIT, |v| healthy_at(v, "v3")).await;
        plane.shutdown(true).await;
    })
    .await;
}

/// Releases promoted at once: a few events each, so the stream soon reaches its first snapshot.
const QUICK: &str = r#"
services:
  api:
    replicas: 2
    run: {command: [service]}
    strategy:
      canary:
        steps:
          - setWeight: 50
        scaleDownDelay: 0s
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_after_a_snapshot_that_failed_once_its_events_landed_succeed_without_a_restart() {
    bounded(async {
        let dir = DataDir::new();
        let sqlite = SqliteStore::in_memory().expect("a store");
        let store = Arc::new(FaultyStore::new(sqlite));
        store.arm(Target::Snapshot, Mode::Lose, 1);
        let platform = Arc::new(ReadyPlatform::default());
        let plane = start(&dir, project(QUICK), platform, &store).await;

        // Release after release until well past the first snapshot. A deploy whose event was
        // the one with the snapshot is told the store failed; the next one goes on.
        let mut released_after_the_fault = 0;
        for n in 1..=40 {
            let version = format!("v{n}");
            let failed_before = !store.failed().is_empty();
            match plane.deploy("api", deploy(&version, &[])).await {
                Ok(_) => {
                    until(&plane, "api", "the release stable", LIMIT, |v| {
                        healthy_at(v, &version)
                    })
                    .await;
                    if failed_before {
                        released_after_the_fault += 1;
                    }
                }
                Err(e) => assert!(
                    bellwether_core::error::chain(&e).contains("disk is full"),
                    "{e:?}"
                ),
            }
            if store.last_seq(&rollout_stream("api")).unwrap() > 80 {
                break;
            }
        }
        assert_eq!(store.failed(), [(Target::Snapshot, Mode::Lose)]);
        let snapshot = store.snapshot(&rollout_stream("api")).unwrap();
        assert_eq!(snapshot.map(|s| s.seq), Some(64));
        assert!(
            released_after_the_fault >= 2,
            "{released_after_the_fault} releases after the fault"
        );
        // The controller followed every event of the stream, each once.
        let seqs: Vec<u64> = plane
            .history("api")
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
        plane.shutdown(true).await;
    })
    .await;
}
