//! How `bellwether runs` prints runs, whichever history they come from: the table of runs, one
//! run in full, and a run's logs job by job.

use std::io::Write;

use bellwether_api::{RunInstanceView, RunJobView, RunView};

use super::{ago, timestamp};
use crate::commands::run::summary;

/// The table of runs, newest first.
pub(super) fn list(runs: &[RunView]) {
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

/// One run: its notes, each job's legs, its gates and reviews, its step summaries, and what
/// to do next.
pub(super) fn show(r: &RunView) {
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
    for note in &r.notes {
        println!("  {note}");
    }
    for job in &r.jobs {
        // A job kept from an earlier attempt is one line: its message says so.
        let kept = job.reused_from.is_some();
        if job.instances.is_empty() || kept {
            let status = job.conclusion.as_deref().unwrap_or("waiting");
            let why = job
                .message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            println!("  {} {}  {status}{why}", icon(status), job.name);
        }
        for i in job.instances.iter().filter(|_| !kept) {
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
    for g in &r.gates {
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
    for v in &r.reviews {
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
    summary::print(&r.step_summaries);
    match r.status.as_str() {
        "failure" | "cancelled" | "interrupted" => println!(
            "bellwether rerun {} --failed runs its failed and unfinished jobs again",
            r.number
        ),
        "waiting" => println!(
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

fn took(r: &RunView) -> String {
    match r.finished_ms {
        Some(f) => format!("{:.1}s", f.saturating_sub(r.started_ms) as f64 / 1000.0),
        None => "-".to_owned(),
    }
}

/// Where the logs of a run's steps are read from.
pub(super) trait StepLogs {
    /// Writes step `step` (from 1) of `leg` of `job` to `out` as the step wrote it, masked;
    /// nothing if it wrote no log.
    fn copy(
        &mut self,
        job: &RunJobView,
        leg: &RunInstanceView,
        step: usize,
        out: &mut dyn Write,
    ) -> anyhow::Result<()>;
}

/// A run's logs (or only those of `only`, a job by id or display name): the run's notes, then
/// for each leg its notes and each step's log. `Ok(false)` when the run has no such job that
/// ran, having said so.
pub(super) fn logs(
    run: &RunView,
    only: Option<&str>,
    source: &mut dyn StepLogs,
    out: &mut dyn Write,
) -> anyhow::Result<bool> {
    let jobs: Vec<&RunJobView> = run
        .jobs
        .iter()
        .filter(|j| only.is_none_or(|n| j.job == n || j.name == n))
        .collect();
    if let (Some(j), true) = (only, jobs.iter().all(|j| j.instances.is_empty())) {
        let names: Vec<&str> = run.jobs.iter().map(|i| i.job.as_str()).collect();
        eprintln!(
            "error: run {} has no job `{j}` that ran (expected one of {})",
            run.number,
            names.join(", ")
        );
        return Ok(false);
    }
    if only.is_none() {
        for note in &run.notes {
            writeln!(out, "# {note}")?;
        }
    }
    for job in jobs {
        let kept = job
            .reused_from
            .map(|a| format!(", kept from run attempt {a}"))
            .unwrap_or_default();
        for leg in &job.instances {
            writeln!(
                out,
                "== {} · {} (attempt {}{kept})",
                leg.name, leg.status, leg.attempt
            )?;
            for note in &job.notes {
                writeln!(out, "# {note}")?;
            }
            for (k, step) in leg.steps.iter().enumerate() {
                writeln!(out, "-- {} · {}", step.name, step.status)?;
                source.copy(job, leg, k + 1, out)?;
            }
        }
    }
    Ok(true)
}
