//! `bellwether runs [RUN]`: the run history in the data directory's store, newest first, or
//! one run's jobs, gates and reviews; and [`run_logs`], a run's (or one job's) logs as its
//! steps wrote them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::Context;
use bellwether_runner::now_ms;
use bellwether_store::{GateRow, InstanceRow, JobRow, ReviewRow, RunRow, RunStatus};
use clap::Args;
use serde::Serialize;

use bellwether_runner::DataDir;

use super::run::data::DataArgs;
use super::run::summary::{self, StepSummary};
use crate::exit::{self, Code};
use crate::output::{Format, print_records};

#[derive(Debug, Args)]
pub(crate) struct RunsArgs {
    /// One run to show in full: its jobs, gates and who reviewed them.
    #[arg(add = crate::commands::completion::runs())]
    pub(crate) run: Option<u64>,
    /// Only the runs of this pipeline.
    #[arg(long, short = 'p', add = crate::commands::completion::pipelines())]
    pub(crate) pipeline: Option<String>,
    /// How many runs to list, newest first.
    #[arg(long, default_value_t = 20)]
    pub(crate) limit: u32,
    /// Print the run's logs instead: notes and each step's output, job by job.
    #[arg(long, requires = "run")]
    pub(crate) logs: bool,
    /// With --logs, only this job's (by id or display name).
    #[arg(long, requires = "logs", value_name = "JOB")]
    pub(crate) job: Option<String>,
    #[command(flatten)]
    pub(crate) data: DataArgs,
}

/// One run in full, for `-o json|yaml`.
#[derive(Serialize)]
struct Detail {
    #[serde(flatten)]
    run: RunRow,
    jobs: Vec<JobRow>,
    instances: Vec<InstanceRow>,
    gates: Vec<GateRow>,
    reviews: Vec<ReviewRow>,
    /// What the history says of the run as a whole rather than of a job: why it could not
    /// start, was queued or cancelled, or why it was interrupted.
    notes: Vec<String>,
    /// What each job's steps wrote to `$GITHUB_STEP_SUMMARY`, masked.
    step_summaries: Vec<StepSummary>,
}

pub(crate) fn run(args: &RunsArgs, format: Format) -> anyhow::Result<Code> {
    if let (Some(number), true) = (args.run, args.logs) {
        return run_logs(&args.data, number, args.job.as_deref());
    }
    let data = args.data.open()?;
    let Some(number) = args.run else {
        let runs = data.store.list(args.pipeline.as_deref(), args.limit)?;
        if !print_records(format, &runs)? {
            list(&runs);
        }
        return Ok(exit::SUCCESS);
    };
    let Some(run) = data.store.run(number)? else {
        eprintln!("error: no run {number} in {}", data.dir.display());
        return Ok(exit::FAILURE);
    };
    let instances = data.store.instances(number, run.attempt)?;
    let detail = Detail {
        jobs: data.store.jobs(number, run.attempt)?,
        step_summaries: summary::read(
            instances
                .iter()
                .filter_map(|i| Some((i.name.clone(), PathBuf::from(i.logs.as_ref()?)))),
        ),
        instances,
        gates: data.store.gates(number, run.attempt)?,
        reviews: data.store.reviews(number, run.attempt, None)?,
        notes: run_notes(&data, number, run.attempt)?,
        run,
    };
    if !print_records(format, &detail)? {
        show(&detail);
    }
    Ok(exit::SUCCESS)
}

fn list(runs: &[RunRow]) {
    if runs.is_empty() {
        println!("no runs yet (`bellwether run` starts one)");
        return;
    }
    let rows: Vec<[String; 7]> = runs
        .iter()
        .map(|r| {
            let attempt = if r.attempt > 1 {
                format!(" (attempt {})", r.attempt)
            } else {
                String::new()
            };
            [
                r.number.to_string(),
                r.pipeline.clone(),
                format!("{}{attempt}", r.status),
                r.summary.clone(),
                r.sha.chars().take(8).collect(),
                ago(r.started_ms),
                took(r),
            ]
        })
        .collect();
    let header = [
        "RUN", "PIPELINE", "STATUS", "EVENT", "COMMIT", "STARTED", "TOOK",
    ];
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[&str]| {
        let text: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", text.join("  ").trim_end());
    };
    line(&header);
    for r in &rows {
        line(&r.iter().map(String::as_str).collect::<Vec<_>>());
    }
}

fn show(d: &Detail) {
    let r = &d.run;
    println!(
        "run {} · {} · {} · {} (attempt {}) · by {} · started {} ({}) · took {}",
        r.number,
        r.pipeline,
        r.summary,
        r.status,
        r.attempt,
        r.actor,
        ago(r.started_ms),
        timestamp(r.started_ms),
        took(r)
    );
    for note in &d.notes {
        println!("  {note}");
    }
    for job in &d.jobs {
        let instances: Vec<&InstanceRow> =
            d.instances.iter().filter(|i| i.job == job.job).collect();
        if instances.is_empty() {
            let status = job.conclusion.as_deref().unwrap_or("waiting");
            let why = job
                .message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            println!("  {} {}  {status}{why}", icon(status), job.name);
        }
        for i in instances {
            let took = match (i.started_ms, i.finished_ms) {
                (Some(s), Some(f)) => format!("  {:.1}s", (f.saturating_sub(s)) as f64 / 1000.0),
                _ => String::new(),
            };
            let why = i
                .message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            println!("  {} {}{took}  {}{why}", icon(&i.status), i.name, i.status);
        }
    }
    for g in &d.gates {
        println!(
            "  gate: {} of `{}` for environment `{}`: {}",
            if g.index > 0 {
                format!("combination {}", g.index + 1)
            } else {
                "job".to_owned()
            },
            g.job,
            g.environment,
            g.state
        );
    }
    for v in &d.reviews {
        let comment = v
            .comment
            .as_deref()
            .map(|c| format!(": \"{c}\""))
            .unwrap_or_default();
        println!(
            "  {} {} environment `{}` {}{comment}",
            v.by,
            if v.approved { "approved" } else { "rejected" },
            v.environment,
            ago(v.at_ms)
        );
    }
    summary::print(&d.step_summaries);
    match r.status {
        RunStatus::Failure | RunStatus::Cancelled | RunStatus::Interrupted => println!(
            "bellwether rerun {} --failed runs its failed and unfinished jobs again",
            r.number
        ),
        RunStatus::Waiting => println!(
            "bellwether approve {} (or reject) answers the waiting gate",
            r.number
        ),
        _ => {}
    }
}

fn icon(status: &str) -> &'static str {
    match status {
        "success" => "✓",
        "failure" => "✗",
        "cancelled" => "⊘",
        "skipped" => "–",
        "running" => "●",
        "gated" => "⏸",
        _ => "○",
    }
}

/// Prints run `number`'s logs (its latest attempt), or one job's: each instance's notes from
/// the history, then each step's log file as the step wrote it, masked.
pub(crate) fn run_logs(data: &DataArgs, number: u64, job: Option<&str>) -> anyhow::Result<Code> {
    let data = data.open()?;
    let Some(run) = data.store.run(number)? else {
        eprintln!("error: no run {number} in {}", data.dir.display());
        return Ok(exit::FAILURE);
    };
    // A job kept from an earlier attempt shows what it did then.
    let jobs = data.store.jobs(number, run.attempt)?;
    let mut attempts: BTreeMap<u32, Vec<InstanceRow>> = BTreeMap::new();
    let mut chosen: Vec<(u32, InstanceRow)> = Vec::new();
    for j in jobs
        .iter()
        .filter(|j| job.is_none_or(|n| j.job == n || j.name == n))
    {
        let attempt = j.reused_from.unwrap_or(run.attempt);
        if let std::collections::btree_map::Entry::Vacant(e) = attempts.entry(attempt) {
            e.insert(data.store.instances(number, attempt)?);
        }
        let ran = attempts[&attempt]
            .iter()
            .filter(|i| i.job == j.job)
            .cloned();
        chosen.extend(ran.map(|i| (attempt, i)));
    }
    if let (Some(j), true) = (job, chosen.is_empty()) {
        let names: Vec<&str> = jobs.iter().map(|i| i.job.as_str()).collect();
        eprintln!(
            "error: run {number} has no job `{j}` that ran (expected one of {})",
            names.join(", ")
        );
        return Ok(exit::FAILURE);
    }
    let notes = notes(&data, number)?;
    let mut out = std::io::stdout().lock();
    let run_notes = notes
        .iter()
        .filter(|(a, j, _)| *a == run.attempt && j.is_none() && job.is_none());
    for (_, _, text) in run_notes {
        writeln!(out, "# {text}")?;
    }
    for (attempt, instance) in &chosen {
        let kept = if *attempt == run.attempt {
            String::new()
        } else {
            format!(", kept from run attempt {attempt}")
        };
        writeln!(
            out,
            "== {} · {} (attempt {}{kept})",
            instance.name, instance.status, instance.job_attempt
        )?;
        let own = notes
            .iter()
            .filter(|(a, j, _)| a == attempt && j.as_deref() == Some(instance.job.as_str()));
        for (_, _, text) in own {
            writeln!(out, "# {text}")?;
        }
        let Some(dir) = &instance.logs else { continue };
        let steps = instance.steps.as_array().cloned().unwrap_or_default();
        for (k, step) in steps.iter().enumerate() {
            let name = step["name"].as_str().unwrap_or("step");
            let status = step["status"].as_str().unwrap_or("");
            writeln!(out, "-- {name} · {status}")?;
            let prefix = format!("{}-{:02}-", instance.job_attempt, k + 1);
            let files = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix));
            for file in files {
                let mut f = std::fs::File::open(file.path())
                    .with_context(|| format!("cannot read {}", file.path().display()))?;
                // Streamed: a step's log may be larger than memory.
                std::io::copy(&mut f, &mut out)?;
            }
        }
    }
    Ok(exit::SUCCESS)
}

/// The notes of attempt `attempt` about the whole run, and why it was interrupted.
fn run_notes(data: &DataDir, number: u64, attempt: u32) -> anyhow::Result<Vec<String>> {
    let mut out: Vec<String> = notes(data, number)?
        .into_iter()
        .filter(|(a, job, _)| *a == attempt && job.is_none())
        .map(|(_, _, text)| text)
        .collect();
    for event in data.store.events(number)? {
        if event.kind == "interrupted" {
            let why = event.body["why"].as_str().unwrap_or("its process ended");
            out.push(format!("interrupted: {why}"));
        }
    }
    Ok(out)
}

/// A run's notes: (attempt, job, text), in order.
type Notes = Vec<(u32, Option<String>, String)>;

fn notes(data: &DataDir, number: u64) -> anyhow::Result<Notes> {
    let mut out = Vec::new();
    for event in data.store.events(number)? {
        if event.kind != "note" {
            continue;
        }
        let attempt = event.body["attempt"]
            .as_u64()
            .and_then(|a| u32::try_from(a).ok())
            .unwrap_or(0);
        let job = event.body["job"].as_str().map(str::to_owned);
        let text = event.body["text"].as_str().unwrap_or_default().to_owned();
        out.push((attempt, job, text));
    }
    Ok(out)
}

fn took(r: &RunRow) -> String {
    match r.finished_ms {
        Some(f) => format!("{:.1}s", f.saturating_sub(r.started_ms) as f64 / 1000.0),
        None => "-".to_owned(),
    }
}

/// `2026-05-01T12:03:04Z`.
pub(crate) fn timestamp(ms: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// `3m ago`, to the largest whole unit.
pub(crate) fn ago(ms: u64) -> String {
    let secs = now_ms().saturating_sub(ms) / 1000;
    let (n, unit) = match secs {
        s if s < 60 => (s, "s"),
        s if s < 3_600 => (s / 60, "m"),
        s if s < 86_400 => (s / 3_600, "h"),
        s => (s / 86_400, "d"),
    };
    format!("{n}{unit} ago")
}
