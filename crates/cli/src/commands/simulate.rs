//! `bellwether simulate`: plays a service's next rollout through the real state machine on a
//! simulated clock, so people can see what their strategy does before it runs for real.

use std::path::PathBuf;
use std::time::Duration;

use bellwether_core::rollout::sim::World;
use bellwether_core::rollout::{Action, Command, Note, Phase, RolloutSpec};
use bellwether_core::spec::{Project, ServiceSpec};
use bellwether_core::time::human_duration;
use clap::Args;
use serde::Serialize;

use crate::exit::{self, Code};
use crate::output::{Format, print_data};

#[derive(Debug, Args)]
pub(crate) struct SimulateArgs {
    /// The service to roll out; may be omitted when the file has only one.
    pub(crate) service: Option<String>,
    /// The project file.
    #[arg(short = 'f', long = "file", default_value = "bellwether.yaml")]
    pub(crate) file: PathBuf,
    /// Make every analysis of the new revision fail, to see the rollback.
    #[arg(long, conflicts_with = "inconclusive")]
    pub(crate) fail: bool,
    /// Make every analysis of the new revision inconclusive.
    #[arg(long)]
    pub(crate) inconclusive: bool,
    /// Promote whenever the rollout waits for a human, as an operator would.
    #[arg(long)]
    pub(crate) promote: bool,
    /// How long a replica takes to become ready.
    #[arg(long, default_value = "2s", value_parser = super::parse_duration)]
    pub(crate) startup: std::time::Duration,
    /// How long an analysis takes to reach its verdict when nothing in it has a `count` (one that has takes as long as its measurements: initial delay, then count × interval).
    #[arg(long, default_value = "30s", value_parser = super::parse_duration)]
    pub(crate) analysis_time: std::time::Duration,
}

#[derive(Serialize)]
struct Simulation {
    service: String,
    strategy: &'static str,
    outcome: String,
    reason: String,
    /// Simulated time from the deploy to the verdict (promoted or aborted), in milliseconds.
    decided_after_ms: Option<u64>,
    timeline: Vec<Entry>,
}

#[derive(Serialize)]
struct Entry {
    at_ms: u64,
    action: Action,
}

pub(crate) fn run(args: &SimulateArgs, format: Format) -> anyhow::Result<Code> {
    let project = super::project(&args.file)?;
    let service = pick_service(&project, args.service.as_deref())?;
    let spec = RolloutSpec::from(service);

    let mut world = World::new(&service.name);
    world.startup = args.startup;
    world.analysis_time = args.analysis_time;
    world.service = Some(service.clone());
    world.deploy(1, &spec);
    world.settle();
    world.actions.clear();
    let started = world.now;
    if args.fail {
        world.failing.insert(2);
    }
    if args.inconclusive {
        world.inconclusive.insert(2);
    }
    world.deploy(2, &spec);
    loop {
        world.settle();
        if !(args.promote && world.rollout.phase() == Phase::Paused)
            || world.command(Command::Promote { full: false }).is_err()
        {
            break;
        }
    }

    let phase = world.rollout.phase();
    let timeline: Vec<Entry> = world
        .actions
        .drain(..)
        .map(|(at, action)| Entry {
            at_ms: at.as_millis() - started.as_millis(),
            action,
        })
        .collect();
    let decided_after_ms = timeline
        .iter()
        .rfind(|e| {
            matches!(
                e.action,
                Action::MarkStable { .. } | Action::Record(Note::Aborted { .. })
            )
        })
        .map(|e| e.at_ms);
    let simulation = Simulation {
        service: service.name.clone(),
        strategy: service.strategy.kind(),
        outcome: phase.to_string(),
        reason: world.rollout.reason.clone(),
        decided_after_ms,
        timeline,
    };
    if !print_data(format, &simulation)? {
        print_table(&simulation);
    }
    Ok(match phase {
        Phase::Healthy => exit::SUCCESS,
        Phase::Paused => exit::PAUSED,
        Phase::Degraded | Phase::Progressing => exit::FAILURE,
    })
}

fn pick_service<'a>(project: &'a Project, wanted: Option<&str>) -> anyhow::Result<&'a ServiceSpec> {
    let names = || {
        project
            .services
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match wanted {
        Some(name) => project
            .services
            .get(name)
            .ok_or_else(|| anyhow::anyhow!("no service `{name}` (expected one of {})", names())),
        None if project.services.len() == 1 => {
            Ok(project.services.values().next().expect("one service"))
        }
        None if project.services.is_empty() => anyhow::bail!("the file declares no services"),
        None => anyhow::bail!("which service? (expected one of {})", names()),
    }
}

fn print_table(sim: &Simulation) {
    println!(
        "simulated {} rollout of {} (revision 1 -> 2)",
        sim.strategy, sim.service
    );
    for entry in &sim.timeline {
        let at = human_duration(Duration::from_millis(entry.at_ms));
        match &entry.action {
            Action::Record(note) => println!("{at:>8}  {note}"),
            other => println!("{at:>8}    -> {other}"),
        }
    }
    match sim.decided_after_ms {
        Some(ms) => {
            let took = human_duration(Duration::from_millis(ms));
            println!(
                "outcome: {} (decided after {took}): {}",
                sim.outcome, sim.reason
            );
        }
        None => println!("outcome: {}: {}", sim.outcome, sim.reason),
    }
}
