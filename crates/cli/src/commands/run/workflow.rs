//! `bellwether run --workflow FILE [JOB...]`: a GitHub Actions workflow file run as one
//! pipeline, all its jobs or those named with the jobs they need, saying where jobs that ask
//! for a runner run instead.

use std::collections::BTreeSet;
use std::path::Path;

use bellwether_pipeline_core::spec::PipelineSpec;

/// Keeps the jobs named and those they need, transitively; all when none is named.
pub(crate) fn only(spec: &mut PipelineSpec, jobs: &[&String]) -> Result<(), String> {
    if jobs.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = spec.jobs.iter().map(|j| j.id.as_str()).collect();
    let unknown: Vec<&str> = jobs
        .iter()
        .map(|j| j.as_str())
        .filter(|j| !ids.contains(j))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "no job {} in workflow `{}` (expected one of {})",
            unknown
                .iter()
                .map(|j| format!("`{j}`"))
                .collect::<Vec<_>>()
                .join(", "),
            spec.name,
            ids.join(", ")
        ));
    }
    let mut keep: BTreeSet<String> = BTreeSet::new();
    let mut todo: Vec<String> = jobs.iter().map(|j| (*j).clone()).collect();
    while let Some(id) = todo.pop() {
        if keep.insert(id.clone())
            && let Some(job) = spec.jobs.iter().find(|j| j.id == id)
        {
            todo.extend(job.needs.iter().cloned());
        }
    }
    spec.jobs.retain(|j| keep.contains(&j.id));
    Ok(())
}

/// `runs-on: ubuntu-latest → this host (linux x86_64)`, once per job that asks for a runner.
pub(super) fn report_runs_on(file: &Path) -> anyhow::Result<()> {
    let source = super::super::read(file)?;
    let Ok(workflow) = bellwether_config::load_workflow(&file.display().to_string(), &source)
    else {
        return Ok(());
    };
    let host = format!(
        "this host ({} {})",
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    for (job, runs_on) in &workflow.runs_on {
        println!("{job}: runs-on: {runs_on} → {host}");
    }
    Ok(())
}
