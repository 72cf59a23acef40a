//! `bellwether approve RUN` and `bellwether reject RUN`: answer the environment gates a run
//! waits at, from any terminal. The answer goes to the data directory's store, where the
//! waiting run reads it; who answered what, when and why stays in the run's history.

use bellwether_core::spec::EnvironmentSpec;
use bellwether_pipeline_core::gate;
use bellwether_runner::now_ms;
use bellwether_store::{ReviewError, ReviewRow, RunHistory, RunRow};
use clap::Args;

use super::run::data::{DataArgs, whoami};
use crate::exit::{self, Code};
use bellwether_runner::Replay;

#[derive(Debug, Args)]
pub(crate) struct ReviewArgs {
    /// The run, by number (`bellwether runs` lists them).
    pub(crate) run: u64,
    /// The environment to answer for [default: every environment the run waits for].
    #[arg(long = "env", value_name = "ENVIRONMENT")]
    pub(crate) environment: Option<String>,
    /// Why, for the record.
    #[arg(long, short = 'm')]
    pub(crate) comment: Option<String>,
    #[command(flatten)]
    pub(crate) data: DataArgs,
}

pub(crate) fn approve(args: &ReviewArgs) -> anyhow::Result<Code> {
    review(args, true)
}

pub(crate) fn reject(args: &ReviewArgs) -> anyhow::Result<Code> {
    review(args, false)
}

fn review(args: &ReviewArgs, approved: bool) -> anyhow::Result<Code> {
    let data = args.data.open()?;
    let number = args.run;
    let Some(run) = data.store.run(number)? else {
        eprintln!("error: no run {number} in {}", data.dir.display());
        return Ok(exit::FAILURE);
    };
    let mut waiting: Vec<String> = data
        .store
        .gates(number, run.attempt)?
        .into_iter()
        .filter(|g| g.state == "waiting")
        .map(|g| g.environment)
        .collect();
    waiting.sort();
    waiting.dedup();
    let chosen: Vec<String> = match &args.environment {
        Some(env) if waiting.contains(env) => vec![env.clone()],
        Some(env) => {
            let waits = if waiting.is_empty() {
                "none".to_owned()
            } else {
                waiting.join(", ")
            };
            eprintln!(
                "error: run {number} ({}) is not waiting for environment `{env}` (it waits for: {waits})",
                run.status
            );
            return Ok(exit::FAILURE);
        }
        None if waiting.is_empty() => {
            eprintln!(
                "error: run {number} ({}) is not waiting for any environment",
                run.status
            );
            return Ok(exit::FAILURE);
        }
        None => waiting,
    };
    let by = whoami();
    let verb = if approved { "approved" } else { "rejected" };
    let mut failed = false;
    for environment in chosen {
        if approved
            && let Some(spec) = environment_spec(&run, &environment)
            && !gate::counts(&spec, &run.actor, &by)
        {
            eprintln!(
                "error: {by} triggered run {number}, and environment `{environment}` needs approval from someone else (it does not allow self-approval)"
            );
            failed = true;
            continue;
        }
        let row = ReviewRow {
            run: number,
            environment: environment.clone(),
            by: by.clone(),
            approved,
            comment: args.comment.clone().filter(|c| !c.trim().is_empty()),
            at_ms: now_ms(),
        };
        match data.store.review(&row) {
            Ok(()) => println!("{by} {verb} environment `{environment}` of run {number}"),
            Err(e @ (ReviewError::Twice { .. } | ReviewError::NotWaiting(_))) => {
                eprintln!("error: {e}");
                failed = true;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(if failed { exit::FAILURE } else { exit::SUCCESS })
}

/// The environment's rules as the run's project file declares them now, when it can be read.
fn environment_spec(run: &RunRow, environment: &str) -> Option<EnvironmentSpec> {
    let replay: Replay = serde_json::from_value(run.trigger.clone()).ok()?;
    let source = std::fs::read_to_string(&replay.file).ok()?;
    let loaded = bellwether_config::load(&replay.file.display().to_string(), &source).ok()?;
    loaded.project.environments.get(environment).cloned()
}
