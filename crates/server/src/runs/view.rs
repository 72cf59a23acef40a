//! A run as the API shows it, [`RunView`], built from a run history: `GET /v1/runs[/N]`
//! answers with it, and `bellwether runs` builds the same from a data directory's history, so
//! both print the same whichever they read.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::path::Path;

use bellwether_api::{
    RunGateView, RunInstanceView, RunJobView, RunReviewView, RunStepView, RunView, StepSummaryView,
};
use bellwether_config::Loaded;
use bellwether_core::spec::EnvironmentSpec;
use bellwether_runner::Replay;
use bellwether_store::{InstanceRow, Record, RunHistory, RunRow, StoreError};

/// The runs of `pipeline` (or all), newest first, at most `limit`: each without its jobs,
/// gates, reviews, notes and summaries.
pub fn run_list(
    store: &dyn RunHistory,
    pipeline: Option<&str>,
    limit: u32,
) -> Result<Vec<RunView>, StoreError> {
    Ok(store
        .list(pipeline, limit)?
        .into_iter()
        .map(summary)
        .collect())
}

/// Run `number` in full, as its latest attempt stands; `None` if the history has no such run.
/// Step summaries are read from the legs' log directories that are inside `data_dir`: on a
/// history several machines share, those of the runs this machine ran.
pub fn run_view(
    store: &dyn RunHistory,
    number: u64,
    data_dir: &Path,
) -> Result<Option<RunView>, StoreError> {
    let Some(row) = store.run(number)? else {
        return Ok(None);
    };
    let project = project_of(&row);
    let events = store.events(number)?;
    let mut view = summary(row);
    let legs = legs(store, &view, project.as_ref(), &events)?;
    view.step_summaries = legs
        .iter()
        .flat_map(|(_, rows)| rows)
        .filter_map(|leg| {
            let dir = Path::new(leg.logs.as_deref()?);
            if !dir.starts_with(data_dir) {
                return None;
            }
            let markdown = std::fs::read_to_string(dir.join(bellwether_runner::SUMMARY)).ok()?;
            Some(StepSummaryView {
                job: leg.name.clone(),
                markdown,
            })
        })
        .collect();
    view.jobs = legs.into_iter().map(|(job, _)| job).collect();
    view.gates = store
        .gates(view.number, view.attempt)?
        .into_iter()
        .map(|g| RunGateView {
            rules: project
                .as_ref()
                .and_then(|p| p.project.environments.get(&g.environment))
                .map(rules)
                .unwrap_or_default(),
            job: g.job,
            index: g.index,
            environment: g.environment,
            state: g.state,
            since_ms: g.since_ms,
            decided_ms: g.decided_ms,
        })
        .collect();
    view.reviews = store
        .reviews(view.number, view.attempt, None)?
        .into_iter()
        .map(|r| RunReviewView {
            environment: r.environment,
            by: r.by,
            approved: r.approved,
            comment: r.comment,
            at_ms: r.at_ms,
        })
        .collect();
    view.notes = notes(&events)
        .filter(|(a, job, _)| *a == view.attempt && job.is_none())
        .map(|(_, _, text)| text.to_owned())
        .chain(events.iter().filter(|e| e.kind == "interrupted").map(|e| {
            let why = e.body["why"].as_str().unwrap_or("its process ended");
            format!("interrupted: {why}")
        }))
        .collect();
    Ok(Some(view))
}

/// The run's project file as it is now, when it can still be read: what `needs` and the
/// environments' rules come from, since the store keeps only what happened.
fn project_of(run: &RunRow) -> Option<Loaded> {
    let replay: Replay = serde_json::from_value(run.trigger.clone()).ok()?;
    let source = std::fs::read_to_string(&replay.file).ok()?;
    bellwether_config::load_with(&replay.file.display().to_string(), &source, &|p| {
        std::fs::read_to_string(p)
    })
    .ok()
}

/// The latest attempt's jobs, each with the legs (and their rows) of the attempt it comes
/// from: a job kept from an earlier attempt shows what it did then.
fn legs(
    store: &dyn RunHistory,
    run: &RunView,
    project: Option<&Loaded>,
    events: &[Record],
) -> Result<Vec<(RunJobView, Vec<InstanceRow>)>, StoreError> {
    let spec = project.and_then(|p| p.pipelines.iter().find(|s| s.name == run.pipeline));
    let mut attempts: BTreeMap<u32, Vec<InstanceRow>> = BTreeMap::new();
    let mut jobs = Vec::new();
    for j in store.jobs(run.number, run.attempt)? {
        let attempt = j.reused_from.unwrap_or(run.attempt);
        if let Entry::Vacant(e) = attempts.entry(attempt) {
            e.insert(store.instances(run.number, attempt)?);
        }
        let rows: Vec<InstanceRow> = attempts[&attempt]
            .iter()
            .filter(|i| i.job == j.job)
            .cloned()
            .collect();
        let view = RunJobView {
            needs: spec
                .and_then(|s| s.job(&j.job))
                .map(|s| s.needs.clone())
                .unwrap_or_default(),
            notes: notes(events)
                .filter(|(a, job, _)| *a == attempt && *job == Some(j.job.as_str()))
                .map(|(_, _, text)| text.to_owned())
                .collect(),
            instances: rows.iter().map(instance).collect(),
            job: j.job,
            conclusion: j.conclusion,
            message: j.message,
            name: j.name,
            outputs: j.outputs,
            reused_from: j.reused_from,
        };
        jobs.push((view, rows));
    }
    Ok(jobs)
}

/// A run's notes, in order: (attempt, job, text).
fn notes(events: &[Record]) -> impl Iterator<Item = (u32, Option<&str>, &str)> {
    events.iter().filter(|e| e.kind == "note").map(|e| {
        let attempt = e.body["attempt"]
            .as_u64()
            .and_then(|a| u32::try_from(a).ok())
            .unwrap_or(0);
        (
            attempt,
            e.body["job"].as_str(),
            e.body["text"].as_str().unwrap_or_default(),
        )
    })
}

fn instance(row: &InstanceRow) -> RunInstanceView {
    let text = |step: &serde_json::Value, key: &str| step[key].as_str().map(str::to_owned);
    let steps = row
        .steps
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|step| RunStepView {
            name: text(step, "name").unwrap_or_default(),
            status: text(step, "status").unwrap_or_default(),
            exit: text(step, "exit"),
            started_ms: step["started_ms"].as_u64(),
            finished_ms: step["finished_ms"].as_u64(),
        })
        .collect();
    RunInstanceView {
        index: row.index,
        name: row.name.clone(),
        status: row.status.clone(),
        attempt: row.job_attempt,
        started_ms: row.started_ms,
        finished_ms: row.finished_ms,
        message: row.message.clone(),
        steps,
    }
}

/// An environment's protection rules, one sentence each.
fn rules(env: &EnvironmentSpec) -> Vec<String> {
    let mut rules = Vec::new();
    match env.approvals {
        0 => {}
        1 => rules.push("1 approval".to_owned()),
        n => rules.push(format!("{n} approvals from different people")),
    }
    if env.approvals > 0 && !env.allow_self_approval {
        rules.push("not by whoever started the run".to_owned());
    }
    if !env.reviewers.is_empty() {
        rules.push(format!("reviewers: {}", env.reviewers.join(", ")));
    }
    if !env.wait.is_zero() {
        rules.push(format!("a wait of {}", seconds(env.wait)));
    }
    if !env.branches.is_empty() {
        rules.push(format!("branches: {}", env.branches.join(", ")));
    }
    if let Some(soak) = &env.soak {
        rules.push(format!(
            "stable in {} for {} first",
            soak.environment,
            seconds(soak.duration)
        ));
    }
    rules
}

fn seconds(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s >= 60 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// The run without its parts.
fn summary(r: RunRow) -> RunView {
    RunView {
        number: r.number,
        pipeline: r.pipeline,
        attempt: r.attempt,
        status: r.status.to_string(),
        actor: r.actor,
        summary: r.summary,
        sha: r.sha,
        started_ms: r.started_ms,
        finished_ms: r.finished_ms,
        jobs: Vec::new(),
        gates: Vec::new(),
        reviews: Vec::new(),
        notes: Vec::new(),
        step_summaries: Vec::new(),
    }
}
