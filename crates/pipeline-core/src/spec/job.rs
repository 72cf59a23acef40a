//! A job: its place in the DAG, its conditions, its matrix and its steps.

use std::time::Duration;

use crate::expr::{Condition, Template};
use crate::matrix::Matrix;

use super::{CallFrame, Concurrency, Flag, RunDefaults, StepSpec};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobSpec {
    /// The key under `jobs:`, which `needs` refer to.
    pub id: String,
    /// The display name; the id when absent.
    pub name: Option<Template>,
    /// Jobs that must finish first, by id.
    pub needs: Vec<String>,
    pub condition: Option<Condition>,
    pub env: Vec<(String, Template)>,
    /// The whole job, every attempt counted separately.
    pub timeout: Option<Duration>,
    pub retry: Retry,
    /// A failure of the job does not fail the run or skip its dependents.
    pub continue_on_error: Flag,
    pub strategy: Option<MatrixStrategy>,
    /// Values the job hands to the jobs that need it, usually from step outputs.
    pub outputs: Vec<(String, Template)>,
    pub environment: Option<EnvironmentRef>,
    pub concurrency: Option<Concurrency>,
    pub defaults: RunDefaults,
    pub steps: Vec<StepSpec>,
    /// For a job of a called workflow: how that workflow sees the run.
    pub frame: Option<CallFrame>,
    /// For the job that stands for a called workflow (the calling job's id): the workflow's
    /// frame. It runs no steps: once the workflow's jobs (its needs) are over, it ends as
    /// they did, its outputs evaluated over their `jobs` context.
    pub stands_for: Option<CallFrame>,
}

/// `retry: {max-attempts, on-exit-codes}`: run the job again from its first step when it fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retry {
    /// At least 1; 1 means no retry.
    pub max_attempts: u32,
    /// Retry only when the failing step exited with one of these; empty retries any failure.
    pub on_exit_codes: Vec<i32>,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            max_attempts: 1,
            on_exit_codes: Vec::new(),
        }
    }
}

/// `strategy: {matrix, fail-fast, max-parallel}`.
#[derive(Clone, Debug, PartialEq)]
pub struct MatrixStrategy {
    pub matrix: MatrixSource,
    /// Cancel the other combinations when one fails. Default: true, as in GitHub Actions.
    pub fail_fast: bool,
    /// How many combinations run at once; all of them when absent.
    pub max_parallel: Option<u32>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum MatrixSource {
    Static(Matrix),
    /// `matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}`, expanded when the job is ready.
    Dynamic(Template),
}

/// `environment: production` or `environment: {name, url}`; the name may be an expression.
#[derive(Clone, Debug, PartialEq)]
pub struct EnvironmentRef {
    pub name: Template,
    pub url: Option<Template>,
}
