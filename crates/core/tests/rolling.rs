//! Rolling-update scenarios.

mod support;

use bellwether_core::rollout::Phase;
use bellwether_core::spec::Scale;
use support::*;

#[test]
fn replaces_one_replica_at_a_time_without_losing_capacity() {
    let spec = rolling(4, Scale::Count(1), Scale::Count(0));
    let mut world = world_with_stable(&spec);
    world.deploy(2, &spec);
    world.settle();
    assert_eq!(world.rollout.phase(), Phase::Healthy);
    insta::assert_snapshot!(timeline(&mut world), @"
     2s # rolling rollout of revision 2 (v2) started
     2s scale revision 2 to 1
     4s scale revision 1 to 3
     4s route r1=75% r2=25%
     4s scale revision 2 to 2
     6s scale revision 1 to 2
     6s route r1=50% r2=50%
     6s scale revision 2 to 3
     8s scale revision 1 to 1
     8s route r1=25% r2=75%
     8s scale revision 2 to 4
    10s scale revision 1 to 0
    10s route r2=100%
    10s mark revision 2 (v2) stable
    10s # revision 2 (v2) promoted to stable
    ");
}

#[test]
fn percentages_allow_bigger_batches() {
    let spec = rolling(4, Scale::Percent(50), Scale::Percent(25));
    let mut world = world_with_stable(&spec);
    world.deploy(2, &spec);
    world.settle();
    assert_eq!(world.rollout.stable.as_ref().map(|r| r.number), Some(2));
    insta::assert_snapshot!(timeline(&mut world), @"
    2s # rolling rollout of revision 2 (v2) started
    2s scale revision 2 to 2
    2s scale revision 1 to 3
    2s scale revision 2 to 3
    4s scale revision 1 to 1
    4s route r1=33.34% r2=66.66%
    4s scale revision 2 to 4
    4s scale revision 1 to 0
    4s route r2=100%
    6s mark revision 2 (v2) stable
    6s # revision 2 (v2) promoted to stable
    ");
}

#[test]
fn zero_surge_and_zero_unavailable_still_progresses() {
    let spec = rolling(2, Scale::Count(0), Scale::Count(0));
    let mut world = world_with_stable(&spec);
    world.deploy(2, &spec);
    world.settle();
    assert_eq!(world.rollout.stable.as_ref().map(|r| r.number), Some(2));
}
