//! The steps of one instance: which runs next, what it runs with, what its end means, and
//! retries of the whole job.

use std::collections::BTreeMap;

use super::state::{StepKind, StepRecord, StepStatus};
use super::types::{
    Action, Conclusion, ExitStatus, InstanceId, StepId, StepOutcome, StepRequest, Work,
};
use super::{Cx, Run};
use crate::expr::{HashFiles, Scope, Template, WorkspaceFiles};
use crate::spec::{Flag, Shell, StepAction, StepSpec};

/// What to do with the next step.
enum Next {
    Skip(StepRecord),
    Fail(StepRecord, String),
    Run(StepRecord, Box<StepRequest>),
}

impl Run {
    /// Starts the instance's next step, skipping those whose `if` is false; when no step is
    /// left, ends the attempt.
    pub(super) fn advance(&mut self, cx: &mut Cx<'_>, id: InstanceId) {
        loop {
            let Some(instance) = self.instance(id) else {
                return;
            };
            if instance.timed_out {
                return self.finish_attempt(cx, id);
            }
            if instance.deadline.is_some_and(|d| cx.at >= d) {
                return self.time_out(cx, id);
            }
            let Some(kind) = self.next_kind(id) else {
                return self.finish_attempt(cx, id);
            };
            let next = self.prepare(cx, id, kind);
            let Some(instance) = self.instance_mut(id) else {
                return;
            };
            match next {
                Next::Skip(record) => instance.steps.push(record),
                Next::Fail(record, why) => {
                    cx.log(Some(id), format!("step `{}` failed: {why}", record.name));
                    instance.steps.push(record);
                }
                Next::Run(record, request) => {
                    instance.steps.push(record);
                    cx.actions.push(Action::RunStep(*request));
                    return;
                }
            }
        }
    }

    /// The job's steps in order, then the saving halves of the cache steps that restored
    /// nothing exactly, when the job succeeded or the cache asks to be saved always.
    fn next_kind(&mut self, id: InstanceId) -> Option<StepKind> {
        let steps = &self.spec.jobs[id.job].steps;
        let instance = self.jobs[id.job].instances.get_mut(id.index)?;
        if instance.next_main < steps.len() {
            instance.next_main += 1;
            return Some(StepKind::Main(instance.next_main - 1));
        }
        if instance.post.is_none() {
            let failed = instance.has_failed_step() || instance.cancel_requested;
            let saves = instance
                .steps
                .iter()
                .filter_map(|record| {
                    let StepKind::Main(i) = record.kind else {
                        return None;
                    };
                    let StepAction::Cache(cache) = &steps[i].action else {
                        return None;
                    };
                    let restored = record.outcome() == Some(Conclusion::Success);
                    let exact = record.outputs.get("cache-hit").is_some_and(|h| h == "true");
                    (restored && !exact && (!failed || cache.save_always)).then_some(i)
                })
                .rev()
                .collect();
            instance.post = Some(saves);
        }
        instance.post.as_mut()?.pop().map(StepKind::CacheSave)
    }

    fn prepare(&self, cx: &Cx<'_>, id: InstanceId, kind: StepKind) -> Next {
        let spec = &self.spec.jobs[id.job];
        let (StepKind::Main(i) | StepKind::CacheSave(i)) = kind;
        let step = &spec.steps[i];
        let contexts = self.instance_contexts(id);
        let workspace = self.instance_workspace(id);
        let files = InWorkspace {
            files: cx.files,
            workspace: &workspace,
        };
        let scope = Scope::new(&contexts).with_files(&files);
        let name = step_name(step, kind, &scope);
        let mut record = StepRecord {
            name,
            id: match kind {
                StepKind::Main(_) => step.id.clone(),
                StepKind::CacheSave(_) => None,
            },
            status: StepStatus::Done {
                outcome: Conclusion::Skipped,
                conclusion: Conclusion::Skipped,
            },
            outputs: BTreeMap::new(),
            exit: None,
            started_at: None,
            finished_at: None,
            kind,
            continue_on_error: false,
        };
        if kind == StepKind::Main(i) {
            let status_scope = scope.with_status(self.step_status(id));
            let runs = match &step.condition {
                Some(c) => c.passes(&status_scope),
                None => Ok(status_scope.status.is_some_and(|s| s.success)),
            };
            match runs {
                Ok(true) => {}
                Ok(false) => return Next::Skip(record),
                Err(e) => return fail(record, format!("its `if` failed: {e}")),
            }
        }
        record.continue_on_error = match &step.continue_on_error {
            Flag::Const(b) => *b,
            Flag::Expr(t) => match t.evaluate(&scope) {
                Ok(v) => v.is_truthy(),
                Err(e) => return fail(record, format!("continue-on-error: {e}")),
            },
        };
        let Some(instance) = self.instance(id) else {
            return Next::Skip(record);
        };
        let mut env: Vec<(String, String)> = instance
            .base_env
            .iter()
            .chain(&instance.file_env)
            .cloned()
            .collect();
        for (key, value) in &step.env {
            match value.render(&scope) {
                Ok(v) => env.push((key.clone(), v)),
                Err(e) => return fail(record, format!("env {key}: {e}")),
            }
        }
        let work = match self.work(id, step, kind, &scope, instance.environment.clone()) {
            Ok((work, secret_env)) => {
                env.extend(secret_env);
                work
            }
            Err(e) => return fail(record, e),
        };
        let remaining = instance.deadline.map(|d| d.since(cx.at));
        let timeout = match (step.timeout, remaining) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        record.status = StepStatus::Running;
        record.started_at = Some(cx.at);
        let request = StepRequest {
            id: StepId {
                instance: id,
                attempt: instance.attempt,
                step: instance.steps.len(),
            },
            name: record.name.clone(),
            work,
            workspace: workspace.clone(),
            env,
            path: instance.path.clone(),
            timeout,
        };
        Next::Run(record, Box::new(request))
    }

    fn work(
        &self,
        id: InstanceId,
        step: &StepSpec,
        kind: StepKind,
        scope: &Scope<'_>,
        environment: Option<String>,
    ) -> Result<(Work, Vec<(String, String)>), String> {
        let render = |t: &Template, what: &str| t.render(scope).map_err(|e| format!("{what}: {e}"));
        let defaults = self.spec.defaults.overlay(&self.spec.jobs[id.job].defaults);
        let mut secret_env = Vec::new();
        let work = match (&step.action, kind) {
            (StepAction::Cache(cache), StepKind::CacheSave(_)) => Work::CacheSave {
                key: render(&cache.key, "key")?,
                paths: cache.paths.clone(),
            },
            (StepAction::Cache(cache), StepKind::Main(_)) => Work::CacheRestore {
                key: render(&cache.key, "key")?,
                restore_keys: cache
                    .restore_keys
                    .iter()
                    .map(|k| render(k, "restore-keys"))
                    .collect::<Result<_, _>>()?,
                paths: cache.paths.clone(),
            },
            (StepAction::Deploy { service, revision }, _) => Work::Deploy {
                service: {
                    let name = render(service, "service")?;
                    if !self.services.contains(&name) {
                        return Err(format!(
                            "unknown service `{name}` (expected one of {})",
                            self.services.join(", ")
                        ));
                    }
                    name
                },
                revision: match revision {
                    Some(r) => render(r, "revision")?,
                    None => self
                        .github
                        .property("sha")
                        .map(|v| v.to_text())
                        .unwrap_or_default(),
                },
                environment,
            },
            (
                StepAction::Upload {
                    name,
                    paths,
                    from_common_root,
                },
                _,
            ) => Work::Upload {
                name: render(name, "name")?,
                from_common_root: *from_common_root,
                paths: paths
                    .iter()
                    .map(|p| render(p, "upload"))
                    .collect::<Result<_, _>>()?,
                job: self.spec.jobs[id.job].id.clone(),
                leg: id.index,
            },
            (StepAction::Download { names, path }, _) => Work::Download {
                names: names.clone(),
                path: path.clone(),
            },
            (StepAction::Load { file }, _) => Work::Load {
                file: render(file, "load")?,
            },
            (StepAction::Checkout, _) => Work::Checkout,
            (StepAction::Setup { tool, version }, _) => Work::Setup {
                tool: *tool,
                version: version
                    .as_ref()
                    .map(|v| render(v, tool.version_input()))
                    .transpose()?,
            },
            (StepAction::Verify { suite, target }, _) => Work::Verify {
                suite: Box::new(suite.clone()),
                target: target.as_ref().map(|t| render(t, "target")).transpose()?,
            },
            (
                StepAction::Run {
                    script,
                    shell,
                    working_directory,
                },
                _,
            ) => {
                let shell = shell.clone().or(defaults.shell);
                // The default shell is bash or sh.
                let expands = shell.as_ref().is_none_or(Shell::expands_variables);
                let script = script
                    .render_script(scope, expands)
                    .map_err(|e| format!("run: {e}"))?;
                secret_env = script.env;
                Work::Script {
                    script: script.text,
                    shell,
                    working_directory: match working_directory {
                        Some(w) => Some(render(w, "working-directory")?),
                        None => defaults.working_directory,
                    },
                }
            }
        };
        Ok((work, secret_env))
    }

    pub(super) fn step_finished(&mut self, cx: &mut Cx<'_>, step: StepId, outcome: StepOutcome) {
        let at = cx.at;
        let Some(instance) = self.instance_mut(step.instance) else {
            return;
        };
        // A report for an earlier attempt, or for a step that is not running, changes nothing.
        let current = instance.attempt == step.attempt
            && instance
                .steps
                .get(step.step)
                .is_some_and(|s| s.status == StepStatus::Running);
        if !current {
            return;
        }
        let deadline_passed = instance.deadline.is_some_and(|d| at >= d);
        let cancelled = instance.cancel_requested;
        let Some(record) = instance.steps.get_mut(step.step) else {
            return;
        };
        let result = match &outcome.status {
            ExitStatus::Exited(0) => Conclusion::Success,
            ExitStatus::Cancelled if cancelled => Conclusion::Cancelled,
            _ => Conclusion::Failure,
        };
        let conclusion = if result == Conclusion::Failure && record.continue_on_error {
            Conclusion::Success
        } else {
            result
        };
        record.status = StepStatus::Done {
            outcome: result,
            conclusion,
        };
        record.finished_at = Some(at);
        record.exit = Some(outcome.status.clone());
        record.outputs = outcome.outputs.into_iter().collect();
        let name = record.name.clone();
        instance.file_env.extend(outcome.env);
        instance.path.extend(outcome.path);
        if result == Conclusion::Failure {
            instance.last_failure = Some(outcome.status.clone());
            let continued = if conclusion == Conclusion::Success {
                " (continue-on-error)"
            } else {
                ""
            };
            cx.log(
                Some(step.instance),
                format!("step `{name}` failed: {}{continued}", outcome.status),
            );
        }
        if outcome.status == ExitStatus::TimedOut && deadline_passed {
            return self.time_out(cx, step.instance);
        }
        self.advance(cx, step.instance);
    }

    /// The job's `timeout` passed: no further step runs, and the job fails.
    fn time_out(&mut self, cx: &mut Cx<'_>, id: InstanceId) {
        let limit = self.spec.jobs[id.job]
            .timeout
            .map(bellwether_core::time::human_duration);
        if let Some(instance) = self.instance_mut(id) {
            instance.timed_out = true;
            instance.message = Some(format!("timed out after {}", limit.unwrap_or_default()));
        }
        self.finish_attempt(cx, id);
    }

    /// The attempt's steps are over: retry, or compute the outputs and end the instance.
    fn finish_attempt(&mut self, cx: &mut Cx<'_>, id: InstanceId) {
        let retry = self.spec.jobs[id.job].retry.clone();
        let timeout = self.spec.jobs[id.job].timeout;
        let Some(instance) = self.instance_mut(id) else {
            return;
        };
        let failed = instance.has_failed_step() || instance.timed_out;
        let cancelled = instance.cancel_requested;
        let retryable = match &instance.last_failure {
            _ if retry.on_exit_codes.is_empty() => true,
            Some(ExitStatus::Exited(code)) => retry.on_exit_codes.contains(code),
            _ => false,
        };
        if failed && !cancelled && retryable && instance.attempt < retry.max_attempts {
            let why = instance
                .last_failure
                .as_ref()
                .map_or_else(|| "it failed".to_owned(), ExitStatus::to_string);
            instance.attempt += 1;
            instance.steps.clear();
            instance.file_env.clear();
            instance.path.clear();
            instance.next_main = 0;
            instance.post = None;
            instance.timed_out = false;
            instance.last_failure = None;
            instance.message = None;
            instance.deadline = timeout.map(|t| cx.at.after(t));
            let text = format!(
                "retrying: attempt {} of {} after {why}",
                instance.attempt, retry.max_attempts
            );
            cx.log(Some(id), text);
            return self.advance(cx, id);
        }
        let outcome = if cancelled {
            Conclusion::Cancelled
        } else if failed {
            Conclusion::Failure
        } else {
            Conclusion::Success
        };
        let contexts = self.instance_contexts(id);
        let scope = Scope::new(&contexts);
        let mut outputs = Vec::new();
        for (name, template) in &self.spec.jobs[id.job].outputs {
            match template.render(&scope) {
                Ok(v) => outputs.push((name.clone(), v)),
                Err(e) => cx.log(Some(id), format!("output `{name}` is empty: {e}")),
            }
        }
        self.jobs[id.job].outputs.extend(outputs);
        self.finish_instance(cx, id, outcome);
    }
}

fn fail(mut record: StepRecord, why: String) -> Next {
    record.status = StepStatus::Done {
        outcome: Conclusion::Failure,
        conclusion: Conclusion::Failure,
    };
    record.exit = Some(ExitStatus::Error(why.clone()));
    Next::Fail(record, why)
}

/// The step's `name`, or one made from what it does, like GitHub's `Run npm test`.
fn step_name(step: &StepSpec, kind: StepKind, scope: &Scope<'_>) -> String {
    if let (Some(name), StepKind::Main(_)) = (&step.name, kind) {
        return name
            .render(scope)
            .unwrap_or_else(|_| name.source().to_owned());
    }
    match (&step.action, kind) {
        (StepAction::Cache(c), StepKind::CacheSave(_)) => {
            format!("Save cache {}", c.paths.join(", "))
        }
        (StepAction::Cache(c), StepKind::Main(_)) => {
            format!("Restore cache {}", c.paths.join(", "))
        }
        (StepAction::Run { script, .. }, _) => {
            let first = script
                .source()
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or_default()
                .trim();
            let short: String = first.chars().take(60).collect();
            format!("Run {short}")
        }
        (StepAction::Deploy { service, .. }, _) => format!(
            "Deploy {}",
            service
                .render(scope)
                .unwrap_or_else(|_| service.source().to_owned())
        ),
        (StepAction::Upload { name, .. }, _) => format!("Upload artifact {}", name.source()),
        (StepAction::Download { names, .. }, _) => {
            format!("Download artifacts {}", names.join(", "))
        }
        (StepAction::Verify { suite, .. }, _) => format!("Verify {}", suite.name),
        (StepAction::Load { file }, _) => format!("Load test {}", file.source()),
        (StepAction::Checkout, _) => "Checkout".to_owned(),
        (StepAction::Setup { tool, version }, _) => match version {
            Some(v) => format!("Set up {tool} {}", v.source()),
            None => format!("Set up {tool}"),
        },
    }
}

/// `hashFiles()` in the workspace of the step being prepared.
struct InWorkspace<'a> {
    files: &'a dyn WorkspaceFiles,
    workspace: &'a str,
}

impl HashFiles for InWorkspace<'_> {
    fn hash_files(&self, patterns: &[String]) -> Result<String, String> {
        self.files.hash_files_in(self.workspace, patterns)
    }
}
