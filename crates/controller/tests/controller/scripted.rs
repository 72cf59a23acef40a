//! Rollouts scripted on tokio's paused clock: the controller on a platform whose replicas are
//! ready at once, with every scale and routing table it asks for journaled at its virtual time,
//! so orders and timings are asserted to the millisecond. Each runs in about 0.1s of wall time.

mod world;

use std::time::Duration;

use bellwether_api::DeployRequest;
use bellwether_core::rollout::{Command, Phase};
use tokio::time::sleep;

use crate::harness::deploy;
use world::{NEVER_READY, World};

/// The canary waits 5s at 50%, the progress deadline is 2s, and the delays before scaling down
/// (3s after a promotion, 7s after an abort) differ, so each timing says which one applied.
const CANARY: &str = r#"
services:
  api:
    replicas: 1
    run:
      command: [fake]
    progressDeadline: 2s
    strategy:
      canary:
        steps:
          - setWeight: 50
          - pause: 5s
        scaleDownDelay: 3s
        abortScaleDownDelay: 7s
"#;

/// Longer than anything the rollouts here wait for; virtual, so it costs no wall time.
const SETTLE: Duration = Duration::from_secs(60);

/// A world with v1 stable, and the time its journal has reached.
async fn with_v1() -> (World, u64) {
    let world = World::start(CANARY).await;
    world.plane.deploy("api", deploy("v1", &[])).await.unwrap();
    sleep(SETTLE).await;
    let now = world.now();
    (world, now)
}

fn journal(entries: &[(u64, &str)]) -> Vec<(u64, String)> {
    entries.iter().map(|&(at, e)| (at, e.to_owned())).collect()
}

#[tokio::test(start_paused = true)]
async fn a_promotion_routes_away_from_the_old_revision_then_scales_it_down_after_the_delay() {
    let (world, t0) = with_v1().await;
    world.plane.deploy("api", deploy("v2", &[])).await.unwrap();
    sleep(SETTLE).await;

    assert_eq!(
        world.journal.since(t0),
        journal(&[
            (t0, "scale r2 to 1"),
            (t0, "route r1=50%x1 r2=50%x1"),
            (t0 + 5_000, "route r2=100%x1"),
            (t0 + 5_000 + 3_000, "scale r1 to 0"),
        ])
    );
    assert_eq!(world.plane.get("api").unwrap().phase, Phase::Healthy);
}

#[tokio::test(start_paused = true)]
async fn a_control_plane_restarted_mid_pause_promotes_when_the_pause_was_due() {
    let (world, t0) = with_v1().await;
    world.plane.deploy("api", deploy("v2", &[])).await.unwrap();
    sleep(Duration::from_secs(2)).await;
    let world = world.restart().await;
    let t1 = world.now();
    sleep(SETTLE).await;

    // The new router takes the stored weights before it knows a replica (its listener opens
    // only once they are ready again), the scales are stated again, and the stored pause ends
    // when it was due.
    assert_eq!(
        world.journal.since(t1),
        journal(&[
            (t1, "route r1=50%x0 r2=50%x0"),
            (t1, "scale r1 to 1"),
            (t1, "scale r2 to 1"),
            (t1, "route r1=50%x1 r2=50%x1"),
            (t0 + 5_000, "route r2=100%x1"),
            (t0 + 5_000 + 3_000, "scale r1 to 0"),
        ])
    );
}

#[tokio::test(start_paused = true)]
async fn an_abort_routes_nothing_to_the_canary_before_anything_else() {
    let (world, _) = with_v1().await;
    world.plane.deploy("api", deploy("v2", &[])).await.unwrap();
    sleep(Duration::from_secs(1)).await;
    let t1 = world.now();
    let abort = Command::Abort { reason: None };
    world.plane.command("api", abort, "test").await.unwrap();
    sleep(SETTLE).await;

    assert_eq!(
        world.journal.since(t1),
        journal(&[(t1, "route r1=100%x1"), (t1 + 7_000, "scale r2 to 0"),])
    );
    assert_eq!(world.plane.get("api").unwrap().phase, Phase::Degraded);
}

#[tokio::test(start_paused = true)]
async fn a_revision_never_ready_is_aborted_exactly_at_the_progress_deadline() {
    let (world, t0) = with_v1().await;
    let silent = DeployRequest {
        command: Some(vec![NEVER_READY.to_owned()]),
        ..deploy("v2", &[])
    };
    world.plane.deploy("api", silent).await.unwrap();
    sleep(SETTLE).await;

    // v2 never takes a request, and its replica goes after the abort's delay.
    assert_eq!(
        world.journal.since(t0),
        journal(&[(t0, "scale r2 to 1"), (t0 + 2_000 + 7_000, "scale r2 to 0")])
    );
    let history = world.plane.history("api").unwrap();
    let abort = history
        .iter()
        .find(|e| e.phase == Phase::Degraded)
        .expect("the rollout aborted");
    assert_eq!(
        (World::ms_of(abort.at), abort.kind.as_str()),
        (t0 + 2_000, "tick")
    );
    let view = world.plane.get("api").unwrap();
    assert!(view.reason.contains("progress"), "{}", view.reason);
    assert_eq!(view.stable.map(|s| s.version), Some("v1".to_owned()));
}

/// Blue-green with the preview at one replica, promoted 4s after it is ready, and the old
/// revision kept 3s after the switch.
const BLUE_GREEN: &str = r#"
services:
  web:
    replicas: 2
    previewListen: 127.0.0.1:0
    run:
      command: [fake]
    strategy:
      blueGreen:
        previewReplicas: 1
        autoPromotionSeconds: 4s
        scaleDownDelay: 3s
"#;

#[tokio::test(start_paused = true)]
async fn a_blue_green_switch_routes_all_at_once_then_scales_the_old_revision_down() {
    let world = World::start(BLUE_GREEN).await;
    world.plane.deploy("web", deploy("v1", &[])).await.unwrap();
    sleep(SETTLE).await;
    let t0 = world.now();
    world.plane.deploy("web", deploy("v2", &[])).await.unwrap();
    sleep(SETTLE).await;

    assert_eq!(
        world.journal.since(t0),
        journal(&[
            (t0, "route r1=100%x2 r2=0%x0"),
            (t0, "scale r2 to 1"),
            (t0, "route r1=100%x2 r2=0%x1"),
            // The preview listener routes only once the preview has a ready replica.
            (t0, "preview r2=100%x1"),
            (t0 + 4_000, "scale r2 to 2"),
            (t0 + 4_000, "route r1=100%x2 r2=0%x2"),
            (t0 + 4_000, "preview r2=100%x2"),
            (t0 + 4_000, "route r2=100%x2"),
            (t0 + 4_000, "preview"),
            (t0 + 4_000 + 3_000, "scale r1 to 0"),
        ])
    );
    assert_eq!(world.plane.get("web").unwrap().phase, Phase::Healthy);
}
