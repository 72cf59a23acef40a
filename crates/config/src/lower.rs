//! Validation and lowering in one pass: the file model becomes the core's
//! [`Project`], and every problem found on the way becomes a diagnostic.
//!
//! Doing both at once means each rule is written once, next to the value it guards, and the
//! lowered project can only exist when every rule held. Checks never stop at the first problem:
//! a bad value is reported and replaced by its default so that the rest is still checked.

mod analysis;
mod check;
mod dependencies;
mod dora;
mod environment;
mod names;
mod notify;
mod pipeline;
mod provider;
mod scalars;
mod server;
mod service;
mod strategy;
mod traffic;
mod trust;

use std::collections::BTreeMap;

use bellwether_core::spec::{EnvironmentSpec, Project};
use bellwether_pipeline_core::spec::PipelineSpec;

use crate::called::Called;
use crate::diagnostic::Sink;
use crate::model::{PipelineConfig, ProjectFile};
use crate::span::Pos;

/// Workflow files read, by the key of the pipeline that names them: the name diagnostics use
/// for the file, and the file as written.
pub(crate) type Workflows = BTreeMap<String, (String, PipelineConfig)>;

/// Checks and lowers a whole file: its project and its pipelines.
pub(crate) fn project(
    file: &ProjectFile,
    workflows: &Workflows,
    called: &Called,
    sink: &mut Sink<'_>,
) -> (Project, Vec<PipelineSpec>) {
    let providers = provider::table(&file.providers, sink);
    let mut project = Project::default();
    let environments: Vec<&str> = file.environments.names().collect();
    for (name, env) in file.environments.iter() {
        let spec = environment::lower(name, env, &environments, sink);
        project.environments.insert(name.value.clone(), spec);
    }
    (project.checks, project.verify) = check::lower(file, sink);
    let services: Vec<&str> = file.services.names().collect();
    for (name, config) in file.services.iter() {
        let spec = service::lower(
            name,
            config,
            &providers,
            &environments,
            &services,
            &project.verify,
            sink,
        );
        project.services.insert(name.value.clone(), spec);
    }
    project.dora = dora::lower(&file.dora, sink);
    project.notifications = notify::lower(file, sink);
    project.trust = trust::lower(file, sink);
    project.server = server::lower(&file.server, sink);
    dependencies::check_cycles(file, sink);
    let protected: Vec<&str> = project
        .environments
        .values()
        .filter(|e| e.is_protected())
        .map(|e| e.name.as_str())
        .collect();
    let pipelines = pipeline::lower_all(
        file,
        workflows,
        called,
        &project.checks,
        &project.verify,
        &protected,
        sink,
    );
    // An environment a job names without declaring it exists, unprotected, as on GitHub.
    let implicit: Vec<String> = pipelines
        .iter()
        .flat_map(|p| &p.jobs)
        .filter_map(|j| j.environment.as_ref()?.name.as_literal())
        .filter(|name| !project.environments.contains_key(*name))
        .map(str::to_owned)
        .collect();
    for name in implicit {
        let spec = EnvironmentSpec::unprotected(&name);
        project.environments.insert(name, spec);
    }
    (project, pipelines)
}

/// A workflow file on its own, as one pipeline, with the environments its jobs name.
pub(crate) fn workflow(
    file_name: &str,
    config: &PipelineConfig,
    called: &Called,
    sink: &mut Sink<'_>,
) -> (PipelineSpec, Vec<String>) {
    pipeline::workflow(file_name, config, called, sink)
}

/// Of several optional keys, exactly one must be set, e.g. `canary`, `blueGreen` or `rolling`.
/// Reports at `pos` when none or more than one is, naming the keys.
fn exactly_one(sink: &mut Sink<'_>, pos: Pos, what: &str, keys: &[(&str, bool)]) -> bool {
    let all: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
    let set: Vec<&str> = keys.iter().filter(|(_, s)| *s).map(|(k, _)| *k).collect();
    let expected = match all.split_last() {
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    match set.as_slice() {
        [_] => return true,
        [] => sink.error(pos, format!("{what} is empty (expected one of {expected})")),
        [first, second, ..] => sink.error(
            pos,
            format!(
                "{what} has both `{first}` and `{second}` (expected exactly one of {expected})"
            ),
        ),
    }
    false
}
