//! What a run knows about each job, each matrix combination and each step.

use std::collections::BTreeMap;

use bellwether_core::time::Timestamp;

use super::types::{Conclusion, ExitStatus};
use crate::matrix::Combination;

/// One job of the pipeline and the instances (matrix combinations) it expanded to.
#[derive(Clone, Debug)]
pub struct JobState {
    pub id: String,
    /// The display name, known once the job is ready (its `name:` may use `needs`).
    pub name: String,
    pub phase: JobPhase,
    pub instances: Vec<Instance>,
    /// Merged over the instances, later ones winning, for `needs.<id>.outputs`.
    pub outputs: BTreeMap<String, String>,
    /// Why the job was skipped, or failed before any instance ran.
    pub message: Option<String>,
    /// The earlier attempt of the run whose result and outputs it kept instead of running.
    pub reused_from: Option<u32>,
    pub(super) needs: Vec<usize>,
    pub(super) dependents: Vec<usize>,
    /// Every job this one needs, directly or not: the status functions look at all of them.
    pub(super) ancestors: Vec<usize>,
    pub(super) unfinished_needs: usize,
    pub(super) running: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobPhase {
    /// Some needs have not finished.
    Waiting,
    /// Expanded into instances, some not yet finished.
    Active,
    Done(Conclusion),
}

/// One matrix combination of a job (the job itself when there is no matrix).
#[derive(Clone, Debug)]
pub struct Instance {
    pub name: String,
    pub matrix: Combination,
    pub status: InstanceStatus,
    /// 1 for the first attempt; retries count up.
    pub attempt: u32,
    pub steps: Vec<StepRecord>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// Why it failed or was cancelled, when no step says so.
    pub message: Option<String>,
    pub(super) next_main: usize,
    pub(super) post: Option<Vec<usize>>,
    pub(super) base_env: Vec<(String, String)>,
    pub(super) file_env: Vec<(String, String)>,
    pub(super) path: Vec<String>,
    pub(super) deadline: Option<Timestamp>,
    pub(super) cancel_requested: bool,
    pub(super) timed_out: bool,
    pub(super) continue_on_error: bool,
    pub(super) last_failure: Option<ExitStatus>,
    pub(super) group: Option<String>,
    /// The environment it deploys to, once its name is known.
    pub environment: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstanceStatus {
    /// Waiting for a free slot.
    Pending,
    /// Waiting for its environment's protection rules.
    Gated,
    /// Waiting for its concurrency group.
    Queued,
    Running,
    /// `conclusion` is what the jobs that need it see; `outcome` is what happened.
    Done {
        outcome: Conclusion,
        conclusion: Conclusion,
    },
}

/// One step of the current attempt.
#[derive(Clone, Debug)]
pub struct StepRecord {
    pub name: String,
    pub id: Option<String>,
    pub status: StepStatus,
    pub outputs: BTreeMap<String, String>,
    pub exit: Option<ExitStatus>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub(super) kind: StepKind,
    pub(super) continue_on_error: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepStatus {
    Running,
    Done {
        outcome: Conclusion,
        conclusion: Conclusion,
    },
}

/// Which spec a record comes from: a step of the job, or the saving half of a cache step,
/// which runs when the job's own steps are over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StepKind {
    Main(usize),
    CacheSave(usize),
}

impl Instance {
    pub(super) fn new(name: String, matrix: Combination) -> Self {
        Self {
            name,
            matrix,
            status: InstanceStatus::Pending,
            attempt: 0,
            steps: Vec::new(),
            started_at: None,
            finished_at: None,
            message: None,
            next_main: 0,
            post: None,
            base_env: Vec::new(),
            file_env: Vec::new(),
            path: Vec::new(),
            deadline: None,
            cancel_requested: false,
            timed_out: false,
            continue_on_error: false,
            last_failure: None,
            group: None,
            environment: None,
        }
    }

    pub fn is_done(&self) -> bool {
        matches!(self.status, InstanceStatus::Done { .. })
    }

    /// The concurrency group it holds within the run, while it runs.
    pub fn group(&self) -> Option<&str> {
        self.group.as_deref()
    }

    /// What the jobs that need this one see, once it is done.
    pub fn conclusion(&self) -> Option<Conclusion> {
        match self.status {
            InstanceStatus::Done { conclusion, .. } => Some(conclusion),
            _ => None,
        }
    }

    /// A step whose conclusion is a failure has happened in this attempt.
    pub(super) fn has_failed_step(&self) -> bool {
        self.steps.iter().any(|s| {
            matches!(
                s.status,
                StepStatus::Done {
                    conclusion: Conclusion::Failure,
                    ..
                }
            )
        })
    }
}

impl StepRecord {
    pub fn conclusion(&self) -> Option<Conclusion> {
        match self.status {
            StepStatus::Done { conclusion, .. } => Some(conclusion),
            StepStatus::Running => None,
        }
    }

    pub fn outcome(&self) -> Option<Conclusion> {
        match self.status {
            StepStatus::Done { outcome, .. } => Some(outcome),
            StepStatus::Running => None,
        }
    }
}

impl JobState {
    pub fn conclusion(&self) -> Option<Conclusion> {
        match self.phase {
            JobPhase::Done(c) => Some(c),
            _ => None,
        }
    }
}
