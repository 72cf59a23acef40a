//! Blue-green scenarios.

mod support;

use std::time::Duration;

use bellwether_core::rollout::{Command, Phase, Revision};
use bellwether_core::spec::AnalysisRef;
use support::*;

#[test]
fn preview_is_judged_then_promoted_automatically_after_the_delay() {
    let spec = blue_green(3, |bg| {
        bg.preview_replicas = Some(1);
        bg.auto_promotion_delay = Some(Duration::from_secs(30));
        bg.pre_promotion_analysis = Some(AnalysisRef::all());
        bg.post_promotion_analysis = Some(AnalysisRef::all());
    });
    let mut world = world_with_stable(&spec);
    world.deploy(2, &spec);
    world.settle();
    assert_eq!(world.rollout.phase(), Phase::Healthy);
    insta::assert_snapshot!(timeline(&mut world), @"
       2s # blueGreen rollout of revision 2 (v2) started
       2s scale revision 2 to 1
       2s route r1=100% preview=r2
       4s start pre-promotion analysis of revision 2 against revision 1
      34s # pre-promotion analysis: Successful: simulated Successful
     1m4s scale revision 2 to 3
     1m6s route r2=100%
     1m6s # all traffic switched to revision 2
     1m6s start post-promotion analysis of revision 2 against revision 1
    1m36s # post-promotion analysis: Successful: simulated Successful
    1m36s mark revision 2 (v2) stable
    1m36s # revision 2 (v2) promoted to stable
     2m6s scale revision 1 to 0
     2m6s # revision 1 scaled to zero
    ");
}

#[test]
fn manual_promotion_waits_for_promote() {
    let spec = blue_green(2, |bg| bg.auto_promotion_enabled = false);
    let mut world = world_with_stable(&spec);
    world.deploy(2, &spec);
    world.settle();
    assert_eq!(world.rollout.phase(), Phase::Paused);
    insta::assert_snapshot!(world.rollout.reason, @"preview of revision 2 (v2) is ready; waiting for promote");
    world.command(Command::Promote { full: false }).unwrap();
    world.settle();
    assert_eq!(world.rollout.stable.as_ref().map(|r| r.number), Some(2));
}

#[test]
fn failed_post_promotion_analysis_switches_back_instantly() {
    let spec = blue_green(2, |bg| {
        bg.post_promotion_analysis = Some(AnalysisRef::all())
    });
    let mut world = world_with_stable(&spec);
    world.failing.insert(2);
    world.deploy(2, &spec);
    world.settle();
    assert_eq!(world.rollout.phase(), Phase::Degraded);
    assert_eq!(world.rollout.stable.as_ref().map(|r| r.number), Some(1));
    insta::assert_snapshot!(timeline(&mut world), @"
      2s # blueGreen rollout of revision 2 (v2) started
      2s scale revision 2 to 2
      2s route r1=100% preview=r2
      4s route r2=100%
      4s # all traffic switched to revision 2
      4s start post-promotion analysis of revision 2 against revision 1
     34s # post-promotion analysis: Failed: simulated Failed
     34s route r1=100%
     34s # aborted: post-promotion analysis failed: simulated Failed
    1m4s scale revision 2 to 0
    1m4s # revision 2 scaled to zero
    ");
}

#[test]
fn undo_after_a_switch_is_instant_while_the_old_revision_is_warm() {
    let spec = blue_green(2, |_| {});
    let mut world = world_with_stable(&spec);
    world.deploy(2, &spec);
    world.run_until(world.now.after(Duration::from_secs(10)));
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
    insta::assert_snapshot!(timeline(&mut world), @"
    12s # undo requested by operator
    12s route r1=100%
    12s mark revision 1 (v1) stable
    12s # undone: back to revision 1 (v1)
    ");
}
