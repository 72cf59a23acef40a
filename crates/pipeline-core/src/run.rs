//! The run scheduler as a pure state machine: [`Run::apply`] folds one [`Event`] (the run
//! starts, a step finished, a gate opened, cancel) into the state and returns the
//! [`Action`]s it calls for (run this step, cancel that one, hold for approval, log why).
//!
//! Time arrives with each event; the executor reads no clock on the run's behalf and the run
//! reads none at all, so a whole run can be replayed from its events. The rules are GitHub
//! Actions': a job starts when every job it needs has finished, runs when its `if` passes
//! (`success()` by default, over all its ancestors), expands its matrix then, and hands its
//! outputs and result to the jobs that need it. Ready instances start in the order they
//! became ready, up to the run's parallelism and each job's `max-parallel`.

mod context;
mod jobs;
mod state;
mod steps;
mod types;

use std::collections::{BTreeMap, VecDeque};

use bellwether_core::spec::EnvironmentSpec;
use bellwether_core::time::Timestamp;

use crate::expr::{Value, WorkspaceFiles};
use crate::spec::{CallFrame, PassedSecrets, PipelineSpec};
use crate::trigger::GitRef;

pub use state::{Instance, InstanceStatus, JobPhase, JobState, StepRecord, StepStatus};
pub use types::{
    Action, Conclusion, Event, ExitStatus, InstanceId, ReusedJob, RunInput, StepId, StepOutcome,
    StepRequest, Work, Workspaces,
};

#[derive(Clone, Debug)]
pub struct Run {
    spec: PipelineSpec,
    github: Value,
    inputs: Value,
    /// The `secrets` context of each job: only the secrets it names.
    secrets: Vec<Value>,
    /// Per environment, the scoped secrets each job names: laid over `secrets` once the job
    /// is placed in that environment.
    environment_secrets: BTreeMap<String, Vec<Value>>,
    runner: Value,
    environments: BTreeMap<String, EnvironmentSpec>,
    closed_environments: BTreeMap<String, String>,
    services: Vec<String>,
    git_ref: GitRef,
    max_parallel: usize,
    /// `CI`, `GITHUB_SHA` and the other variables every step gets.
    default_env: Vec<(String, String)>,
    workspaces: Workspaces,
    jobs: Vec<JobState>,
    reused: BTreeMap<String, ReusedJob>,
    /// Jobs whose needs have all finished, to be expanded or skipped.
    ready_jobs: VecDeque<usize>,
    /// Instances waiting for a slot, in the order they became ready.
    ready: VecDeque<InstanceId>,
    running: usize,
    groups: BTreeMap<String, Group>,
    cancelled: bool,
    conclusion: Option<Conclusion>,
}

/// A concurrency group inside the run: who holds it, who waits.
#[derive(Clone, Debug, Default)]
struct Group {
    holder: Option<InstanceId>,
    waiting: VecDeque<InstanceId>,
}

/// What one `apply` works with: the event's time, the file hasher, and the actions so far.
struct Cx<'a> {
    at: Timestamp,
    files: &'a dyn WorkspaceFiles,
    actions: Vec<Action>,
}

impl Cx<'_> {
    fn log(&mut self, instance: Option<InstanceId>, text: impl Into<String>) {
        self.actions.push(Action::Log {
            instance,
            text: text.into(),
        });
    }
}

impl Run {
    pub fn new(input: RunInput) -> Run {
        let index: BTreeMap<&str, usize> = input
            .spec
            .jobs
            .iter()
            .enumerate()
            .map(|(i, j)| (j.id.as_str(), i))
            .collect();
        let mut jobs: Vec<JobState> = input
            .spec
            .jobs
            .iter()
            .map(|j| JobState {
                id: j.id.clone(),
                // A name with expressions is rendered when the job is ready.
                name: j
                    .name
                    .as_ref()
                    .and_then(|n| n.as_literal())
                    .unwrap_or(&j.id)
                    .to_owned(),
                phase: JobPhase::Waiting,
                instances: Vec::new(),
                outputs: BTreeMap::new(),
                message: None,
                reused_from: None,
                needs: j
                    .needs
                    .iter()
                    .filter_map(|n| index.get(n.as_str()).copied())
                    .collect(),
                dependents: Vec::new(),
                ancestors: Vec::new(),
                unfinished_needs: 0,
                running: 0,
            })
            .collect();
        for j in 0..jobs.len() {
            jobs[j].unfinished_needs = jobs[j].needs.len();
            for n in jobs[j].needs.clone() {
                jobs[n].dependents.push(j);
            }
            jobs[j].ancestors = context::ancestors(&jobs, &input.spec.jobs, j);
        }
        let github = context::github(&input);
        let default_env = context::default_env(&input);
        let uses: Vec<_> = input
            .spec
            .jobs
            .iter()
            .map(|job| input.spec.secrets_used_by(job))
            .collect();
        let visible = |values: &BTreeMap<String, String>| -> Vec<Value> {
            uses.iter()
                .zip(&input.spec.jobs)
                .map(|(used, job)| {
                    let given = values.iter().filter(|(name, _)| used.includes(name));
                    Value::Object(match &job.frame {
                        // A called workflow sees the secrets passed to it by its own names.
                        Some(CallFrame {
                            secrets: PassedSecrets::Named(names),
                            ..
                        }) => names
                            .iter()
                            .filter_map(|(own, theirs)| {
                                let value = values.get(theirs).filter(|_| used.includes(theirs))?;
                                Some((own.clone(), Value::string(value)))
                            })
                            .collect(),
                        _ => given.map(|(k, v)| (k.clone(), Value::string(v))).collect(),
                    })
                })
                .collect()
        };
        let secrets = visible(&input.secrets);
        let environment_secrets = input
            .environment_secrets
            .iter()
            .map(|(environment, values)| (environment.clone(), visible(values)))
            .collect();
        Run {
            github,
            inputs: Value::Object(input.inputs),
            secrets,
            environment_secrets,
            runner: Value::Object(input.runner),
            environments: input.environments,
            closed_environments: input.closed_environments,
            services: input.services,
            git_ref: input.event.git_ref,
            max_parallel: input.max_parallel.max(1),
            default_env,
            workspaces: input.workspace,
            jobs,
            reused: input.reused,
            ready_jobs: VecDeque::new(),
            ready: VecDeque::new(),
            running: 0,
            groups: BTreeMap::new(),
            cancelled: false,
            conclusion: None,
            spec: input.spec,
        }
    }

    /// Folds `event`, which happened at `at`, into the run. `files` answers `hashFiles()`.
    pub fn apply(
        &mut self,
        at: Timestamp,
        event: Event,
        files: &dyn WorkspaceFiles,
    ) -> Vec<Action> {
        if self.conclusion.is_some() {
            return Vec::new();
        }
        let mut cx = Cx {
            at,
            files,
            actions: Vec::new(),
        };
        match event {
            Event::Start => self.start(&mut cx),
            Event::StepFinished { step, outcome } => self.step_finished(&mut cx, step, outcome),
            Event::GateOpened { instance, note } => self.gate_opened(&mut cx, instance, note),
            Event::GateRefused { instance, reason } => {
                self.gate_refused(&mut cx, instance, reason);
            }
            Event::Cancel { reason } => self.cancel(&mut cx, &reason),
        }
        self.settle(&mut cx);
        cx.actions
    }

    pub fn spec(&self) -> &PipelineSpec {
        &self.spec
    }

    pub fn jobs(&self) -> &[JobState] {
        &self.jobs
    }

    pub fn instance(&self, id: InstanceId) -> Option<&Instance> {
        self.jobs.get(id.job)?.instances.get(id.index)
    }

    /// The name of an instance's directories (its workspace, its logs): the job's id, or
    /// `<job>-<n>` for the n-th combination of a matrix.
    pub fn instance_name(&self, id: InstanceId) -> String {
        let job = self.jobs.get(id.job);
        let name = job.map_or("job", |j| j.id.as_str());
        if job.map_or(1, |j| j.instances.len()) > 1 {
            format!("{name}-{}", id.index + 1)
        } else {
            name.to_owned()
        }
    }

    /// Where an instance's steps start.
    pub fn instance_workspace(&self, id: InstanceId) -> String {
        self.workspaces.of(&self.instance_name(id))
    }

    /// How the run ended; `None` while it goes on.
    pub fn conclusion(&self) -> Option<Conclusion> {
        self.conclusion
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }

    /// The pipeline's `concurrency` group, rendered with what a whole run sees (`github`,
    /// `inputs`), and whether a newer run of the group cancels the one in progress.
    pub fn concurrency(&self) -> Option<Result<(String, bool), String>> {
        let concurrency = self.spec.concurrency.as_ref()?;
        let contexts = BTreeMap::from([
            ("github".to_owned(), self.github.clone()),
            ("inputs".to_owned(), self.inputs.clone()),
        ]);
        Some(
            concurrency
                .group
                .render(&crate::expr::Scope::new(&contexts))
                .map(|group| (group, concurrency.cancel_in_progress))
                .map_err(|e| e.to_string()),
        )
    }

    /// Expands ready jobs and starts instances until nothing more can move, then reports the
    /// end of the run when every job is done.
    fn settle(&mut self, cx: &mut Cx<'_>) {
        loop {
            while let Some(j) = self.ready_jobs.pop_front() {
                self.job_ready(cx, j);
            }
            self.pump(cx);
            if self.ready_jobs.is_empty() {
                break;
            }
        }
        let all_done = self
            .jobs
            .iter()
            .all(|j| matches!(j.phase, JobPhase::Done(_)));
        if all_done {
            let conclusion = if self.cancelled {
                Conclusion::Cancelled
            } else if self
                .jobs
                .iter()
                .any(|j| j.conclusion() == Some(Conclusion::Failure))
            {
                Conclusion::Failure
            } else {
                Conclusion::Success
            };
            self.conclusion = Some(conclusion);
            cx.actions.push(Action::Finished { conclusion });
        }
    }

    fn instance_mut(&mut self, id: InstanceId) -> Option<&mut Instance> {
        self.jobs.get_mut(id.job)?.instances.get_mut(id.index)
    }
}

#[cfg(test)]
mod tests;
