//! `bellwether rerun RUN [--failed]`: the next attempt of a finished or interrupted run, with
//! the same pipeline, event and inputs. With `--failed`, the jobs that succeeded keep their
//! results, outputs and artifacts, and only the others run again, with the jobs that need them.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use bellwether_pipeline_core::run::{Conclusion, ReusedJob};
use bellwether_pipeline_core::spec::{PipelineSpec, StepAction};
use bellwether_store::{InstanceRow, JobRow};
use clap::Args;

use bellwether_runner::{Attempt, DataDir, Replay};

use super::run::data::{DataArgs, project_dir, whoami};
use super::run::execute::{self, ExecArgs};
use super::run::{checkout, load};
use crate::exit::{self, Code};

#[derive(Debug, Args)]
pub(crate) struct RerunArgs {
    /// The run, by number (`bellwether runs` lists them).
    #[arg(add = crate::commands::completion::runs())]
    pub(crate) run: u64,
    /// Only the jobs that failed, were cancelled or never ran, and those that need them; the others keep their results, outputs and artifacts.
    #[arg(long)]
    pub(crate) failed: bool,
    #[command(flatten)]
    pub(crate) data: DataArgs,
    #[command(flatten)]
    pub(crate) exec: ExecArgs,
}

pub(crate) fn run(args: &RerunArgs) -> anyhow::Result<Code> {
    let settings = args.exec.settings()?;
    let data = args.data.open()?;
    let number = args.run;
    let Some((run, lock)) = data.lock_existing(number)? else {
        eprintln!("error: no run {number} in {}", data.dir.display());
        return Ok(exit::FAILURE);
    };
    let Some(_lock) = lock.filter(|_| run.status.is_final()) else {
        eprintln!(
            "error: run {number} is still {} (wait for it to end, or stop it with Ctrl-C where it runs)",
            run.status
        );
        return Ok(exit::FAILURE);
    };
    let replay: Replay = serde_json::from_value(run.trigger.clone())
        .with_context(|| format!("run {number}'s record cannot be read"))?;
    if let Some(why) = &replay.untrusted {
        eprintln!(
            "error: run {number} is untrusted ({why}): it runs again only through the control plane, from a new event of its pull request"
        );
        return Ok(exit::FAILURE);
    }
    let Some((loaded, name)) = load(&replay.file)? else {
        return Ok(exit::FAILURE);
    };
    let Some(spec) = loaded.pipelines.iter().find(|p| p.name == replay.pipeline) else {
        anyhow::bail!(
            "{name} no longer declares pipeline `{}`, which run {number} ran",
            replay.pipeline
        );
    };
    // A run limited to some jobs runs again limited to them.
    let mut spec = spec.clone();
    let only: Vec<&String> = replay.jobs.iter().collect();
    super::run::workflow::only(&mut spec, &only)
        .map_err(|e| anyhow::anyhow!("{name} has changed since run {number}: {e}"))?;
    let spec = &spec;
    let reused = if args.failed && run.attempt > 0 {
        kept(
            spec,
            &data.store.jobs(number, run.attempt)?,
            &data.store.instances(number, run.attempt)?,
            run.attempt,
        )
    } else {
        BTreeMap::new()
    };
    let whole = |r: &&ReusedJob| r.instances.is_none();
    if args.failed && reused.values().filter(whole).count() == spec.jobs.len() {
        eprintln!(
            "error: run {number} has nothing to rerun: every job succeeded (without --failed, `rerun` runs them all again)"
        );
        return Ok(exit::FAILURE);
    }
    forget_artifacts(&data, number, spec, &reused);
    let event = replay.event().map_err(anyhow::Error::msg)?;
    let attempt = run.attempt + 1;
    let again: Vec<String> = spec
        .jobs
        .iter()
        .filter_map(|j| match reused.get(&j.id) {
            None => Some(j.id.clone()),
            Some(ReusedJob {
                instances: Some(kept),
                ..
            }) => Some(format!(
                "{} (all but the {} combination{} that succeeded)",
                j.id,
                kept.len(),
                if kept.len() == 1 { "" } else { "s" }
            )),
            Some(_) => None,
        })
        .collect();
    let mut whole_kept: Vec<&str> = reused
        .iter()
        .filter(|(_, r)| r.instances.is_none())
        .map(|(id, _)| id.as_str())
        .collect();
    whole_kept.sort();
    println!(
        "run {number}, attempt {attempt}: running {}{}",
        again.join(", "),
        if whole_kept.is_empty() {
            String::new()
        } else {
            format!("; keeping {}", whole_kept.join(", "))
        }
    );
    let conclusion = execute::execute(
        Attempt {
            spec: spec.clone(),
            event,
            inputs: replay.inputs(),
            project: project_dir(&replay.file),
            checkout: checkout(&replay.checkout),
            number,
            attempt,
            reused,
            actor: whoami(),
            environments: loaded.project.environments.clone(),
            services: loaded.project.services.keys().cloned().collect(),
        },
        &args.exec,
        &settings,
        &data,
    )?;
    Ok(if conclusion == Conclusion::Success {
        exit::SUCCESS
    } else {
        exit::FAILURE
    })
}

/// The jobs that keep their result: those that succeeded, when every job they need does too.
/// A matrix job that did not succeed, whose needs are all kept, keeps the combinations that
/// did and runs the others again.
fn kept(
    spec: &PipelineSpec,
    rows: &[JobRow],
    instances: &[InstanceRow],
    attempt: u32,
) -> BTreeMap<String, ReusedJob> {
    let by_id: BTreeMap<&str, &JobRow> = rows.iter().map(|r| (r.job.as_str(), r)).collect();
    let mut keep: BTreeSet<&str> = BTreeSet::new();
    // Lowering has checked the needs are acyclic: passes until nothing changes settle them.
    loop {
        let before = keep.len();
        for job in &spec.jobs {
            let succeeded = by_id
                .get(job.id.as_str())
                .is_some_and(|r| r.conclusion.as_deref() == Some(Conclusion::Success.as_str()));
            if succeeded && job.needs.iter().all(|n| keep.contains(n.as_str())) {
                keep.insert(&job.id);
            }
        }
        if keep.len() == before {
            break;
        }
    }
    let mut reused: BTreeMap<String, ReusedJob> = keep
        .iter()
        .filter_map(|&id| {
            let row = by_id.get(id)?;
            Some((
                id.to_owned(),
                ReusedJob {
                    outputs: row.outputs.clone(),
                    attempt: row.reused_from.unwrap_or(attempt),
                    instances: None,
                },
            ))
        })
        .collect();
    for job in &spec.jobs {
        let partial = job.strategy.is_some()
            && !keep.contains(job.id.as_str())
            && job.needs.iter().all(|n| keep.contains(n.as_str()));
        if !partial {
            continue;
        }
        let succeeded: BTreeMap<usize, String> = instances
            .iter()
            .filter(|i| i.job == job.id && i.status == Conclusion::Success.as_str())
            .map(|i| (i.index as usize, i.name.clone()))
            .collect();
        if !succeeded.is_empty() {
            let kept = ReusedJob {
                outputs: BTreeMap::new(),
                attempt,
                instances: Some(succeeded),
            };
            reused.insert(job.id.clone(), kept);
        }
    }
    reused
}

/// The artifacts of the jobs and matrix legs that run again are uploaded again: their old
/// manifests go. Those of jobs and legs kept stay for the jobs that download them.
fn forget_artifacts(
    data: &DataDir,
    number: u64,
    spec: &PipelineSpec,
    reused: &BTreeMap<String, ReusedJob>,
) {
    data.artifacts(number).forget(|name, by| match by {
        Some(by) => match reused.get(&by.job) {
            None => true,
            Some(kept) => kept
                .instances
                .as_ref()
                .is_some_and(|legs| !legs.contains_key(&by.leg)),
        },
        // Uploaded before uploaders were recorded: by name, from the jobs that run again.
        None => spec
            .jobs
            .iter()
            .filter(|j| !reused.contains_key(&j.id))
            .flat_map(|j| &j.steps)
            .any(|step| match &step.action {
                StepAction::Upload { name: upload, .. } => upload.as_literal() == Some(name),
                _ => false,
            }),
    });
}
