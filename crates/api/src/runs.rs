//! Pipelines through the API: manual dispatch, webhook answers and runs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `POST /v1/pipelines/{pipeline}/dispatch`: a `manual` run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchRequest {
    /// The `manual` trigger's inputs, by name; typed as it declares them.
    #[serde(default)]
    pub inputs: BTreeMap<String, InputValue>,
    /// The branch whose head runs [default: the repository's default branch].
    #[serde(default)]
    pub branch: Option<String>,
}

/// An input as JSON gives it: text, a number or a boolean.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InputValue {
    Text(String),
    Number(f64),
    Flag(bool),
}

impl InputValue {
    /// As it would be typed on the command line (`--input name=value`).
    pub fn as_text(&self) -> String {
        match self {
            InputValue::Text(t) => t.clone(),
            InputValue::Number(n) => n.to_string(),
            InputValue::Flag(b) => b.to_string(),
        }
    }
}

/// What a trigger (a webhook delivery, a dispatch) started.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TriggeredView {
    pub runs: Vec<StartedRun>,
    /// The pipelines the event did not match, with each trigger's reason.
    pub skipped: Vec<SkippedPipeline>,
    /// Why the delivery starts nothing at all (a ping, a deleted branch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartedRun {
    pub number: u64,
    pub pipeline: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedPipeline {
    pub pipeline: String,
    pub reasons: Vec<String>,
}

/// `GET /v1/runs/{number}` and each entry of `GET /v1/runs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunView {
    pub number: u64,
    pub pipeline: String,
    pub attempt: u32,
    /// `running`, `queued`, `waiting`, `success`, `failure`, `cancelled`, `interrupted`.
    pub status: String,
    pub actor: String,
    /// The event: `push on branch `main``.
    pub summary: String,
    pub sha: String,
    pub started_ms: u64,
    pub finished_ms: Option<u64>,
    /// The latest attempt's jobs (empty in lists).
    #[serde(default)]
    pub jobs: Vec<RunJobView>,
    /// The latest attempt's environment gates, waiting or decided (empty in lists).
    #[serde(default)]
    pub gates: Vec<RunGateView>,
    /// The latest attempt's reviews, oldest first (empty in lists).
    #[serde(default)]
    pub reviews: Vec<RunReviewView>,
    /// What the history says of the latest attempt as a whole rather than of a job: why it
    /// could not start, was queued or cancelled, or why it was interrupted (empty in lists).
    #[serde(default)]
    pub notes: Vec<String>,
    /// What each leg's steps wrote to `$GITHUB_STEP_SUMMARY`, masked; only the machine that
    /// ran the run has them (empty in lists and elsewhere).
    #[serde(default)]
    pub step_summaries: Vec<StepSummaryView>,
}

/// One job's (or matrix leg's) `$GITHUB_STEP_SUMMARY`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepSummaryView {
    /// The leg's display name (a matrix leg's with its values).
    pub job: String,
    pub markdown: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunJobView {
    pub job: String,
    /// `success`, `failure`, `cancelled`, `skipped`; `None` until it ends.
    pub conclusion: Option<String>,
    pub message: Option<String>,
    /// Its display name.
    #[serde(default)]
    pub name: String,
    /// The jobs it waits for, by id, as the run's project file declares them now (empty when
    /// the file cannot be read any more).
    #[serde(default)]
    pub needs: Vec<String>,
    /// What it handed on to the jobs that need it, masked.
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
    /// The earlier attempt whose result it kept instead of running; its legs are that
    /// attempt's.
    #[serde(default)]
    pub reused_from: Option<u32>,
    /// Its matrix legs (one for a job without a matrix), once it has started.
    #[serde(default)]
    pub instances: Vec<RunInstanceView>,
    /// What the history says of it in the attempt its legs come from: a skip, a retry, a
    /// gate's verdict.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// One matrix leg of a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInstanceView {
    /// Its index among the job's legs, from 0: the `instance` of its step logs.
    pub index: u32,
    pub name: String,
    /// `pending`, `gated`, `queued`, `running`, or how it ended.
    pub status: String,
    /// Its attempt, counting `retry`.
    pub attempt: u32,
    pub started_ms: Option<u64>,
    pub finished_ms: Option<u64>,
    pub message: Option<String>,
    pub steps: Vec<RunStepView>,
}

/// One step of a leg's latest attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStepView {
    pub name: String,
    /// `running`, or how it ended.
    pub status: String,
    /// How its process ended: `exit code 1`, `killed by signal 9`.
    pub exit: Option<String>,
    pub started_ms: Option<u64>,
    pub finished_ms: Option<u64>,
}

/// A leg held at an environment's protection rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunGateView {
    pub job: String,
    pub index: u32,
    pub environment: String,
    /// `waiting`, `open`, `refused`, `cancelled` or `interrupted`.
    pub state: String,
    pub since_ms: u64,
    pub decided_ms: Option<u64>,
    /// The environment's rules as the run's project file declares them now, for people:
    /// `1 approval`, `reviewers: alice, bob`.
    #[serde(default)]
    pub rules: Vec<String>,
}

/// One person's answer to a gate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReviewView {
    pub environment: String,
    pub by: String,
    pub approved: bool,
    pub comment: Option<String>,
    pub at_ms: u64,
}

/// `POST /v1/runs/{number}/reviews`: approve or reject the gates a run waits at, as the
/// token's identity (approver or admin).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// The environment answered [default: every environment the run waits for].
    #[serde(default)]
    pub environment: Option<String>,
    pub approved: bool,
    #[serde(default)]
    pub comment: Option<String>,
}

/// What became of a review for one environment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReviewAnswer {
    pub environment: String,
    /// Who the review was recorded as.
    pub by: String,
    /// Why it was not recorded, if it was not.
    pub refused: Option<String>,
}
