//! The contexts expressions read (`github`, `needs`, `matrix`, `steps`, `env`…) and the
//! status the status functions report, as seen from a job or from one of its instances.

use std::collections::BTreeMap;

use super::Run;
use super::state::JobState;
use super::types::{Conclusion, InstanceId, RunInput};
use crate::expr::{Status, Value};
use crate::spec::{CallFrame, JobSpec};
use crate::trigger::EventName;

/// Every job `j` needs, directly or through others, in no particular order.
/// A called workflow counts as one job, the one standing for it: its own jobs are not
/// ancestors of the caller's later ones, the jobs before the call are.
pub(super) fn ancestors(jobs: &[JobState], specs: &[JobSpec], j: usize) -> Vec<usize> {
    let mut seen = vec![false; jobs.len()];
    let mut stack = jobs[j].needs.clone();
    let mut out = Vec::new();
    while let Some(n) = stack.pop() {
        if n == j || std::mem::replace(&mut seen[n], true) {
            continue;
        }
        out.push(n);
        let needs = jobs[n].needs.iter().copied();
        match &specs[n].stands_for {
            Some(frame) => stack.extend(needs.filter(|&m| jobs[m].id == frame.entry)),
            None => stack.extend(needs),
        }
    }
    out
}

/// The `github` context: the event and the commit, under GitHub's names.
pub(super) fn github(input: &RunInput) -> Value {
    let event = &input.event;
    let mut payload = vec![
        ("ref", Value::string(event.git_ref.full())),
        ("after", Value::string(&input.sha)),
    ];
    if event.name == EventName::Manual {
        payload.push(("inputs", Value::Object(input.inputs.clone())));
    }
    if let Some(run) = &event.workflow_run {
        payload.push((
            "workflow_run",
            Value::object([
                ("name", Value::string(&run.name)),
                ("id", Value::Number(run.id as f64)),
                ("run_number", Value::Number(run.id as f64)),
                ("conclusion", Value::string(&run.conclusion)),
                ("head_branch", Value::string(&run.head_branch)),
                ("head_sha", Value::string(&run.head_sha)),
            ]),
        ));
    }
    if event.name == EventName::Release {
        payload.push((
            "release",
            Value::object([("tag_name", Value::string(event.git_ref.name()))]),
        ));
    }
    if let Some(action) = &event.action {
        payload.push(("action", Value::string(action)));
    }
    if let Some(base) = &event.base {
        payload.push((
            "pull_request",
            Value::object([
                ("base", Value::object([("ref", Value::string(base))])),
                (
                    "head",
                    Value::object([("ref", Value::string(event.git_ref.name()))]),
                ),
            ]),
        ));
    }
    let (base_ref, head_ref) = match &event.base {
        Some(base) => (base.clone(), event.git_ref.name().to_owned()),
        None => (String::new(), String::new()),
    };
    Value::object([
        ("event_name", Value::string(event.name.as_str())),
        ("event", Value::object(payload)),
        ("ref", Value::string(event.git_ref.full())),
        ("ref_name", Value::string(event.git_ref.name())),
        ("ref_type", Value::string(event.git_ref.kind())),
        ("base_ref", Value::string(base_ref)),
        ("head_ref", Value::string(head_ref)),
        ("sha", Value::string(&input.sha)),
        ("repository", Value::string(&input.repository)),
        ("actor", Value::string(&input.actor)),
        ("triggering_actor", Value::string(&input.actor)),
        ("workspace", Value::string(input.workspace.root())),
        ("run_id", Value::string(&input.run_id)),
        ("run_number", Value::string(input.run_number.to_string())),
        ("run_attempt", Value::string(input.attempt.to_string())),
        ("workflow", Value::string(&input.spec.name)),
    ])
}

/// The variables every step gets, as GitHub sets them, and bellwether's own names.
pub(super) fn default_env(input: &RunInput) -> Vec<(String, String)> {
    let event = &input.event;
    let pairs = [
        ("CI", "true".to_owned()),
        ("GITHUB_ACTIONS", "false".to_owned()),
        ("GITHUB_EVENT_NAME", event.name.as_str().to_owned()),
        ("GITHUB_REF", event.git_ref.full()),
        ("GITHUB_REF_NAME", event.git_ref.name().to_owned()),
        ("GITHUB_REF_TYPE", event.git_ref.kind().to_owned()),
        ("GITHUB_BASE_REF", event.base.clone().unwrap_or_default()),
        (
            "GITHUB_HEAD_REF",
            if event.base.is_some() {
                event.git_ref.name().to_owned()
            } else {
                String::new()
            },
        ),
        ("GITHUB_SHA", input.sha.clone()),
        ("GITHUB_REPOSITORY", input.repository.clone()),
        ("GITHUB_ACTOR", input.actor.clone()),
        ("GITHUB_RUN_ID", input.run_id.clone()),
        ("GITHUB_RUN_NUMBER", input.run_number.to_string()),
        ("GITHUB_RUN_ATTEMPT", input.attempt.to_string()),
        ("GITHUB_WORKFLOW", input.spec.name.clone()),
        ("BELLWETHER_PIPELINE", input.spec.name.clone()),
        ("BELLWETHER_RUN", input.run_id.clone()),
    ];
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

impl Run {
    fn base_contexts(&self, j: usize) -> BTreeMap<String, Value> {
        let inputs = match &self.spec.jobs[j].frame {
            Some(frame) => self.called_inputs(frame),
            None => self.inputs.clone(),
        };
        BTreeMap::from([
            ("github".to_owned(), self.github.clone()),
            ("inputs".to_owned(), inputs),
            ("secrets".to_owned(), self.secrets[j].clone()),
            ("runner".to_owned(), self.runner.clone()),
        ])
    }

    /// A called workflow's `inputs`: what its entry job evaluated, typed as declared; an
    /// input not given holds its type's empty value.
    fn called_inputs(&self, frame: &CallFrame) -> Value {
        let entry = self.jobs.iter().find(|job| job.id == frame.entry);
        let given = |name: &str| entry.and_then(|e| e.outputs.get(name));
        Value::object(frame.inputs.iter().map(|(name, kind)| {
            let value = given(name)
                .and_then(|text| kind.coerce(text).ok())
                .unwrap_or_else(|| kind.empty());
            (name.clone(), value)
        }))
    }

    /// `{result, outputs}` of job `n`, as `needs` and `jobs` show it.
    fn job_summary(&self, n: usize) -> Value {
        let job = &self.jobs[n];
        let result = job.conclusion().unwrap_or(Conclusion::Skipped).as_str();
        let outputs = job
            .outputs
            .iter()
            .map(|(k, v)| (k.clone(), Value::string(v)));
        Value::object([
            ("result", Value::string(result)),
            ("outputs", Value::object(outputs)),
        ])
    }

    /// What a job's `if`, `name`, `environment` and dynamic matrix see: no matrix, no steps.
    /// A job of a called workflow sees the jobs it needs by that workflow's ids, and not the
    /// job that entered it.
    pub(super) fn job_contexts(&self, j: usize) -> BTreeMap<String, Value> {
        let mut contexts = self.base_contexts(j);
        let spec = &self.spec.jobs[j];
        let needs = self.jobs[j].needs.iter().filter_map(|&n| {
            let id = &self.jobs[n].id;
            let shown = match &spec.frame {
                Some(frame) if *id == frame.entry => return None,
                Some(frame) => frame.called_id(id).unwrap_or(id),
                None => id,
            };
            Some((shown.to_owned(), self.job_summary(n)))
        });
        contexts.insert("needs".to_owned(), Value::object(needs));
        if let Some(frame) = &spec.stands_for {
            let jobs = frame.jobs.iter().filter_map(|(id, real)| {
                let n = self.jobs.iter().position(|job| job.id == *real)?;
                Some((id.clone(), self.job_summary(n)))
            });
            contexts.insert("jobs".to_owned(), Value::object(jobs));
        }
        contexts.insert("env".to_owned(), Value::Object(BTreeMap::new()));
        contexts
    }

    /// What a step sees: the job's contexts plus `matrix`, `strategy`, `job`, `env` and the
    /// `steps` before it in this attempt.
    pub(super) fn instance_contexts(&self, id: InstanceId) -> BTreeMap<String, Value> {
        let mut contexts = self.job_contexts(id.job);
        let job = &self.jobs[id.job];
        let spec = &self.spec.jobs[id.job];
        let Some(instance) = job.instances.get(id.index) else {
            return contexts;
        };
        if let Some(Value::Object(github)) = contexts.get_mut("github") {
            github.insert("job".to_owned(), Value::string(&job.id));
            github.insert(
                "workspace".to_owned(),
                Value::string(self.instance_workspace(id)),
            );
        }
        contexts.insert(
            "matrix".to_owned(),
            Value::object(instance.matrix.iter().map(|(k, v)| (k.clone(), v.clone()))),
        );
        let strategy = spec.strategy.as_ref();
        contexts.insert(
            "strategy".to_owned(),
            Value::object([
                (
                    "fail-fast",
                    Value::Bool(strategy.is_some_and(|s| s.fail_fast)),
                ),
                ("job-index", Value::Number(id.index as f64)),
                ("job-total", Value::Number(job.instances.len() as f64)),
                (
                    "max-parallel",
                    Value::Number(
                        strategy
                            .and_then(|s| s.max_parallel)
                            .map_or(job.instances.len() as f64, f64::from),
                    ),
                ),
            ]),
        );
        let failed = instance.has_failed_step();
        let status = if instance.cancel_requested {
            "cancelled"
        } else if failed {
            "failure"
        } else {
            "success"
        };
        contexts.insert(
            "job".to_owned(),
            Value::object([("status", Value::string(status))]),
        );
        // The variables and secrets of the job's environment, once it is placed in one.
        let vars = instance
            .environment
            .as_ref()
            .and_then(|name| self.environments.get(name))
            .map(|e| &e.vars);
        let scoped = instance
            .environment
            .as_ref()
            .and_then(|name| self.environment_secrets.get(name))
            .and_then(|per_job| per_job.get(id.job));
        if let (Some(Value::Object(scoped)), Some(Value::Object(secrets))) =
            (scoped, contexts.get_mut("secrets"))
        {
            secrets.extend(scoped.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        contexts.insert(
            "vars".to_owned(),
            Value::object(
                vars.into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), Value::string(v))),
            ),
        );
        let env = instance
            .base_env
            .iter()
            .chain(&instance.file_env)
            .map(|(k, v)| (k.clone(), Value::string(v)));
        contexts.insert("env".to_owned(), Value::object(env));
        let steps = instance.steps.iter().filter_map(|s| {
            let id = s.id.clone()?;
            let text = |c: Option<Conclusion>| Value::string(c.map_or("", Conclusion::as_str));
            Some((
                id,
                Value::object([
                    (
                        "outputs",
                        Value::object(s.outputs.iter().map(|(k, v)| (k.clone(), Value::string(v)))),
                    ),
                    ("outcome", text(s.outcome())),
                    ("conclusion", text(s.conclusion())),
                ]),
            ))
        });
        contexts.insert("steps".to_owned(), Value::object(steps));
        contexts
    }

    /// The status functions in a job's `if` look at every job it needs, directly or not.
    pub(super) fn job_status(&self, j: usize) -> Status {
        let conclusions = self.jobs[j]
            .ancestors
            .iter()
            .map(|&a| self.jobs[a].conclusion());
        let mut status = Status {
            success: !self.cancelled,
            failure: false,
            cancelled: self.cancelled,
        };
        for c in conclusions {
            match c {
                Some(Conclusion::Success) => {}
                Some(Conclusion::Failure) => {
                    status.success = false;
                    status.failure = true;
                }
                _ => status.success = false,
            }
        }
        status
    }

    /// The status functions in a step's `if` look at the steps before it.
    pub(super) fn step_status(&self, id: InstanceId) -> Status {
        let Some(instance) = self.instance(id) else {
            return Status::default();
        };
        // A job that runs after the run was cancelled (`if: always()`) runs its steps as
        // usual; only cancelling the job itself stops them.
        let failed = instance.has_failed_step() || instance.timed_out;
        Status {
            success: !failed && !instance.cancel_requested,
            failure: failed,
            cancelled: instance.cancel_requested || self.cancelled,
        }
    }
}
