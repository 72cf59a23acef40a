//! A job lowered: its needs, timeout, retry, matrix, environment, outputs and steps.

use bellwether_pipeline_core::expr::Value;
use bellwether_pipeline_core::matrix::{Combination, Matrix};
use bellwether_pipeline_core::spec::{
    Concurrency, EnvironmentRef, JobSpec, MatrixSource, MatrixStrategy, Retry, RunDefaults,
};

use super::super::names;
use super::exprs::{self, MatrixKeys, Place};
use super::fields::{env_vars, flag, job_id, shell, timeout};
use super::{PipelineCx, on, step};
use crate::diagnostic::Sink;
use crate::model::{
    ConcurrencyForm, DefaultsConfig, MatrixForm, MatrixStrategyConfig, PipelineJobConfig,
};
use crate::span::{Entries, Pos, Spanned};
use crate::suggest::near_miss;

const MAX_ATTEMPTS: u32 = 10;

/// What GitHub runs elsewhere than on this machine: each refused with what to write instead,
/// all in the same pass.
fn unsupported(id: &Spanned<String>, j: &PipelineJobConfig, sink: &mut Sink<'_>) {
    let job = &id.value;
    if let Some(services) = &j.services {
        sink.error(services.pos, format!("job `{job}` has `services:`, and jobs run on this machine without service containers (expected the service started by a `run:` step, e.g. `docker run -d -p 5432:5432 postgres:16`, or one already running on this host)"));
    }
    if let Some(container) = &j.container {
        sink.error(container.pos, format!("job `{job}` has `container:`, and jobs run on this machine, not in a container (expected it left out, with the tools installed on this host, or a `run:` step that calls `docker run`)"));
    }
    // A workflow of this repository is called (`call.rs`); another's cannot be fetched.
    if let Some(uses) = &j.uses {
        sink.error(
            uses.pos,
            format!(
                "job `{job}` uses `{}`, a reusable workflow of another repository, which is not fetched from here (expected its jobs copied into this workflow, or the workflow file added to this repository and called as `uses: ./.github/workflows/FILE.yml`)",
                uses.value
            ),
        );
    }
    for (key, value) in [("with", &j.with), ("secrets", &j.secrets)] {
        if let (Some(v), None) = (value, &j.uses) {
            sink.error(v.pos, format!("job `{job}` has `{key}`, which belongs to jobs that call a reusable workflow with `uses` (expected `env` for the job's steps)"));
        }
    }
}

pub(super) fn lower(
    id: &Spanned<String>,
    job: &Spanned<PipelineJobConfig>,
    cx: &PipelineCx<'_>,
    ancestors: &[&str],
    sink: &mut Sink<'_>,
) -> JobSpec {
    job_id(id, sink);
    let j = &job.value;
    unsupported(id, j, sink);
    let needs = needs(id, j, cx, sink);
    let need_names: Vec<&str> = needs.iter().map(String::as_str).collect();
    let (strategy, matrix_keys) = match &j.strategy {
        Some(s) => strategy(s, &need_names, cx, sink),
        None => (None, None),
    };
    let place = |field: &'static str, contexts: &'static [&'static str]| Place {
        field,
        contexts,
        status: false,
        files: false,
        declared: &cx.declared,
        needs: &need_names,
        matrix: matrix_keys.as_ref(),
        steps: &[],
    };
    let condition = j.condition.as_ref().and_then(|c| {
        Place {
            status: true,
            matrix: None,
            ..place("if", exprs::JOB_IF)
        }
        .condition(c, sink)
    });
    let name = j
        .name
        .as_ref()
        .and_then(|n| place("name", exprs::JOB).template(n, n.pos, sink));
    let env = env_vars(&j.env, &place("env", exprs::JOB), sink);
    let continue_on_error = flag(
        j.continue_on_error.as_ref(),
        &place("continue-on-error", exprs::JOB),
        sink,
    );
    let environment = j.environment.as_ref().and_then(|e| {
        let name = e
            .value
            .name
            .as_ref()
            .map(|n| Spanned::new(n.value.clone(), n.pos.or(e.pos)));
        let Some(name) = name else {
            sink.error(
                e.pos,
                "`environment` has no `name` (expected e.g. `environment: production`)",
            );
            return None;
        };
        let template = place("environment", exprs::JOB).template(&name, e.pos, sink)?;
        if template.as_literal().is_some() {
            environment_reference(&name, cx, sink);
        }
        let url = e
            .value
            .url
            .as_ref()
            .and_then(|u| place("environment url", exprs::JOB).template(u, e.pos, sink));
        Some(EnvironmentRef {
            name: template,
            url,
        })
    });
    let concurrency = j
        .concurrency
        .as_ref()
        .and_then(|c| concurrency(c, &place("concurrency", exprs::JOB), sink));
    let defaults = j
        .defaults
        .as_ref()
        .map(|d| defaults(d, sink))
        .unwrap_or_default();
    if j.steps.is_empty() && j.uses.is_none() {
        sink.error(
            id.pos,
            format!(
                "job `{}` has no steps (expected at least one under `steps:`)",
                id.value
            ),
        );
    }
    let steps = step::lower_all(
        id,
        j,
        &need_names,
        matrix_keys.as_ref(),
        cx,
        ancestors,
        sink,
    );
    let step_ids: Vec<&str> = j
        .steps
        .iter()
        .filter_map(|s| s.value.id.as_ref())
        .map(|i| i.value.as_str())
        .collect();
    let outputs_place = Place {
        files: true,
        steps: &step_ids,
        ..place("outputs", exprs::STEP)
    };
    let outputs = j
        .outputs
        .iter()
        .filter_map(|(k, v)| {
            names::identifier("output", k, sink);
            outputs_place
                .template(v, k.pos, sink)
                .map(|t| (k.value.clone(), t))
        })
        .collect();
    JobSpec {
        id: id.value.clone(),
        name,
        needs,
        condition,
        env,
        timeout: timeout(j.timeout.as_ref(), j.timeout_minutes.as_ref(), sink),
        retry: j.retry.as_ref().map(|r| retry(r, sink)).unwrap_or_default(),
        continue_on_error,
        strategy,
        outputs,
        environment,
        concurrency,
        defaults,
        steps,
        frame: None,
        stands_for: None,
    }
}

pub(super) fn needs(
    id: &Spanned<String>,
    j: &PipelineJobConfig,
    cx: &PipelineCx<'_>,
    sink: &mut Sink<'_>,
) -> Vec<String> {
    let Some(list) = &j.needs else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for need in on::names_at(list) {
        if need.value == id.value {
            sink.error(
                need.pos,
                format!("job `{}` needs itself (expected other jobs)", id.value),
            );
        } else if names::reference("job", &need, &cx.jobs, sink) && !out.contains(&need.value) {
            out.push(need.value);
        }
    }
    out
}

/// A job's environment: a declared one, or a new one without protection rules, made when the
/// run reaches it, as GitHub does. A new name one or two edits from a protected environment is
/// refused: it is more likely a typo than a new environment, and taking it as new would let
/// the job past the protected one's rules without a word.
fn environment_reference(name: &Spanned<String>, cx: &PipelineCx<'_>, sink: &mut Sink<'_>) {
    let n = name.value.as_str();
    if cx.environments.contains(&n) {
        return;
    }
    if let Some(protected) = near_miss(n, cx.protected.iter().copied()) {
        sink.error(
            name.pos,
            format!(
                "unknown environment `{n}`; did you mean `{protected}`? (`{protected}` has protection rules, and a new environment this close to its name would have none; declare `{n}` under `environments:` if it is meant)"
            ),
        );
    } else {
        names::identifier("environment", name, sink);
    }
}

fn retry(r: &Spanned<crate::model::RetryForm>, sink: &mut Sink<'_>) -> Retry {
    let max_attempts = match &r.value.max_attempts {
        Some(m) if m.value.0 == 0 || m.value.0 > MAX_ATTEMPTS => {
            sink.error(m.pos.or(r.pos), format!("max-attempts {} is out of range (expected 1 to {MAX_ATTEMPTS}, counting the first attempt)", m.value.0));
            1
        }
        Some(m) => m.value.0,
        None => 2,
    };
    let mut on_exit_codes = Vec::new();
    for code in &r.value.on_exit_codes {
        match i32::try_from(code.value) {
            Ok(c) if (1..=255).contains(&c) => on_exit_codes.push(c),
            _ => sink.error(
                code.pos,
                format!(
                    "exit code {} is out of range (expected 1 to 255; 0 is success)",
                    code.value
                ),
            ),
        }
    }
    Retry {
        max_attempts,
        on_exit_codes,
    }
}

fn strategy(
    s: &Spanned<MatrixStrategyConfig>,
    needs: &[&str],
    cx: &PipelineCx<'_>,
    sink: &mut Sink<'_>,
) -> (Option<MatrixStrategy>, Option<MatrixKeys>) {
    let Some(m) = &s.value.matrix else {
        sink.error(
            s.pos,
            "`strategy` has no `matrix` (expected e.g. `matrix: {os: [ubuntu, debian]}`)",
        );
        return (None, None);
    };
    let max_parallel = s.value.max_parallel.as_ref().and_then(|p| {
        if p.value.0 == 0 {
            sink.error(p.pos, "max-parallel 0 runs nothing (expected 1 or more)");
            None
        } else {
            Some(p.value.0)
        }
    });
    let (source, keys) = match &m.value {
        MatrixForm::Expr(text) => {
            let place = Place {
                field: "matrix",
                contexts: exprs::JOB_IF,
                status: false,
                files: false,
                declared: &cx.declared,
                needs,
                matrix: None,
                steps: &[],
            };
            let Some(t) = place.template(&Spanned::new(text.trim().to_owned(), m.pos), m.pos, sink)
            else {
                return (None, Some(MatrixKeys::Dynamic));
            };
            if t.as_single().is_none() {
                sink.error(m.pos, "matrix: expected a mapping of axes, or one expression like ${{ fromJSON(needs.plan.outputs.matrix) }}");
                return (None, Some(MatrixKeys::Dynamic));
            }
            (MatrixSource::Dynamic(t), MatrixKeys::Dynamic)
        }
        MatrixForm::Map(entries) => match static_matrix(entries, m.pos, sink) {
            Some(matrix) => {
                let keys = matrix.keys().into_iter().map(str::to_owned).collect();
                // A matrix that does not expand is reported where the run would report it.
                let legs = matrix.expand().unwrap_or_default();
                (
                    MatrixSource::Static(matrix),
                    MatrixKeys::Known { keys, legs },
                )
            }
            None => return (None, Some(MatrixKeys::Dynamic)),
        },
    };
    let strategy = MatrixStrategy {
        matrix: source,
        fail_fast: s.value.fail_fast.unwrap_or(true),
        max_parallel,
    };
    (Some(strategy), Some(keys))
}

fn static_matrix(
    entries: &Entries<serde_json::Value>,
    pos: Pos,
    sink: &mut Sink<'_>,
) -> Option<Matrix> {
    let mut matrix = Matrix::default();
    let mut ok = true;
    for (key, value) in entries.iter() {
        match (key.value.as_str(), &value.value) {
            ("include" | "exclude", serde_json::Value::Array(items)) => {
                let mut combos: Vec<Combination> = Vec::new();
                for item in items {
                    match item {
                        serde_json::Value::Object(map) => combos.push(
                            map.iter()
                                .map(|(k, v)| (k.clone(), Value::from_json(v)))
                                .collect(),
                        ),
                        _ => {
                            sink.error(value.pos, format!("`{}` holds a value that is not a mapping (expected e.g. `- {{os: ubuntu, node: 20}}`)", key.value));
                            ok = false;
                        }
                    }
                }
                if key.value == "include" {
                    matrix.include = combos;
                } else {
                    matrix.exclude = combos;
                }
            }
            ("include" | "exclude", _) => {
                sink.error(value.pos, format!("`{}` must be a list of mappings (expected e.g. `- {{os: ubuntu, node: 20}}`)", key.value));
                ok = false;
            }
            (_, serde_json::Value::Array(values)) if values.is_empty() => {
                sink.error(
                    value.pos,
                    format!(
                        "matrix axis `{}` has no values (expected a non-empty list)",
                        key.value
                    ),
                );
                ok = false;
            }
            (_, serde_json::Value::Array(values)) => {
                matrix.axes.push((
                    key.value.clone(),
                    values.iter().map(Value::from_json).collect(),
                ));
            }
            (_, _) => {
                sink.error(
                    value.pos,
                    format!(
                        "matrix axis `{}` must be a list of values (expected e.g. `{}: [a, b]`)",
                        key.value, key.value
                    ),
                );
                ok = false;
            }
        }
    }
    let axes: Vec<&str> = matrix.axes.iter().map(|(k, _)| k.as_str()).collect();
    for (k, _) in matrix.exclude.iter().flatten() {
        if !axes.contains(&k.as_str()) {
            let at = entries
                .iter()
                .find(|(key, _)| key.value == "exclude")
                .map_or(pos, |(_, v)| v.pos);
            sink.error(
                at,
                format!(
                    "`exclude` names `{k}`, which is not an axis (expected one of {})",
                    axes.join(", ")
                ),
            );
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    if matrix.axes.is_empty() && matrix.include.is_empty() {
        sink.error(
            pos,
            "the matrix is empty (expected axes like `os: [ubuntu, debian]` or an `include` list)",
        );
        return None;
    }
    match matrix.expand() {
        Ok(combos) if combos.is_empty() => {
            sink.error(
                pos,
                "`exclude` removes every combination (expected at least one left)",
            );
            None
        }
        Ok(_) => Some(matrix),
        Err(e) => {
            sink.error(pos, e);
            None
        }
    }
}

pub(super) fn concurrency(
    c: &Spanned<ConcurrencyForm>,
    place: &Place<'_>,
    sink: &mut Sink<'_>,
) -> Option<Concurrency> {
    let Some(group) = &c.value.group else {
        sink.error(
            c.pos,
            "`concurrency` has no `group` (expected e.g. `group: deploy-${{ github.ref }}`)",
        );
        return None;
    };
    let group = place.template(group, c.pos, sink)?;
    Some(Concurrency {
        group,
        cancel_in_progress: c.value.cancel_in_progress,
    })
}

pub(super) fn defaults(d: &Spanned<DefaultsConfig>, sink: &mut Sink<'_>) -> RunDefaults {
    let Some(run) = &d.value.run else {
        return RunDefaults::default();
    };
    RunDefaults {
        shell: run.value.shell.as_ref().and_then(|s| shell(s, sink)),
        working_directory: run
            .value
            .working_directory
            .as_ref()
            .map(|w| w.value.clone()),
    }
}
