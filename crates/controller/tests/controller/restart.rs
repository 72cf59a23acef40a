//! A control plane that dies mid-rollout: the next one on the same data directory adopts the
//! replicas left running and resumes at the same step with the same weights, without repeating
//! or skipping a step.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use bellwether_api::ServiceView;
use bellwether_controller::ControlPlane;
use bellwether_core::rollout::{Phase, Stage};
use bellwether_core::spec::{Project, Weight};
use tokio::time::{Instant, sleep};

use crate::harness::{DataDir, Load, bounded, deploy, healthy_at, notes, project, until};

const CANARY: &str = r#"
services:
  api:
    replicas: 2
    listen: "{listen}"
    run:
      command: [python3, "{script}"]
      env: {VERSION: v1}
    readiness: {path: /health, interval: 100ms}
    progressDeadline: 30s
    strategy:
      canary:
        steps:
          - setWeight: 25
          - pause: 2s
          - setWeight: 50
          - pause: 2s
          - setWeight: 75
          - pause: 2s
        scaleDownDelay: 1s
    analysis:
      interval: 200ms
      window: 2s
      minSample: 20
      # Not every test here sends traffic: a canary left undecided by its steps is promoted.
      inconclusive: pass
      metrics: ["error_rate <= 1%"]
"#;

const LIMIT: Duration = Duration::from_secs(30);

/// A fixed address, so that clients find the router again after the restart.
fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap()
}

fn canary(listen: SocketAddr) -> Project {
    project(&CANARY.replace("{listen}", &listen.to_string()))
}

/// Kills the control plane as a crash would (its tasks stop, its replicas keep running) and
/// starts another on the same data directory once the old listener is closed.
async fn crash_and_restart(dir: &DataDir, plane: ControlPlane, listen: SocketAddr) -> ControlPlane {
    drop(plane);
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpListener::bind(listen).is_err() {
        assert!(Instant::now() < deadline, "the old listener did not close");
        sleep(Duration::from_millis(10)).await;
    }
    dir.start(canary(listen)).await
}

/// The process ids of each revision's replicas, by index.
fn pids(view: &ServiceView) -> BTreeMap<(u64, u32), Option<u32>> {
    view.revisions
        .iter()
        .flat_map(|r| r.replicas.iter().map(move |p| ((r.number, p.index), p.pid)))
        .collect()
}

/// The canary steps' notes: each step entered and completed once, in order.
fn assert_each_step_once(plane: &ControlPlane) {
    let notes = notes(&plane.history("api").unwrap());
    let steps: Vec<&String> = notes.iter().filter(|n| n.starts_with("step ")).collect();
    let expected: Vec<String> = [
        "set weight 25%",
        "pause 2s",
        "set weight 50%",
        "pause 2s",
        "set weight 75%",
        "pause 2s",
    ]
    .iter()
    .enumerate()
    .flat_map(|(i, step)| {
        [
            format!("step {}: {step}", i + 1),
            format!("step {} completed", i + 1),
        ]
    })
    .collect();
    assert_eq!(steps, expected.iter().collect::<Vec<_>>(), "{notes:#?}");
    for weight in ["25%", "50%", "75%"] {
        let set = format!("revision 2 now receives {weight} of traffic");
        assert_eq!(notes.iter().filter(|n| **n == set).count(), 1, "{notes:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_control_plane_is_resumed_at_the_same_step() {
    bounded(async {
        let dir = DataDir::new();
        let listen = free_addr();
        let plane = dir.start(canary(listen)).await;
        plane.deploy("api", deploy("v1", &[])).await.unwrap();
        until(&plane, "api", "v1 stable", LIMIT, |v| healthy_at(v, "v1")).await;
        plane
            .deploy("api", deploy("v2", &[("VERSION", "v2")]))
            .await
            .unwrap();
        let before = until(&plane, "api", "the pause at 50%", LIMIT, |v| {
            v.step.as_ref().is_some_and(|s| s.index == 3)
        })
        .await;
        assert!(matches!(
            before.stage,
            Stage::CanaryPause { until: Some(_) }
        ));

        let plane = crash_and_restart(&dir, plane, listen).await;
        // Clients of a crashed process lose their connections and open new ones.
        let load = Load::start(listen, 2);
        let after = plane.get("api").unwrap();
        assert_eq!(after.stage, before.stage, "the same step, the same timer");
        assert_eq!(after.step, before.step);
        let weights = |v: &ServiceView| -> Vec<(u64, Weight)> {
            v.revisions.iter().map(|r| (r.number, r.weight)).collect()
        };
        assert_eq!(weights(&after), weights(&before));

        // The replicas left running are adopted, not started again.
        let adopted = until(&plane, "api", "adopted replicas ready", LIMIT, |v| {
            v.revisions.iter().all(|r| r.ready == r.desired)
        })
        .await;
        assert_eq!(pids(&adopted), pids(&before));

        until(&plane, "api", "v2 stable", LIMIT, |v| healthy_at(v, "v2")).await;
        assert_each_step_once(&plane);
        load.more(10).await;
        load.reset();
        let seen = load.more(50).await;
        assert_eq!(seen.of(200, "v2"), seen.total(), "{seen:?}");
        plane.shutdown(true).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_crashes_neither_repeat_nor_skip_a_step() {
    bounded(async {
        let dir = DataDir::new();
        let listen = free_addr();
        let mut plane = dir.start(canary(listen)).await;
        plane.deploy("api", deploy("v1", &[])).await.unwrap();
        until(&plane, "api", "v1 stable", LIMIT, |v| healthy_at(v, "v1")).await;
        plane
            .deploy("api", deploy("v2", &[("VERSION", "v2")]))
            .await
            .unwrap();
        // Crash points spread over the rollout: while scaling, during pauses, at promotion.
        for delay_ms in [150, 900, 400, 1_700, 650, 1_200, 300, 2_100] {
            sleep(Duration::from_millis(delay_ms)).await;
            plane = crash_and_restart(&dir, plane, listen).await;
            if plane.get("api").unwrap().phase == Phase::Healthy {
                break;
            }
        }
        until(&plane, "api", "v2 stable", LIMIT, |v| healthy_at(v, "v2")).await;
        assert_each_step_once(&plane);
        let view = until(&plane, "api", "v1 scaled down", LIMIT, |v| {
            v.revisions.iter().all(|r| r.version == "v2")
        })
        .await;
        assert_eq!(view.revisions[0].ready, 2, "{view:#?}");
        plane.shutdown(true).await;
    })
    .await;
}
