//! Canary scenarios: a scripted world and the timeline of actions it produces.

mod support;

use bellwether_core::rollout::sim::World;
use bellwether_core::rollout::{Command, Phase, Revision};
use support::*;

fn seed_steps() -> Vec<bellwether_core::spec::CanaryStep> {
    vec![
        w(10),
        pause(120),
        w(25),
        pause(300),
        w(50),
        pause(600),
        w(75),
        pause(300),
    ]
}

#[test]
fn first_deployment_goes_straight_to_full_size() {
    let mut world = World::new("api");
    world.deploy(1, &canary(3, seed_steps()));
    world.settle();
    assert_eq!(world.rollout.phase(), Phase::Healthy);
    insta::assert_snapshot!(world.rollout.reason, @"revision 1 (v1) is stable at full size (first deployment: nothing to compare against)");
    insta::assert_snapshot!(timeline(&mut world), @"
    0s # first deployment of revision 1 (v1): nothing to compare against, going straight to full size
    0s scale revision 1 to 3
    0s route r1=100%
    2s mark revision 1 (v1) stable
    2s # revision 1 (v1) promoted to stable
    ");
}

#[test]
fn seed_canary_promotes_step_by_step() {
    let spec = canary_with_background(4, seed_steps());
    let mut world = world_with_stable(&spec);
    world.deploy(2, &spec);
    world.settle();
    assert_eq!(world.rollout.phase(), Phase::Healthy);
    assert_eq!(world.rollout.stable.as_ref().map(|r| r.number), Some(2));
    insta::assert_snapshot!(timeline(&mut world), @"
        2s # canary rollout of revision 2 (v2) started
        2s start background analysis of revision 2 against revision 1
        2s # step 1: set weight 10%
        2s scale revision 2 to 1
        4s route r1=90% r2=10%
        4s # revision 2 now receives 10% of traffic
        4s # step 1 completed
        4s # step 2: pause 2m
      2m4s # step 2 completed
      2m4s # step 3: set weight 25%
      2m4s route r1=75% r2=25%
      2m4s # revision 2 now receives 25% of traffic
      2m4s # step 3 completed
      2m4s # step 4: pause 5m
      7m4s # step 4 completed
      7m4s # step 5: set weight 50%
      7m4s scale revision 2 to 2
      7m6s route r1=50% r2=50%
      7m6s # revision 2 now receives 50% of traffic
      7m6s # step 5 completed
      7m6s # step 6: pause 10m
     17m6s # step 6 completed
     17m6s # step 7: set weight 75%
     17m6s scale revision 2 to 3
     17m8s route r1=25% r2=75%
     17m8s # revision 2 now receives 75% of traffic
     17m8s # step 7 completed
     17m8s # step 8: pause 5m
     22m8s # step 8 completed
     22m8s conclude background analysis
     22m8s # background analysis: Successful: simulated Successful
     22m8s scale revision 2 to 4
    22m10s route r2=100%
    22m10s mark revision 2 (v2) stable
    22m10s # revision 2 (v2) promoted to stable
    22m40s scale revision 1 to 0
    22m40s # revision 1 scaled to zero
    ");
}

#[test]
fn failed_analysis_sends_all_traffic_back_at_once() {
    let spec = canary_with_background(4, seed_steps());
    let mut world = world_with_stable(&spec);
    world.failing.insert(2);
    world.deploy(2, &spec);
    world.settle();
    assert_eq!(world.rollout.phase(), Phase::Degraded);
    assert_eq!(
        world.rollout.scale_of(1),
        4,
        "the stable revision keeps its full size"
    );
    insta::assert_snapshot!(world.rollout.reason, @"background analysis failed: simulated Failed");
    insta::assert_snapshot!(timeline(&mut world), @"
      2s # canary rollout of revision 2 (v2) started
      2s start background analysis of revision 2 against revision 1
      2s # step 1: set weight 10%
      2s scale revision 2 to 1
      4s route r1=90% r2=10%
      4s # revision 2 now receives 10% of traffic
      4s # step 1 completed
      4s # step 2: pause 2m
     32s # background analysis: Failed: simulated Failed
     32s route r1=100%
     32s # aborted: background analysis failed: simulated Failed
    1m2s scale revision 2 to 0
    1m2s # revision 2 scaled to zero
    ");
}

#[test]
fn inconclusive_analysis_step_waits_for_a_human() {
    let spec = canary(2, vec![w(50), analysis(), w(100)]);
    let mut world = world_with_stable(&spec);
    world.inconclusive.insert(2);
    world.deploy(2, &spec);
    world.settle();
    assert_eq!(world.rollout.phase(), Phase::Paused);
    insta::assert_snapshot!(world.rollout.reason, @"analysis step 2 inconclusive: simulated Inconclusive; promote to continue or abort");
    world.command(Command::Promote { full: false }).unwrap();
    world.settle();
    assert_eq!(world.rollout.phase(), Phase::Healthy);
    insta::assert_snapshot!(timeline(&mut world), @"
      2s # canary rollout of revision 2 (v2) started
      2s # step 1: set weight 50%
      2s scale revision 2 to 1
      4s route r1=50% r2=50%
      4s # revision 2 now receives 50% of traffic
      4s # step 1 completed
      4s # step 2: analysis (all metrics)
      4s start analysis step 2 of revision 2 against revision 1
     34s # analysis step 2: Inconclusive: simulated Inconclusive
     34s # paused: analysis step 2 inconclusive: simulated Inconclusive; promote to continue or abort
     34s # promote requested by operator
     34s # step 2 completed
     34s # step 3: set weight 100%
     34s scale revision 2 to 2
     36s route r2=100%
     36s # revision 2 now receives 100% of traffic
     36s # step 3 completed
     36s mark revision 2 (v2) stable
     36s # revision 2 (v2) promoted to stable
    1m6s scale revision 1 to 0
    1m6s # revision 1 scaled to zero
    ");
}

#[test]
fn a_canary_left_undecided_by_its_steps_waits_for_a_human_before_promotion() {
    let spec = canary_with_background(2, vec![w(50), pause(60)]);
    let mut world = world_with_stable(&spec);
    world.undecided.insert(2);
    world.deploy(2, &spec);
    world.settle();
    assert_eq!(world.rollout.phase(), Phase::Paused);
    assert_eq!(world.rollout.target_weight().to_string(), "50%");
    insta::assert_snapshot!(world.rollout.reason, @"background analysis inconclusive: simulated Inconclusive; promote to continue or abort");
    // A restart asks the run again only while it is running; this one has answered.
    assert!(
        world
            .rollout
            .resync()
            .iter()
            .all(|a| !a.to_string().starts_with("conclude"))
    );
    world.command(Command::Promote { full: false }).unwrap();
    world.settle();
    assert_eq!(world.rollout.phase(), Phase::Healthy);
    insta::assert_snapshot!(timeline(&mut world), @"
       2s # canary rollout of revision 2 (v2) started
       2s start background analysis of revision 2 against revision 1
       2s # step 1: set weight 50%
       2s scale revision 2 to 1
       4s route r1=50% r2=50%
       4s # revision 2 now receives 50% of traffic
       4s # step 1 completed
       4s # step 2: pause 1m
     1m4s # step 2 completed
     1m4s conclude background analysis
     1m4s # background analysis: Inconclusive: simulated Inconclusive
     1m4s # paused: background analysis inconclusive: simulated Inconclusive; promote to continue or abort
     1m4s # promote requested by operator
     1m4s # resumed
     1m4s scale revision 2 to 2
     1m6s route r2=100%
     1m6s mark revision 2 (v2) stable
     1m6s # revision 2 (v2) promoted to stable
    1m36s scale revision 1 to 0
    1m36s # revision 1 scaled to zero
    ");
}

#[test]
fn indefinite_pause_waits_for_promote_and_full_promotion_skips_the_rest() {
    let spec = canary(
        2,
        vec![w(10), pause_forever(), w(50), pause_forever(), w(80)],
    );
    let mut world = world_with_stable(&spec);
    world.deploy(2, &spec);
    world.settle();
    assert_eq!(world.rollout.phase(), Phase::Paused);
    assert_eq!(world.rollout.step, 1);
    world.command(Command::Promote { full: false }).unwrap();
    world.settle();
    assert_eq!(world.rollout.step, 3);
    world.command(Command::Promote { full: true }).unwrap();
    world.settle();
    assert_eq!(world.rollout.phase(), Phase::Healthy);
    insta::assert_snapshot!(timeline(&mut world), @"
     2s # canary rollout of revision 2 (v2) started
     2s # step 1: set weight 10%
     2s scale revision 2 to 1
     4s route r1=90% r2=10%
     4s # revision 2 now receives 10% of traffic
     4s # step 1 completed
     4s # step 2: pause until promoted
     4s # promote requested by operator
     4s # step 2 completed
     4s # step 3: set weight 50%
     4s route r1=50% r2=50%
     4s # revision 2 now receives 50% of traffic
     4s # step 3 completed
     4s # step 4: pause until promoted
     4s # promote --full requested by operator
     4s scale revision 2 to 2
     6s route r2=100%
     6s mark revision 2 (v2) stable
     6s # revision 2 (v2) promoted to stable
    36s scale revision 1 to 0
    36s # revision 1 scaled to zero
    ");
}

#[test]
fn abort_then_retry_restarts_from_the_first_step() {
    let spec = canary(2, vec![w(20), pause_forever(), w(60), pause_forever()]);
    let mut world = world_with_stable(&spec);
    world.deploy(2, &spec);
    world.settle();
    world.command(Command::Promote { full: false }).unwrap();
    world.settle();
    world
        .command(Command::Abort {
            reason: Some("looks wrong".into()),
        })
        .unwrap();
    assert_eq!(world.rollout.target_weight().basis_points(), 0);
    assert_eq!(world.rollout.phase(), Phase::Degraded);
    world.command(Command::Retry).unwrap();
    world.settle();
    assert_eq!(world.rollout.step, 1);
    insta::assert_snapshot!(timeline(&mut world), @"
    2s # canary rollout of revision 2 (v2) started
    2s # step 1: set weight 20%
    2s scale revision 2 to 1
    4s route r1=80% r2=20%
    4s # revision 2 now receives 20% of traffic
    4s # step 1 completed
    4s # step 2: pause until promoted
    4s # promote requested by operator
    4s # step 2 completed
    4s # step 3: set weight 60%
    4s scale revision 2 to 2
    6s route r1=40% r2=60%
    6s # revision 2 now receives 60% of traffic
    6s # step 3 completed
    6s # step 4: pause until promoted
    6s # abort requested by operator
    6s route r1=100%
    6s # aborted: looks wrong
    6s # retry requested by operator
    6s # retrying from the first step
    6s # canary rollout of revision 2 (v2) started
    6s # step 1: set weight 20%
    6s route r1=80% r2=20%
    6s # revision 2 now receives 20% of traffic
    6s # step 1 completed
    6s # step 2: pause until promoted
    ");
}

#[test]
fn undo_to_the_stable_revision_during_a_canary_is_instant() {
    let spec = canary(2, vec![w(30), pause_forever()]);
    let mut world = world_with_stable(&spec);
    world.deploy(2, &spec);
    world.settle();
    world
        .command(Command::Undo {
            to: Revision {
                number: 1,
                version: "v1".into(),
            },
        })
        .unwrap();
    assert_eq!(world.rollout.phase(), Phase::Healthy);
    insta::assert_snapshot!(timeline(&mut world), @"
    2s # canary rollout of revision 2 (v2) started
    2s # step 1: set weight 30%
    2s scale revision 2 to 1
    4s route r1=70% r2=30%
    4s # revision 2 now receives 30% of traffic
    4s # step 1 completed
    4s # step 2: pause until promoted
    4s # undo requested by operator
    4s route r1=100%
    4s scale revision 2 to 0
    4s # undone: back to revision 1 (v1)
    ");
}

#[test]
fn undo_to_a_warm_previous_revision_switches_at_once() {
    let spec = canary(2, vec![w(50)]);
    let mut world = world_with_stable(&spec);
    world.deploy(2, &spec);
    world.run_until(world.now.after(std::time::Duration::from_secs(5)));
    assert_eq!(world.rollout.stable.as_ref().map(|r| r.number), Some(2));
    world.actions.clear();
    world
        .command(Command::Undo {
            to: Revision {
                number: 1,
                version: "v1".into(),
            },
        })
        .unwrap();
    assert_eq!(world.rollout.stable.as_ref().map(|r| r.number), Some(1));
    world.settle();
    insta::assert_snapshot!(timeline(&mut world), @"
     7s # undo requested by operator
     7s route r1=100%
     7s mark revision 1 (v1) stable
     7s # undone: back to revision 1 (v1)
    37s scale revision 2 to 0
    37s # revision 2 scaled to zero
    ");
}

#[test]
fn operator_pause_holds_progress_but_not_failure() {
    let spec = canary_with_background(2, vec![w(10), pause(60), w(50), pause(60)]);
    let mut world = world_with_stable(&spec);
    world.analysis_time = std::time::Duration::from_secs(600);
    world.deploy(2, &spec);
    world.run_until(world.now.after(std::time::Duration::from_secs(10)));
    world.command(Command::Pause).unwrap();
    world.run_until(world.now.after(std::time::Duration::from_secs(300)));
    assert_eq!(
        world.rollout.step, 1,
        "a timed pause does not end while an operator holds the rollout"
    );
    world.command(Command::Resume).unwrap();
    world.run_until(world.now.after(std::time::Duration::from_secs(5)));
    assert_eq!(world.rollout.step, 3);
    world.command(Command::Pause).unwrap();
    world.failing.insert(2);
    let run = world.rollout.analyses[0].run;
    world
        .apply(bellwether_core::rollout::EventKind::AnalysisCompleted {
            run,
            verdict: bellwether_core::rollout::Verdict::Failed,
            message: "error_rate 4.8% > 1%".into(),
        })
        .unwrap();
    assert_eq!(world.rollout.phase(), Phase::Degraded);
    assert_eq!(world.rollout.target_weight().basis_points(), 0);
    insta::assert_snapshot!(timeline(&mut world), @"
       2s # canary rollout of revision 2 (v2) started
       2s start background analysis of revision 2 against revision 1
       2s # step 1: set weight 10%
       2s scale revision 2 to 1
       4s route r1=90% r2=10%
       4s # revision 2 now receives 10% of traffic
       4s # step 1 completed
       4s # step 2: pause 1m
      12s # pause requested by operator
      12s # paused: paused by operator
    5m12s # resume requested by operator
    5m12s # resumed
    5m12s # step 2 completed
    5m12s # step 3: set weight 50%
    5m12s route r1=50% r2=50%
    5m12s # revision 2 now receives 50% of traffic
    5m12s # step 3 completed
    5m12s # step 4: pause 1m
    5m17s # pause requested by operator
    5m17s # paused: paused by operator
    5m17s # background analysis: Failed: error_rate 4.8% > 1%
    5m17s route r1=100%
    5m17s # aborted: background analysis failed: error_rate 4.8% > 1%
    ");
}

#[test]
fn a_newer_revision_supersedes_the_canary_in_progress() {
    let spec = canary(2, vec![w(25), pause_forever()]);
    let mut world = world_with_stable(&spec);
    world.deploy(2, &spec);
    world.settle();
    world.deploy(3, &spec);
    world.settle();
    assert_eq!(world.rollout.target.as_ref().map(|r| r.number), Some(3));
    insta::assert_snapshot!(timeline(&mut world), @"
    2s # canary rollout of revision 2 (v2) started
    2s # step 1: set weight 25%
    2s scale revision 2 to 1
    4s route r1=75% r2=25%
    4s # revision 2 now receives 25% of traffic
    4s # step 1 completed
    4s # step 2: pause until promoted
    4s route r1=100%
    4s scale revision 2 to 0
    4s # revision 2 (v2) superseded by revision 3 (v3)
    4s # canary rollout of revision 3 (v3) started
    4s # step 1: set weight 25%
    4s scale revision 3 to 1
    6s route r1=75% r3=25%
    6s # revision 3 now receives 25% of traffic
    6s # step 1 completed
    6s # step 2: pause until promoted
    ");
}

#[test]
fn a_canary_that_never_becomes_ready_aborts_at_the_progress_deadline() {
    let spec = canary(2, vec![w(25), pause_forever()]);
    let mut world = world_with_stable(&spec);
    world.startup = std::time::Duration::from_secs(3600);
    world.deploy(2, &spec);
    world.settle();
    assert_eq!(world.rollout.phase(), Phase::Degraded);
    insta::assert_snapshot!(world.rollout.reason, @"revision 2 (v2) made no progress for 10m (progress deadline): 0/1 replicas ready");
}

#[test]
fn late_verdicts_of_stopped_runs_are_ignored() {
    let spec = canary(2, vec![w(25), analysis(), w(50), pause_forever()]);
    let mut world = world_with_stable(&spec);
    world.analysis_time = std::time::Duration::from_secs(3600);
    world.deploy(2, &spec);
    world.run_until(world.now.after(std::time::Duration::from_secs(5)));
    let run = world.rollout.analyses[0].run;
    world.command(Command::Promote { full: false }).unwrap();
    world
        .apply(bellwether_core::rollout::EventKind::AnalysisCompleted {
            run,
            verdict: bellwether_core::rollout::Verdict::Failed,
            message: "too late".into(),
        })
        .unwrap();
    assert_ne!(world.rollout.phase(), Phase::Degraded);
}

#[test]
fn commands_that_do_not_apply_are_rejected_with_a_reason() {
    let spec = canary(2, vec![w(25), pause_forever()]);
    let mut world = world_with_stable(&spec);
    let mut rejections = Vec::new();
    let mut attempt = |world: &mut World, c: Command| {
        if let Err(e) = world.command(c) {
            rejections.push(e.to_string());
        }
    };
    attempt(&mut world, Command::Promote { full: false });
    attempt(&mut world, Command::Retry);
    attempt(&mut world, Command::Resume);
    attempt(
        &mut world,
        Command::Undo {
            to: Revision {
                number: 1,
                version: "v1".into(),
            },
        },
    );
    world.startup = std::time::Duration::from_secs(30);
    world.deploy(2, &spec);
    attempt(&mut world, Command::Promote { full: false });
    attempt(&mut world, Command::Pause);
    attempt(&mut world, Command::Pause);
    world.command(Command::Abort { reason: None }).unwrap();
    attempt(&mut world, Command::Promote { full: true });
    attempt(&mut world, Command::Abort { reason: None });
    insta::assert_snapshot!(rejections.join("\n"), @"
    cannot promote: no rollout is in progress
    cannot retry: only an aborted rollout can be retried
    cannot resume: the rollout is not paused
    cannot undo: revision 1 is already the stable revision
    cannot promote: waiting for revision 2 to become ready (0/1 replicas); use --full to promote now
    cannot pause: the rollout is already paused
    cannot promote --full: the rollout of revision 2 was aborted; use retry or undo
    cannot abort: the rollout of revision 2 was aborted; use retry or undo
    ");
}

#[test]
fn after_an_abort_the_stable_revision_gets_its_post_rollback_analysis() {
    let mut spec = canary(2, vec![w(20), analysis(), w(60)]);
    spec.post_rollback_analysis = Some(Box::new(bellwether_core::spec::AnalysisRef {
        verify: vec!["smoke".into()],
        ..Default::default()
    }));
    let mut world = world_with_stable(&spec);
    world.failing.insert(2);
    world.deploy(2, &spec);
    world.settle();
    assert_eq!(world.rollout.phase(), Phase::Degraded);
    assert_eq!(world.rollout.target_weight().basis_points(), 0);
    insta::assert_snapshot!(world.rollout.reason, @"analysis step 2 failed: simulated Failed; the stable revision passed its post-rollback analysis");
    insta::assert_snapshot!(timeline(&mut world), @"
      2s # canary rollout of revision 2 (v2) started
      2s # step 1: set weight 20%
      2s scale revision 2 to 1
      4s route r1=80% r2=20%
      4s # revision 2 now receives 20% of traffic
      4s # step 1 completed
      4s # step 2: analysis (all metrics)
      4s start analysis step 2 of revision 2 against revision 1
     34s # analysis step 2: Failed: simulated Failed
     34s route r1=100%
     34s # aborted: analysis step 2 failed: simulated Failed
     34s start post-rollback analysis of revision 1
    1m4s # post-rollback analysis: Successful: simulated Successful
    1m4s scale revision 2 to 0
    1m4s # revision 2 scaled to zero
    ");

    // The stable revision failing it changes no traffic; the reason says so.
    let mut world = world_with_stable(&spec);
    world.failing.extend([1, 2]);
    world.deploy(2, &spec);
    world.settle();
    assert_eq!(world.rollout.phase(), Phase::Degraded);
    assert_eq!(world.rollout.target_weight().basis_points(), 0);
    insta::assert_snapshot!(world.rollout.reason, @"analysis step 2 failed: simulated Failed; the stable revision did not pass its post-rollback analysis: simulated Failed");
}

/// Argo Rollouts' `setCanaryScale` sizes the canary apart from its weight until
/// `matchTrafficWeight`, and `setMirrorRoute` copies a share of requests to it until removed;
/// promotion still scales the canary to full size.
#[test]
fn canary_scale_and_mirror_steps() {
    use bellwether_core::spec::{CanaryScale, CanaryStep, Weight};
    let spec = canary(
        4,
        vec![
            CanaryStep::SetCanaryScale(CanaryScale::Replicas(3)),
            CanaryStep::SetMirrorRoute(Some(Weight::from_percent(20).unwrap())),
            w(10),
            CanaryStep::SetMirrorRoute(None),
            CanaryStep::SetCanaryScale(CanaryScale::MatchTrafficWeight),
            pause(60),
        ],
    );
    let mut world = world_with_stable(&spec);
    world.deploy(2, &spec);
    world.settle();
    assert_eq!(world.rollout.phase(), Phase::Healthy);
    insta::assert_snapshot!(timeline(&mut world), @"
       2s # canary rollout of revision 2 (v2) started
       2s # step 1: scale the canary to 3 replicas
       2s scale revision 2 to 1
       4s scale revision 2 to 2
       6s scale revision 2 to 3
       8s # step 1 completed
       8s # step 2: mirror 20% of requests to the canary
       8s route r1=100% mirror=r2:20%
       8s # step 2 completed
       8s # step 3: set weight 10%
       8s route r1=90% r2=10% mirror=r2:20%
       8s # revision 2 now receives 10% of traffic
       8s # step 3 completed
       8s # step 4: remove the mirror
       8s route r1=90% r2=10%
       8s # step 4 completed
       8s # step 5: scale the canary with its traffic weight
       8s scale revision 2 to 1
       8s # step 5 completed
       8s # step 6: pause 1m
     1m8s # step 6 completed
     1m8s scale revision 2 to 2
    1m10s scale revision 2 to 3
    1m12s scale revision 2 to 4
    1m14s route r2=100%
    1m14s mark revision 2 (v2) stable
    1m14s # revision 2 (v2) promoted to stable
    1m44s scale revision 1 to 0
    1m44s # revision 1 scaled to zero
    ");
}

/// During a canary both revisions are in use; once the canary is promoted and the old stable
/// scaled away, only the new stable is, so whatever is kept per revision can be let go.
#[test]
fn revisions_in_use_follow_the_rollout() {
    let spec = canary_with_background(2, vec![w(50), pause_forever()]);
    let mut world = world_with_stable(&spec);
    assert_eq!(Vec::from_iter(world.rollout.revisions_in_use()), [1]);
    world.deploy(2, &spec);
    world.settle();
    assert_eq!(world.rollout.phase(), Phase::Paused);
    assert_eq!(Vec::from_iter(world.rollout.revisions_in_use()), [1, 2]);
    world
        .command(Command::Promote { full: true })
        .expect("promoted");
    world.settle();
    assert_eq!(world.rollout.phase(), Phase::Healthy);
    assert_eq!(Vec::from_iter(world.rollout.revisions_in_use()), [2]);
}
