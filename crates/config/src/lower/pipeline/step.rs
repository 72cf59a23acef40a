//! Steps lowered: exactly one of `run`, `deploy`, `cache`, `artifacts`, `check`, `verify`,
//! `load` or a `uses` with a built-in equivalent (`actions.rs`).

use std::collections::BTreeMap;

use bellwether_core::spec::VerifySpec;
use bellwether_pipeline_core::expr::{Scope, Template, Value};
use bellwether_pipeline_core::spec::{CacheSpec, StepAction, StepSpec};

use super::super::names;
use super::PipelineCx;
use super::actions::{self, Builtin};
use super::exprs::{self, MatrixKeys, Place};
use super::fields::{env_vars, flag, job_id, shell, timeout};
use super::on::names_at;
use crate::diagnostic::Sink;
use crate::model::{
    ArtifactsConfig, CacheConfig, DeployConfig, PipelineJobConfig, PipelineStepConfig,
};
use crate::span::Spanned;
use crate::suggest::did_you_mean;

const KINDS: &str = "`run`, `deploy`, `cache`, `artifacts`, `check`, `verify` or `load`";

pub(super) fn lower_all(
    job_key: &Spanned<String>,
    job: &PipelineJobConfig,
    needs: &[&str],
    matrix: Option<&MatrixKeys>,
    cx: &PipelineCx<'_>,
    ancestors: &[&str],
    sink: &mut Sink<'_>,
) -> Vec<StepSpec> {
    let mut earlier: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for (index, step) in job.steps.iter().enumerate() {
        let place = Place {
            field: "",
            contexts: exprs::STEP,
            status: false,
            files: true,
            declared: &cx.declared,
            needs,
            matrix,
            steps: &earlier,
        };
        let s = &step.value;
        let label = label(s, index);
        if let Some(spec) = lower(job_key, step, &label, &place, cx, ancestors, sink) {
            out.push(spec);
        }
        if let Some(id) = &s.id {
            job_id(id, sink);
            if earlier.contains(&id.value.as_str()) {
                sink.error(
                    id.pos,
                    format!(
                        "step id `{}` is used twice in job `{}` (expected each once)",
                        id.value, job_key.value
                    ),
                );
            } else {
                earlier.push(&id.value);
            }
        }
    }
    out
}

/// How messages name a step: its name, its id, or its place.
fn label(s: &PipelineStepConfig, index: usize) -> String {
    s.name
        .as_ref()
        .map(|n| n.value.clone())
        .or_else(|| s.id.as_ref().map(|i| i.value.clone()))
        .unwrap_or_else(|| format!("#{}", index + 1))
}

fn lower(
    job_key: &Spanned<String>,
    step: &Spanned<PipelineStepConfig>,
    label: &str,
    place: &Place<'_>,
    cx: &PipelineCx<'_>,
    ancestors: &[&str],
    sink: &mut Sink<'_>,
) -> Option<StepSpec> {
    let s = &step.value;
    let at = |field| Place { field, ..*place };
    if let (Some(with), None) = (&s.with, &s.uses) {
        sink.error(with.pos, format!("step `{label}` has `with`, which belongs to `uses` steps (expected `env` for a `run` step)"));
    }
    let kinds = [
        ("uses", s.uses.is_some()),
        ("run", s.run.is_some()),
        ("deploy", s.deploy.is_some()),
        ("cache", s.cache.is_some()),
        ("artifacts", s.artifacts.is_some()),
        ("check", s.check.is_some()),
        ("verify", s.verify.is_some()),
        ("load", s.load.is_some()),
    ];
    let set: Vec<&str> = kinds
        .iter()
        .filter(|(_, on)| *on)
        .map(|(k, _)| *k)
        .collect();
    match set.as_slice() {
        [_] => {}
        [] => {
            sink.error(
                step.pos,
                format!("step `{label}` does nothing (expected one of {KINDS})"),
            );
            return None;
        }
        [a, b, ..] => {
            sink.error(
                step.pos,
                format!(
                    "step `{label}` has both `{a}` and `{b}` (expected exactly one of {KINDS})"
                ),
            );
            return None;
        }
    }
    if s.run.is_none() {
        for (key, value) in [
            ("shell", &s.shell),
            ("working-directory", &s.working_directory),
        ] {
            if let Some(v) = value {
                sink.error(v.pos, format!("`{key}` belongs to `run` steps, and step `{label}` is not one (expected it left out)"));
            }
        }
    }
    if let Some(target) = s
        .target
        .as_ref()
        .filter(|_| s.check.is_none() && s.verify.is_none())
    {
        sink.error(target.pos, format!("`target` belongs to `check` and `verify` steps, and step `{label}` is not one (expected it left out)"));
    }
    let condition = s.condition.as_ref().and_then(|c| {
        Place {
            status: true,
            ..at("if")
        }
        .condition(c, sink)
    });
    let name = s
        .name
        .as_ref()
        .and_then(|n| at("name").template(n, n.pos, sink));
    let action = if let Some(uses) = &s.uses {
        match actions::builtin(uses, s, label) {
            Ok(Builtin::Checkout) => StepAction::Checkout,
            Ok(Builtin::Cache(cache)) => StepAction::Cache(cache_spec(&cache, label, place, sink)?),
            Ok(Builtin::Artifacts(a)) => artifacts(&a, job_key, label, place, cx, ancestors, sink)?,
            Ok(Builtin::Setup { tool, version }) => StepAction::Setup {
                tool,
                version: match version {
                    Some(v) => Some(at(tool.version_input()).template(&v, v.pos, sink)?),
                    None => None,
                },
            },
            Err(problems) => {
                for (pos, message) in problems {
                    sink.error(pos, message);
                }
                return None;
            }
        }
    } else if let Some(run) = &s.run {
        StepAction::Run {
            script: at("run").template(run, run.pos, sink)?,
            shell: s.shell.as_ref().and_then(|sh| shell(sh, sink)),
            working_directory: s
                .working_directory
                .as_ref()
                .and_then(|w| at("working-directory").template(w, w.pos, sink)),
        }
    } else if let Some(deploy) = &s.deploy {
        deploy_action(deploy, label, &at("revision"), cx, sink)?
    } else if let Some(cache) = &s.cache {
        StepAction::Cache(cache_spec(cache, label, place, sink)?)
    } else if s.check.is_some() || s.verify.is_some() {
        verify_action(s, &at("target"), cx, sink)?
    } else if let Some(file) = &s.load {
        let relative = !file.value.starts_with('/') && !file.value.split('/').any(|p| p == "..");
        if !relative || file.value.trim().is_empty() {
            sink.error(file.pos, format!("load `{}` is not a file of the workspace (expected a path relative to it, without `..`, e.g. tests/load/smoke.yaml)", file.value));
            return None;
        }
        StepAction::Load {
            file: at("load").template(file, file.pos, sink)?,
        }
    } else {
        artifacts(
            s.artifacts.as_ref()?,
            job_key,
            label,
            place,
            cx,
            ancestors,
            sink,
        )?
    };
    Some(StepSpec {
        id: s.id.as_ref().map(|i| i.value.clone()),
        name,
        condition,
        env: env_vars(&s.env, &at("env"), sink),
        continue_on_error: flag(s.continue_on_error.as_ref(), &at("continue-on-error"), sink),
        timeout: timeout(s.timeout.as_ref(), s.timeout_minutes.as_ref(), sink),
        action,
    })
}

fn deploy_action(
    d: &Spanned<DeployConfig>,
    label: &str,
    place: &Place<'_>,
    cx: &PipelineCx<'_>,
    sink: &mut Sink<'_>,
) -> Option<StepAction> {
    let Some(service) = &d.value.service else {
        sink.error(
            d.pos,
            format!(
                "deploy step `{label}` has no `service` (expected e.g. `deploy: {{service: api}}`)"
            ),
        );
        return None;
    };
    if cx.services.is_empty() {
        sink.error(service.pos, format!("unknown service `{}` (no services are declared; expected a `services:` section that declares it)", service.value));
        return None;
    }
    let name = Place {
        field: "service",
        ..*place
    }
    .template(service, service.pos, sink)?;
    // A name written out is checked now, and so is each leg's when the name is computed from
    // a matrix written out; any other computed name when it runs.
    if name.as_literal().is_some() && !names::reference("service", service, cx.services, sink) {
        return None;
    }
    if let Some(unknown) = unknown_per_leg(&name, place, cx.services) {
        sink.error(service.pos, unknown);
        return None;
    }
    let revision = match &d.value.revision {
        Some(r) => Some(place.template(r, r.pos, sink)?),
        None => None,
    };
    Some(StepAction::Deploy {
        service: name,
        revision,
    })
}

/// Every matrix leg whose `service` names no service, said, when the name is computed from
/// the matrix alone and the matrix is written out.
fn unknown_per_leg(name: &Template, place: &Place<'_>, services: &[&str]) -> Option<String> {
    let Some(MatrixKeys::Known { legs, .. }) = place.matrix else {
        return None;
    };
    let matrix_only = name
        .exprs()
        .flat_map(|e| e.references())
        .all(|r| r.context == "matrix");
    if name.as_literal().is_some() || !matrix_only {
        return None;
    }
    let unknown: Vec<String> = legs
        .iter()
        .filter_map(|leg| {
            let contexts = BTreeMap::from([(
                "matrix".to_owned(),
                Value::object(leg.iter().map(|(k, v)| (k.clone(), v.clone()))),
            )]);
            let rendered = name.evaluate(&Scope::new(&contexts)).ok()?.to_text();
            let shown: Vec<String> = leg
                .iter()
                .map(|(k, v)| format!("{k}: {}", v.to_text()))
                .collect();
            (!services.contains(&rendered.as_str()))
                .then(|| format!("`{rendered}` for the leg {{{}}}", shown.join(", ")))
        })
        .collect();
    (!unknown.is_empty()).then(|| {
        format!(
            "unknown service {} (expected one of {})",
            unknown.join(", "),
            services.join(", ")
        )
    })
}

/// `check: NAME` runs one check as a one-round suite; `verify: NAME` runs a suite.
fn verify_action(
    s: &PipelineStepConfig,
    place: &Place<'_>,
    cx: &PipelineCx<'_>,
    sink: &mut Sink<'_>,
) -> Option<StepAction> {
    let suite = if let Some(name) = &s.check {
        let declared: Vec<&str> = cx.checks.keys().map(String::as_str).collect();
        if declared.is_empty() {
            sink.error(name.pos, format!("unknown check `{}` (the file declares no `checks:`; expected e.g. `checks: {{health: {{url: /healthz}}}}` at the top level)", name.value));
            return None;
        }
        if !names::reference("check", name, &declared, sink) {
            return None;
        }
        VerifySpec::once(cx.checks[&name.value].clone())
    } else {
        let name = s.verify.as_ref()?;
        let declared: Vec<&str> = cx.suites.keys().map(String::as_str).collect();
        if declared.is_empty() {
            sink.error(name.pos, format!("unknown suite `{}` (the file declares no `verify:` suites; expected e.g. `verify: {{smoke: {{checks: [health]}}}}` at the top level)", name.value));
            return None;
        }
        if !names::reference("suite", name, &declared, sink) {
            return None;
        }
        cx.suites[&name.value].clone()
    };
    let target = match &s.target {
        Some(t) => Some(place.template(t, t.pos, sink)?),
        None => None,
    };
    Some(StepAction::Verify { suite, target })
}

fn cache_spec(
    c: &Spanned<CacheConfig>,
    label: &str,
    place: &Place<'_>,
    sink: &mut Sink<'_>,
) -> Option<CacheSpec> {
    let Some(key) = &c.value.key else {
        sink.error(c.pos, format!("cache step `{label}` has no `key` (expected e.g. `key: deps-${{{{ hashFiles('Cargo.lock') }}}}`)"));
        return None;
    };
    let paths = c.value.paths.as_ref().map(names_at).unwrap_or_default();
    if paths.is_empty() {
        sink.error(
            c.pos,
            format!("cache step `{label}` has no `paths` (expected e.g. `paths: [target]`)"),
        );
        return None;
    }
    let key = Place {
        field: "key",
        ..*place
    }
    .template(key, key.pos, sink)?;
    let restore_keys = c
        .value
        .restore_keys
        .as_ref()
        .map(names_at)
        .unwrap_or_default()
        .iter()
        .map(|k| {
            Place {
                field: "restore-keys",
                ..*place
            }
            .template(k, k.pos, sink)
        })
        .collect::<Option<Vec<_>>>()?;
    Some(CacheSpec {
        key,
        restore_keys,
        paths: relative_paths(&paths, "paths", sink)?,
        save_always: c.value.save_always.unwrap_or(false),
    })
}

fn artifacts(
    a: &Spanned<ArtifactsConfig>,
    job_key: &Spanned<String>,
    label: &str,
    place: &Place<'_>,
    cx: &PipelineCx<'_>,
    ancestors: &[&str],
    sink: &mut Sink<'_>,
) -> Option<StepAction> {
    let v = &a.value;
    match (&v.upload, &v.download) {
        (Some(upload), None) => {
            if let Some(path) = &v.path {
                sink.error(
                    path.pos,
                    "`path` is where downloads go (expected `upload` paths only, or `download`)",
                );
            }
            let paths = names_at(upload);
            if paths.is_empty() {
                sink.error(
                    upload.pos,
                    format!("artifacts step `{label}` uploads nothing (expected paths or globs)"),
                );
                return None;
            }
            let name = match &v.name {
                None => Template::literal(job_key.value.clone()),
                Some(n) => {
                    let at = Place {
                        field: "name",
                        ..*place
                    };
                    let name = at.template(n, n.pos, sink)?;
                    // A computed name is checked when it is known, as the step runs.
                    if name.as_literal().is_some() {
                        names::identifier("artifact", n, sink);
                    }
                    name
                }
            };
            if let (Some(matrix), Some(literal)) = (place.matrix, name.as_literal()) {
                let key = match matrix {
                    MatrixKeys::Known { keys, .. } => keys.first().map_or("KEY", String::as_str),
                    MatrixKeys::Dynamic => "KEY",
                };
                let pos = v.name.as_ref().map_or(a.pos, |n| n.pos);
                sink.error(pos, format!("every leg of job `{}`'s matrix uploads artifact `{literal}`, and an artifact is uploaded once per run (expected a name per leg, e.g. `name: {literal}-${{{{ matrix.{key} }}}}`)", job_key.value));
            }
            relative_paths(&paths, "upload", sink)?;
            let at = Place {
                field: "upload",
                ..*place
            };
            let paths = paths
                .iter()
                .map(|p| at.template(p, p.pos, sink))
                .collect::<Option<Vec<_>>>()?;
            Some(StepAction::Upload {
                name,
                paths,
                from_common_root: v.from_common_root,
            })
        }
        (None, Some(download)) => {
            if let Some(name) = &v.name {
                sink.error(
                    name.pos,
                    "`name` names an upload (expected the artifacts to fetch in `download`)",
                );
            }
            let available: Vec<&Template> = ancestors
                .iter()
                .flat_map(|j| cx.uploads.get(j).into_iter().flatten())
                .collect();
            let mut names_out = Vec::new();
            for name in names_at(download) {
                if available.is_empty() {
                    sink.error(name.pos, format!("unknown artifact `{}` (no job that `{}` needs uploads any; expected an `artifacts: {{upload: …}}` step in one of its needs)", name.value, job_key.value));
                } else if available.iter().any(|t| t.could_be(&name.value)) {
                    names_out.push(name.value);
                } else {
                    let available: Vec<&str> = available.iter().map(|t| t.source()).collect();
                    sink.error(
                        name.pos,
                        format!(
                            "no job that `{}` needs uploads artifact `{}`{} (expected one of {})",
                            job_key.value,
                            name.value,
                            did_you_mean(&name.value, available.iter().copied()),
                            available.join(", ")
                        ),
                    );
                }
            }
            if names_out.is_empty() {
                return None;
            }
            let path = v
                .path
                .as_ref()
                .map(|p| vec![Spanned::new(p.value.clone(), p.pos)]);
            let path = match path {
                Some(p) => relative_paths(&p, "path", sink)?.pop(),
                None => None,
            };
            Some(StepAction::Download {
                names: names_out,
                path,
            })
        }
        (Some(_), Some(d)) => {
            sink.error(d.pos, format!("artifacts step `{label}` has both `upload` and `download` (expected one per step)"));
            None
        }
        (None, None) => {
            sink.error(a.pos, format!("artifacts step `{label}` has neither `upload` nor `download` (expected one of them)"));
            None
        }
    }
}

/// Paths stay inside the workspace: relative, and never climbing out with `..`.
fn relative_paths(
    paths: &[Spanned<String>],
    key: &str,
    sink: &mut Sink<'_>,
) -> Option<Vec<String>> {
    let mut ok = true;
    for p in paths {
        let climbs = p.value.split('/').any(|part| part == "..");
        if p.value.starts_with('/') || climbs || p.value.trim().is_empty() {
            sink.error(p.pos, format!("{key} `{}` leaves the workspace (expected a path relative to it, without `..`)", p.value));
            ok = false;
        }
    }
    ok.then(|| paths.iter().map(|p| p.value.clone()).collect())
}
