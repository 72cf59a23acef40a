//! Drives thousands of simulated rollouts through the state machine with a fake clock and
//! reports how many events per second it folds.
//!
//! Run: `cargo bench -p bellwether-core --bench simulate [-- ROLLOUTS]`

use std::hint::black_box;
use std::time::{Duration, Instant};

use bellwether_core::rollout::sim::World;
use bellwether_core::rollout::{Phase, RolloutSpec};
use bellwether_core::spec::{
    AnalysisRef, BackgroundAnalysis, BlueGreenSpec, CanarySpec, CanaryStep, RollingSpec, Scale,
    Strategy, Weight,
};

fn seed_canary() -> Strategy {
    let w = |p| CanaryStep::SetWeight(Weight::from_percent(p).unwrap());
    let pause = |m: u64| CanaryStep::Pause(Some(Duration::from_secs(m * 60)));
    let mut c = CanarySpec::with_steps(vec![
        w(10),
        pause(2),
        w(25),
        pause(5),
        w(50),
        pause(10),
        w(75),
        pause(5),
    ]);
    c.background_analysis = Some(BackgroundAnalysis {
        analysis: AnalysisRef::all(),
        starting_step: 0,
    });
    Strategy::Canary(c)
}

fn blue_green() -> Strategy {
    Strategy::BlueGreen(BlueGreenSpec {
        pre_promotion_analysis: Some(AnalysisRef::all()),
        post_promotion_analysis: Some(AnalysisRef::all()),
        ..BlueGreenSpec::default()
    })
}

fn rolling() -> Strategy {
    Strategy::Rolling(RollingSpec {
        max_surge: Scale::Count(1),
        max_unavailable: Scale::Count(0),
        analysis: None,
    })
}

fn main() {
    let rollouts: usize = std::env::args()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(10_000);
    let strategies = [seed_canary(), blue_green(), rolling()];
    let started = Instant::now();
    let (mut events, mut promoted, mut aborted) = (0u64, 0u64, 0u64);
    for i in 0..rollouts {
        let spec = RolloutSpec {
            replicas: 1 + (i % 5) as u32,
            strategy: strategies[i % strategies.len()].clone(),
            progress_deadline: Duration::from_secs(600),
            post_rollback_analysis: None,
        };
        let mut world = World::new("bench");
        world.record = false;
        world.analysis_time = Duration::from_secs(20);
        if i % 7 == 0 {
            world.failing.insert(2);
        }
        world.deploy(1, &spec);
        world.settle();
        world.deploy(2, &spec);
        world.settle();
        match world.rollout.phase() {
            Phase::Healthy => promoted += 1,
            Phase::Degraded => aborted += 1,
            other => panic!("rollout {i} ended {other}"),
        }
        events += black_box(world.events);
    }
    let elapsed = started.elapsed();
    let secs = elapsed.as_secs_f64();
    println!("simulated rollouts: {rollouts} ({promoted} promoted, {aborted} aborted)");
    println!("events folded:      {events}");
    println!("wall time:          {:.3}s", secs);
    println!("events per second:  {:.0}", events as f64 / secs);
    println!("rollouts per second: {:.0}", rollouts as f64 / secs);
}
