//! `pipelines:` lowered into the pipeline core's specs. Every template and condition is
//! parsed where it is written, so a bad expression, a `needs` to an unknown job, a cycle, a
//! bad cron line or glob, or a reference to an undeclared service or environment is reported
//! at its `file:line:column`.

mod actions;
mod call;
mod exprs;
mod fields;
mod graph;
mod job;
mod on;
mod step;

use std::collections::BTreeMap;

use bellwether_core::spec::{CheckSpec, VerifySpec};
use bellwether_pipeline_core::expr::Template;
use bellwether_pipeline_core::spec::PipelineSpec;
use bellwether_pipeline_core::trigger::Trigger;

use super::{Workflows, names};
use crate::called::{Called, CalledFile, is_local};
use crate::diagnostic::Sink;
use crate::model::{ManualConfig, OnConfig, PipelineConfig, ProjectFile};
use crate::span::{Pos, Spanned};
use exprs::{Declared, Place};

/// What a job is checked against: the rest of the file.
struct PipelineCx<'a> {
    declared: Declared<'a>,
    /// Artifact names each job uploads.
    uploads: BTreeMap<&'a str, Vec<Template>>,
    jobs: Vec<&'a str>,
    services: &'a [&'a str],
    environments: &'a [&'a str],
    /// The declared environments with protection rules, which a new name may not be a
    /// near miss of.
    protected: &'a [&'a str],
    checks: &'a BTreeMap<String, CheckSpec>,
    suites: &'a BTreeMap<String, VerifySpec>,
}

/// Lowers every pipeline; `checks` and `suites` are the project's, which steps may run, and
/// `protected` its environments with protection rules. A pipeline that names a workflow file
/// is that file's, reported against it.
pub(super) fn lower_all(
    file: &ProjectFile,
    workflows: &Workflows,
    called: &Called,
    checks: &BTreeMap<String, CheckSpec>,
    suites: &BTreeMap<String, VerifySpec>,
    protected: &[&str],
    sink: &mut Sink<'_>,
) -> Vec<PipelineSpec> {
    let services: Vec<&str> = file.services.names().collect();
    let environments: Vec<&str> = file.environments.names().collect();
    let pipelines: Vec<&str> = file.pipelines.names().collect();
    let project = Project {
        services: &services,
        environments: &environments,
        protected,
        pipelines: Some(&pipelines),
        checks,
        suites,
        called,
        calling: &[],
    };
    let specs: Vec<PipelineSpec> = file
        .pipelines
        .iter()
        .filter_map(|(name, p)| match &p.value.workflow {
            None => Some(lower(name, p, &project, sink)),
            Some(workflow) => {
                only_workflow(name, p, workflow, sink);
                let (shown, config) = workflows.get(&name.value)?;
                let mut own = Sink::new(shown);
                let spec = lower(
                    name,
                    &Spanned::new(config.clone(), START),
                    &project,
                    &mut own,
                );
                sink.absorb(own.finish());
                Some(spec)
            }
        })
        .collect();
    for (name, _) in file.pipelines.iter() {
        if let Some(cycle) = follows_itself(&name.value, &specs) {
            sink.error(
                name.pos,
                format!(
                    "pipeline `{}` follows itself through `workflow_run` ({}): each run would start the next forever",
                    name.value,
                    cycle.join(" → ")
                ),
            );
        }
    }
    specs
}

/// The pipelines from `start` back to itself through `workflow_run`, if it is on a cycle: a
/// pipeline follows those its `workflow_run` names, so a run of one starts the next.
fn follows_itself(start: &str, specs: &[PipelineSpec]) -> Option<Vec<String>> {
    let followers = |name: &str| -> Vec<String> {
        specs
            .iter()
            .filter(|p| {
                p.triggers.iter().any(
                    |t| matches!(t, Trigger::WorkflowRun(f) if f.workflows.iter().any(|w| w == name)),
                )
            })
            .map(|p| p.name.clone())
            .collect()
    };
    let mut paths = vec![vec![start.to_owned()]];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(path) = paths.pop() {
        let last = path.last()?.clone();
        for next in followers(&last) {
            if next == start {
                let mut cycle = path.clone();
                cycle.push(next);
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next);
                paths.push(longer);
            }
        }
    }
    None
}

/// Where a workflow file's keys start.
const START: Pos = Pos { line: 1, column: 1 };

/// A pipeline that names a workflow file has nothing else: its jobs and triggers are the file's.
fn only_workflow(
    name: &Spanned<String>,
    p: &Spanned<PipelineConfig>,
    workflow: &Spanned<String>,
    sink: &mut Sink<'_>,
) {
    let v = &p.value;
    let beside = [
        ("name", v.name.is_some()),
        ("on", v.on.is_some()),
        ("env", !v.env.is_empty()),
        ("defaults", v.defaults.is_some()),
        ("concurrency", v.concurrency.is_some()),
        ("jobs", !v.jobs.is_empty()),
        ("run-name", v.run_name.is_some()),
        ("permissions", v.permissions.is_some()),
    ];
    for (key, _) in beside.iter().filter(|(_, set)| *set) {
        sink.error(workflow.pos, format!("pipeline `{}` runs workflow file `{}` and also has `{key}` (expected `{key}` written in the workflow file)", name.value, workflow.value));
    }
}

/// A workflow file on its own. Its name is its `name`, made a valid pipeline name, or its file
/// stem; the environments its jobs name exist by being named, as on GitHub.
pub(super) fn workflow(
    file_name: &str,
    config: &PipelineConfig,
    called: &Called,
    sink: &mut Sink<'_>,
) -> (PipelineSpec, Vec<String>) {
    if let Some(w) = &config.workflow {
        sink.error(
            w.pos,
            "`workflow` names a workflow file from `bellwether.yaml` (expected it left out of a workflow file)",
        );
    }
    let stem = std::path::Path::new(file_name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = config
        .name
        .as_ref()
        .map(|n| slug(&n.value))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| slug(&stem));
    let environments: Vec<String> = config
        .jobs
        .iter()
        .filter_map(|(_, j)| j.value.environment.as_ref()?.value.name.as_ref())
        .map(|n| n.value.clone())
        .filter(|n| !n.contains("${{"))
        .collect();
    let named: Vec<&str> = environments.iter().map(String::as_str).collect();
    let project = Project {
        services: &[],
        environments: &named,
        protected: &[],
        pipelines: None,
        checks: &BTreeMap::new(),
        suites: &BTreeMap::new(),
        called,
        calling: &[],
    };
    let spec = lower(
        &Spanned::new(name, START),
        &Spanned::new(config.clone(), START),
        &project,
        sink,
    );
    let mut unique = environments.clone();
    unique.sort();
    unique.dedup();
    (spec, unique)
}

/// A workflow's display name as a pipeline name: letters, digits, `_`, `-` and `.`, the rest
/// turned into single `-`.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '.') {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches(['-', '.']).chars().take(63).collect()
}

/// What pipelines may refer to beyond themselves.
struct Project<'a> {
    services: &'a [&'a str],
    environments: &'a [&'a str],
    protected: &'a [&'a str],
    /// Every pipeline of the file, which `workflow_run` may follow; `None` for a workflow
    /// file read on its own.
    pipelines: Option<&'a [&'a str]>,
    checks: &'a BTreeMap<String, CheckSpec>,
    suites: &'a BTreeMap<String, VerifySpec>,
    /// The workflows jobs may call, read beforehand.
    called: &'a Called,
    /// The calls being lowered, outermost first: a workflow may not call itself.
    calling: &'a [String],
}

fn lower(
    name: &Spanned<String>,
    pipeline: &Spanned<PipelineConfig>,
    project: &Project<'_>,
    sink: &mut Sink<'_>,
) -> PipelineSpec {
    names::identifier("pipeline", name, sink);
    let p = &pipeline.value;
    let triggers =
        p.on.as_ref()
            .map(|on| on::triggers(on, project.pipelines, sink))
            .unwrap_or_default();
    let cx = PipelineCx {
        declared: Declared {
            outputs: p
                .jobs
                .iter()
                .map(|(id, j)| {
                    let outputs = match call::workflow_of(&j.value, project.called) {
                        Some(called) => call::outputs(called).collect(),
                        None => j.value.outputs.names().collect(),
                    };
                    (id.value.as_str(), outputs)
                })
                .collect(),
            inputs: declared_inputs(p),
        },
        uploads: uploads(p, project.called),
        jobs: p.jobs.names().collect(),
        services: project.services,
        environments: project.environments,
        protected: project.protected,
        checks: project.checks,
        suites: project.suites,
    };
    let place = |field, contexts| Place {
        field,
        contexts,
        status: false,
        files: false,
        declared: &cx.declared,
        needs: &[],
        matrix: None,
        steps: &[],
    };
    let env = fields::env_vars(&p.env, &place("env", exprs::PIPELINE), sink);
    let concurrency = p
        .concurrency
        .as_ref()
        .and_then(|c| job::concurrency(c, &place("concurrency", &["github", "inputs"]), sink));
    let defaults = p
        .defaults
        .as_ref()
        .map(|d| job::defaults(d, sink))
        .unwrap_or_default();
    if p.jobs.is_empty() {
        sink.error(
            name.pos,
            format!(
                "pipeline `{}` has no jobs (expected at least one under `jobs:`)",
                name.value
            ),
        );
    }
    graph::check_cycles(&p.jobs, sink);
    let ancestry = graph::Ancestry::new(&p.jobs);
    let jobs = p
        .jobs
        .iter()
        .flat_map(
            |(id, j)| match j.value.uses.as_ref().filter(|u| is_local(&u.value)) {
                Some(uses) => call::expand(id, j, uses, &cx, project, sink),
                None => vec![job::lower(id, j, &cx, &ancestry.of(&id.value), sink)],
            },
        )
        .collect();
    PipelineSpec {
        name: name.value.clone(),
        triggers,
        env,
        defaults,
        concurrency,
        jobs,
    }
}

/// The inputs `inputs.NAME` may name: a manual run's, and those a caller passes.
fn declared_inputs(p: &PipelineConfig) -> Option<Vec<&str>> {
    let on = &p.on.as_ref()?.value;
    let manual = manual(on).map(|m| m.inputs.names());
    let called = on
        .workflow_call
        .as_ref()
        .and_then(|c| c.value.as_ref())
        .map(|c| c.inputs.names());
    if manual.is_none() && called.is_none() {
        return None;
    }
    Some(
        manual
            .into_iter()
            .flatten()
            .chain(called.into_iter().flatten())
            .collect(),
    )
}

fn manual(on: &OnConfig) -> Option<&ManualConfig> {
    static EMPTY: std::sync::OnceLock<ManualConfig> = std::sync::OnceLock::new();
    let present = on.manual.as_ref().or(on.workflow_dispatch.as_ref())?;
    Some(
        present
            .value
            .as_ref()
            .unwrap_or_else(|| EMPTY.get_or_init(ManualConfig::default)),
    )
}

/// The artifact names each job uploads: `name`, or the job's id; a job that calls a workflow,
/// those its jobs upload. A name computed per matrix leg is kept as written; what it may
/// render as is checked against downloads.
fn uploads<'a>(p: &'a PipelineConfig, called: &'a Called) -> BTreeMap<&'a str, Vec<Template>> {
    uploads_within(p, called, 0)
}

/// [`uploads`], `depth` calls deep: a circle of calls, refused where it is lowered, ends at
/// the depth calls may nest to.
fn uploads_within<'a>(
    p: &'a PipelineConfig,
    called: &'a Called,
    depth: usize,
) -> BTreeMap<&'a str, Vec<Template>> {
    p.jobs
        .iter()
        .map(|(id, j)| {
            let names = match j.value.uses.as_ref().and_then(|u| called.get(&u.value)) {
                Some(CalledFile::Read(_, config)) if depth < call::MAX_DEPTH => {
                    uploads_within(config, called, depth + 1)
                        .into_values()
                        .flatten()
                        .collect()
                }
                _ => j
                    .value
                    .steps
                    .iter()
                    .filter_map(|s| actions::artifacts_step(&s.value))
                    .filter(|a| a.value.upload.is_some())
                    .map(|a| match &a.value.name {
                        None => Template::literal(id.value.clone()),
                        // One that does not parse is reported where the upload is lowered.
                        Some(n) => Template::parse(&n.value)
                            .unwrap_or_else(|_| Template::literal(n.value.clone())),
                    })
                    .collect(),
            };
            (id.value.as_str(), names)
        })
        .collect()
}
