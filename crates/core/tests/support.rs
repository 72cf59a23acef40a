//! Shared helpers for the rollout scenario tests: specs in one line, and timelines as text.

#![allow(dead_code, unreachable_pub)]

use std::fmt::Write;
use std::time::Duration;

use bellwether_core::rollout::sim::World;
use bellwether_core::rollout::{Action, RolloutSpec};
use bellwether_core::spec::{
    AnalysisRef, BackgroundAnalysis, BlueGreenSpec, CanarySpec, CanaryStep, RollingSpec, Scale,
    Strategy, Weight,
};
use bellwether_core::time::human_duration;

pub fn w(pct: u32) -> CanaryStep {
    CanaryStep::SetWeight(Weight::from_percent(pct).unwrap())
}

pub fn pause(secs: u64) -> CanaryStep {
    CanaryStep::Pause(Some(Duration::from_secs(secs)))
}

pub fn pause_forever() -> CanaryStep {
    CanaryStep::Pause(None)
}

pub fn analysis() -> CanaryStep {
    CanaryStep::Analysis(AnalysisRef::all())
}

pub fn canary(replicas: u32, steps: Vec<CanaryStep>) -> RolloutSpec {
    spec(replicas, Strategy::Canary(CanarySpec::with_steps(steps)))
}

pub fn canary_with_background(replicas: u32, steps: Vec<CanaryStep>) -> RolloutSpec {
    let mut c = CanarySpec::with_steps(steps);
    c.background_analysis = Some(BackgroundAnalysis {
        analysis: AnalysisRef::all(),
        starting_step: 0,
    });
    spec(replicas, Strategy::Canary(c))
}

pub fn blue_green(replicas: u32, f: impl FnOnce(&mut BlueGreenSpec)) -> RolloutSpec {
    let mut bg = BlueGreenSpec::default();
    f(&mut bg);
    spec(replicas, Strategy::BlueGreen(bg))
}

pub fn rolling(replicas: u32, surge: Scale, unavailable: Scale) -> RolloutSpec {
    spec(
        replicas,
        Strategy::Rolling(RollingSpec {
            max_surge: surge,
            max_unavailable: unavailable,
            analysis: None,
        }),
    )
}

pub fn spec(replicas: u32, strategy: Strategy) -> RolloutSpec {
    RolloutSpec {
        replicas,
        strategy,
        progress_deadline: Duration::from_secs(600),
        post_rollback_analysis: None,
    }
}

/// A world where revision 1 is already stable at full size.
pub fn world_with_stable(spec: &RolloutSpec) -> World {
    let mut world = World::new("api");
    world.deploy(1, spec);
    world.settle();
    world.actions.clear();
    world
}

/// The actions since the last call, one line each, with the simulated time they happened at.
pub fn timeline(world: &mut World) -> String {
    let mut out = String::new();
    for (at, action) in world.actions.drain(..) {
        let t = human_duration(Duration::from_millis(at.as_millis()));
        let line = match action {
            Action::Record(note) => format!("# {note}"),
            other => other.to_string(),
        };
        writeln!(out, "{t:>6} {line}").unwrap();
    }
    out
}
