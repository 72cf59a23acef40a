//! A job that calls a workflow of this repository (`uses: ./.github/workflows/x.yml`). The
//! called workflow is lowered on its own, reported against its own file, and its jobs join
//! the caller's pipeline under ids prefixed with the calling job's (`tests.lint`), between two
//! jobs without steps: an entry where the calling job stands (its `needs` and `if`, its `with`
//! evaluated as outputs, which are the workflow's `inputs`), and, under the calling job's own
//! id, one that ends as the workflow's jobs did, with the workflow's `outputs`. Each joined job
//! keeps a `CallFrame`: the called workflow's view of the run.

use std::collections::BTreeMap;

use bellwether_pipeline_core::expr::{Expr, Template};
use bellwether_pipeline_core::inputs::InputKind;
use bellwether_pipeline_core::spec::{CallFrame, JobSpec, PassedSecrets};

use super::exprs::{self, Declared, Place};
use super::fields::job_id;
use super::{PipelineCx, Project, START, declared_inputs, job, lower, on};
use crate::called::{CalledFile, is_local};
use crate::diagnostic::Sink;
use crate::model::{PipelineConfig, PipelineJobConfig, WorkflowCallConfig};
use crate::span::Spanned;
use crate::suggest::did_you_mean;

/// How deep calls may nest, as on GitHub.
pub(super) const MAX_DEPTH: usize = 10;

/// The `workflow_call` of the workflow job `j` calls, when it is one of this repository's
/// that was read.
pub(super) fn workflow_of<'a>(
    j: &PipelineJobConfig,
    called: &'a crate::called::Called,
) -> Option<&'a WorkflowCallConfig> {
    let uses = j.uses.as_ref().filter(|u| is_local(&u.value))?;
    let CalledFile::Read(_, config) = called.get(&uses.value)? else {
        return None;
    };
    workflow_call(config)
}

fn workflow_call(config: &PipelineConfig) -> Option<&WorkflowCallConfig> {
    static EMPTY: std::sync::OnceLock<WorkflowCallConfig> = std::sync::OnceLock::new();
    let present = config.on.as_ref()?.value.workflow_call.as_ref()?;
    Some(
        present
            .value
            .as_ref()
            .unwrap_or_else(|| EMPTY.get_or_init(WorkflowCallConfig::default)),
    )
}

/// The names of a called workflow's outputs.
pub(super) fn outputs(call: &WorkflowCallConfig) -> impl Iterator<Item = &str> {
    call.outputs.names()
}

/// The jobs job `id` stands for: the entry, the called workflow's jobs and the job under its
/// own id; none after reporting why they cannot be.
pub(super) fn expand(
    id: &Spanned<String>,
    j: &Spanned<PipelineJobConfig>,
    uses: &Spanned<String>,
    cx: &PipelineCx<'_>,
    project: &Project<'_>,
    sink: &mut Sink<'_>,
) -> Vec<JobSpec> {
    job_id(id, sink);
    let caller = &j.value;
    only_call_keys(id, caller, sink);
    let (shown, config) = match project.called.get(&uses.value) {
        Some(CalledFile::Read(shown, config)) => (shown, config),
        Some(CalledFile::Unreadable(why)) => {
            sink.error(
                uses.pos,
                format!("job `{}` calls `{}`: {why}", id.value, uses.value),
            );
            return Vec::new();
        }
        Some(CalledFile::Invalid(diagnostics)) => {
            sink.absorb(diagnostics.clone());
            sink.error(
                uses.pos,
                format!(
                    "job `{}` calls `{}`, which is not a valid workflow (its errors are listed with it)",
                    id.value, uses.value
                ),
            );
            return Vec::new();
        }
        None => return Vec::new(),
    };
    if project.calling.contains(&uses.value) || project.calling.len() >= MAX_DEPTH {
        let chain: Vec<&str> = project
            .calling
            .iter()
            .map(String::as_str)
            .chain([uses.value.as_str()])
            .collect();
        sink.error(
            uses.pos,
            format!(
                "job `{}` calls `{}`, which {} ({}): calls nest at most {MAX_DEPTH} deep and never in a circle",
                id.value,
                uses.value,
                if project.calling.contains(&uses.value) {
                    "calls itself"
                } else {
                    "nests too deep"
                },
                chain.join(" → ")
            ),
        );
        return Vec::new();
    }
    let Some(call) = workflow_call(config) else {
        sink.error(
            uses.pos,
            format!(
                "job `{}` calls `{}`, which is not a reusable workflow (expected `on: workflow_call` in it)",
                id.value, uses.value
            ),
        );
        return Vec::new();
    };

    let mut own = Sink::new(shown);
    let mut calling = project.calling.to_vec();
    calling.push(uses.value.clone());
    let inner = Project {
        services: project.services,
        environments: project.environments,
        protected: project.protected,
        pipelines: None,
        checks: project.checks,
        suites: project.suites,
        called: project.called,
        calling: &calling,
    };
    let spec = lower(
        id,
        &Spanned::new((**config).clone(), START),
        &inner,
        &mut own,
    );
    let declared_kinds: Vec<(String, InputKind, Option<String>, bool)> = call
        .inputs
        .iter()
        .map(|(name, input)| {
            let spec = on::input_spec(name, input, &mut own);
            let default = input.value.default.as_ref().map(|d| d.value.clone());
            (spec.name, spec.kind, default, spec.required)
        })
        .collect();
    let exit_outputs = workflow_outputs(config, call, &mut own);
    sink.absorb(own.finish());

    let display = caller
        .name
        .as_ref()
        .map(|n| n.value.clone())
        .filter(|n| !n.contains("${{"))
        .unwrap_or_else(|| id.value.clone());
    let needs = job::needs(id, caller, cx, sink);
    let need_names: Vec<&str> = needs.iter().map(String::as_str).collect();
    let place = Place {
        field: "with",
        contexts: exprs::JOB_IF,
        status: false,
        files: false,
        declared: &cx.declared,
        needs: &need_names,
        matrix: None,
        steps: &[],
    };
    let condition = caller.condition.as_ref().and_then(|c| {
        Place {
            field: "if",
            status: true,
            ..place
        }
        .condition(c, sink)
    });
    let with = inputs(id, caller, &declared_kinds, &place, sink);
    let secrets = secrets(id, caller, call, sink);

    let prefix = format!("{}.", id.value);
    let entry = format!("{}:inputs", id.value);
    let frame = CallFrame {
        entry: entry.clone(),
        jobs: spec
            .jobs
            .iter()
            .map(|job| (job.id.clone(), format!("{prefix}{}", job.id)))
            .collect(),
        inputs: declared_kinds
            .iter()
            .map(|(name, kind, ..)| (name.clone(), kind.clone()))
            .collect(),
        secrets,
    };
    let mut jobs = vec![JobSpec {
        id: entry.clone(),
        name: Some(Template::literal(format!(
            "{display} (calls {})",
            uses.value
        ))),
        needs,
        condition,
        outputs: with,
        ..JobSpec::default()
    }];
    for called in &spec.jobs {
        let own_level = called.frame.is_none() && called.stands_for.is_none();
        let mut needs: Vec<String> = called
            .needs
            .iter()
            .map(|n| format!("{prefix}{n}"))
            .collect();
        if needs.is_empty() {
            needs.push(entry.clone());
        }
        let name = match &called.name {
            Some(t) => Template::parse(&format!("{display} / {}", t.source()))
                .unwrap_or_else(|_| t.clone()),
            None => Template::literal(format!("{display} / {}", called.id)),
        };
        let mut env = if own_level {
            spec.env.clone()
        } else {
            Vec::new()
        };
        env.extend(called.env.iter().cloned());
        let defaults = if own_level && called.defaults == Default::default() {
            spec.defaults.clone()
        } else {
            called.defaults.clone()
        };
        jobs.push(JobSpec {
            id: format!("{prefix}{}", called.id),
            name: Some(name),
            needs,
            env,
            defaults,
            frame: Some(match &called.frame {
                None => frame.clone(),
                Some(inner) => inner.within(&prefix, &frame.secrets),
            }),
            stands_for: called
                .stands_for
                .as_ref()
                .map(|inner| inner.within(&prefix, &frame.secrets)),
            ..called.clone()
        });
    }
    jobs.push(JobSpec {
        id: id.value.clone(),
        name: Some(Template::literal(display)),
        needs: jobs.iter().map(|job| job.id.clone()).collect(),
        outputs: exit_outputs,
        stands_for: Some(frame),
        ..JobSpec::default()
    });
    jobs
}

/// What a calling job may have: the rest belongs in the called workflow's jobs.
fn only_call_keys(id: &Spanned<String>, j: &PipelineJobConfig, sink: &mut Sink<'_>) {
    let pos = j.uses.as_ref().map_or(id.pos, |u| u.pos);
    let written = [
        ("steps", !j.steps.is_empty()),
        ("env", !j.env.is_empty()),
        ("outputs", !j.outputs.is_empty()),
        ("environment", j.environment.is_some()),
        (
            "timeout",
            j.timeout.is_some() || j.timeout_minutes.is_some(),
        ),
        ("retry", j.retry.is_some()),
        ("continue-on-error", j.continue_on_error.is_some()),
        ("defaults", j.defaults.is_some()),
        ("runs-on", j.runs_on.is_some()),
    ];
    for (key, _) in written.iter().filter(|(_, set)| *set) {
        sink.error(
            pos,
            format!(
                "job `{}` calls a workflow and also has `{key}` (expected `{key}` in the called workflow's jobs)",
                id.value
            ),
        );
    }
    if let Some(s) = &j.strategy {
        sink.error(
            s.pos,
            format!(
                "job `{}` calls a workflow with a matrix, which is not supported (expected the matrix in the called workflow's jobs, with the values passed as an input)",
                id.value
            ),
        );
    }
}

/// The calling job's `with`, checked against the inputs the workflow declares: the entry's
/// outputs, a declared default standing for an input not given.
fn inputs(
    id: &Spanned<String>,
    j: &PipelineJobConfig,
    declared: &[(String, InputKind, Option<String>, bool)],
    place: &Place<'_>,
    sink: &mut Sink<'_>,
) -> Vec<(String, Template)> {
    let empty = serde_json::Map::new();
    let (with, pos) = match &j.with {
        None => (&empty, id.pos),
        Some(Spanned {
            value: serde_json::Value::Object(with),
            pos,
        }) => (with, *pos),
        Some(other) => {
            sink.error(
                other.pos,
                format!(
                    "`with` of job `{}` is not a mapping (expected inputs by name, e.g. `with: {{node: 20}}`)",
                    id.value
                ),
            );
            return Vec::new();
        }
    };
    let names: Vec<&str> = declared.iter().map(|(n, ..)| n.as_str()).collect();
    for key in with.keys().filter(|k| !names.contains(&k.as_str())) {
        sink.error(
            pos,
            format!(
                "`with` of job `{}` gives `{key}`, which the workflow does not declare{} (expected {})",
                id.value,
                did_you_mean(key, names.iter().copied()),
                if names.is_empty() {
                    "no inputs: it declares none under `on: workflow_call: inputs`".to_owned()
                } else {
                    format!("one of {}", names.join(", "))
                }
            ),
        );
    }
    let mut out = Vec::new();
    for (name, kind, default, required) in declared {
        let text = match with.get(name) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Bool(b)) => b.to_string(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(_) => {
                sink.error(
                    pos,
                    format!(
                        "`with.{name}` of job `{}` is not a string, number or boolean",
                        id.value
                    ),
                );
                continue;
            }
            None => match default {
                Some(d) => d.clone(),
                None if *required => {
                    sink.error(
                        pos,
                        format!(
                            "job `{}` does not give input `{name}`, which the workflow requires (expected `with: {{{name}: …}}`)",
                            id.value
                        ),
                    );
                    continue;
                }
                None => continue,
            },
        };
        let Some(template) = place.template(&Spanned::new(text, pos), pos, sink) else {
            continue;
        };
        if let Some(literal) = template.as_literal()
            && let Err(e) = kind.coerce(literal)
        {
            sink.error(pos, format!("`with.{name}` of job `{}`: {e}", id.value));
            continue;
        }
        out.push((name.clone(), template));
    }
    out
}

/// The calling job's `secrets`: `inherit`, or each of the workflow's secrets as
/// `${{ secrets.NAME }}` of the caller's; none when it passes none.
fn secrets(
    id: &Spanned<String>,
    j: &PipelineJobConfig,
    call: &WorkflowCallConfig,
    sink: &mut Sink<'_>,
) -> PassedSecrets {
    let passed = match &j.secrets {
        Some(Spanned {
            value: serde_json::Value::String(s),
            ..
        }) if s == "inherit" => return PassedSecrets::Inherit,
        None => serde_json::Map::new(),
        Some(Spanned {
            value: serde_json::Value::Object(map),
            ..
        }) => map.clone(),
        Some(other) => {
            sink.error(
                other.pos,
                format!(
                    "`secrets` of job `{}` is neither `inherit` nor a mapping (expected e.g. `secrets: {{token: ${{{{ secrets.API_TOKEN }}}}}}`)",
                    id.value
                ),
            );
            return PassedSecrets::Named(BTreeMap::new());
        }
    };
    let pos = j.secrets.as_ref().map_or(id.pos, |s| s.pos);
    let declared: Vec<&str> = call.secrets.names().collect();
    let mut named = BTreeMap::new();
    for (name, value) in &passed {
        if !declared.iter().any(|d| d.eq_ignore_ascii_case(name)) {
            sink.error(
                pos,
                format!(
                    "job `{}` passes secret `{name}`, which the workflow does not declare{} (expected one of its `on: workflow_call: secrets`: {})",
                    id.value,
                    did_you_mean(name, declared.iter().copied()),
                    declared.join(", ")
                ),
            );
            continue;
        }
        match value.as_str().and_then(secret_named) {
            Some(theirs) => {
                named.insert(name.to_ascii_uppercase(), theirs);
            }
            None => sink.error(
                pos,
                format!(
                    "secret `{name}` of job `{}` is not one of the caller's secrets (expected `${{{{ secrets.NAME }}}}`)",
                    id.value
                ),
            ),
        }
    }
    for (name, secret) in call.secrets.iter() {
        let given = named.contains_key(&name.value.to_ascii_uppercase());
        if secret.value.required == Some(true) && !given {
            sink.error(
                pos,
                format!(
                    "job `{}` does not pass secret `{}`, which the workflow requires (expected `secrets: {{{}: ${{{{ secrets.NAME }}}}}}` or `secrets: inherit`)",
                    id.value, name.value, name.value
                ),
            );
        }
    }
    PassedSecrets::Named(named)
}

/// `NAME` of a value that is exactly `${{ secrets.NAME }}`.
fn secret_named(text: &str) -> Option<String> {
    let template = Template::parse(text).ok()?;
    let Expr::Property(context, name) = template.as_single()? else {
        return None;
    };
    matches!(&**context, Expr::Context(c) if c.eq_ignore_ascii_case("secrets"))
        .then(|| name.to_ascii_uppercase())
}

/// The workflow's `outputs`, over its jobs' (`jobs.<id>.outputs.<name>`).
fn workflow_outputs(
    config: &PipelineConfig,
    call: &WorkflowCallConfig,
    sink: &mut Sink<'_>,
) -> Vec<(String, Template)> {
    let job_ids: Vec<&str> = config.jobs.names().collect();
    let declared = Declared {
        outputs: config
            .jobs
            .iter()
            .map(|(id, j)| (id.value.as_str(), j.value.outputs.names().collect()))
            .collect(),
        inputs: declared_inputs(config),
    };
    let mut out = Vec::new();
    for (name, output) in call.outputs.iter() {
        let field = format!("output {}", name.value);
        let place = Place {
            field: &field,
            contexts: exprs::CALL_OUTPUTS,
            status: false,
            files: false,
            declared: &declared,
            needs: &job_ids,
            matrix: None,
            steps: &[],
        };
        if let Some(t) = place.template(&output.value.value, output.pos, sink) {
            out.push((name.value.clone(), t));
        }
    }
    out
}
