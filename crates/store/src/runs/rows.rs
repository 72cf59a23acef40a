//! What run history holds, row by row: the same for every backend.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A run about to start.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRun {
    pub pipeline: String,
    pub actor: String,
    /// The event, for people: `push on branch `main``.
    pub summary: String,
    /// What a rerun needs to make the same run again (file, event, inputs, checkout).
    pub trigger: serde_json::Value,
    pub at_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Waiting for its pipeline's concurrency group.
    Queued,
    Running,
    /// Running, and some job waits for an environment's approval.
    Waiting,
    Success,
    Failure,
    Cancelled,
    /// Its process ended without finishing it; `rerun --failed` can.
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Waiting => "waiting",
            RunStatus::Success => "success",
            RunStatus::Failure => "failure",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Interrupted => "interrupted",
        }
    }

    pub fn parse(text: &str) -> Option<RunStatus> {
        [
            RunStatus::Queued,
            RunStatus::Running,
            RunStatus::Waiting,
            RunStatus::Success,
            RunStatus::Failure,
            RunStatus::Cancelled,
            RunStatus::Interrupted,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Whether the attempt is over.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            RunStatus::Queued | RunStatus::Running | RunStatus::Waiting
        )
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunRow {
    pub number: u64,
    pub pipeline: String,
    /// The latest attempt.
    pub attempt: u32,
    pub status: RunStatus,
    pub actor: String,
    pub summary: String,
    pub sha: String,
    pub trigger: serde_json::Value,
    pub started_ms: u64,
    pub finished_ms: Option<u64>,
}

/// A job of one attempt: how it ended and what it handed on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JobRow {
    pub job: String,
    /// Its place among the pipeline's jobs.
    pub position: u32,
    pub name: String,
    /// `success`, `failure`, `cancelled`, `skipped`; `None` until it ends.
    pub conclusion: Option<String>,
    pub message: Option<String>,
    pub outputs: BTreeMap<String, String>,
    /// The attempt whose result it kept instead of running.
    pub reused_from: Option<u32>,
}

/// One matrix combination of a job (or the job itself) in one attempt.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InstanceRow {
    pub job: String,
    pub index: u32,
    pub position: u32,
    pub name: String,
    /// `pending`, `gated`, `queued`, `running`, or how it ended.
    pub status: String,
    /// Its attempt, counting `retry`.
    pub job_attempt: u32,
    pub started_ms: Option<u64>,
    pub finished_ms: Option<u64>,
    pub message: Option<String>,
    /// Its steps as JSON: name, status, exit, times.
    pub steps: serde_json::Value,
    /// The directory of its step logs.
    pub logs: Option<String>,
}

/// An instance held by its environment's protection rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GateRow {
    pub job: String,
    pub index: u32,
    pub environment: String,
    pub since_ms: u64,
    /// `waiting`, `open`, `refused`, `cancelled` or `interrupted`.
    pub state: String,
    pub decided_ms: Option<u64>,
}

/// One person's answer to a run's environment gate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReviewRow {
    pub run: u64,
    pub environment: String,
    pub by: String,
    pub approved: bool,
    pub comment: Option<String>,
    pub at_ms: u64,
}

/// One change of a running attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    Status {
        attempt: u32,
        status: RunStatus,
        at_ms: u64,
    },
    Job {
        attempt: u32,
        row: JobRow,
        at_ms: u64,
    },
    Instance {
        attempt: u32,
        row: InstanceRow,
    },
    Gate {
        attempt: u32,
        row: GateRow,
        at_ms: u64,
    },
    /// A line about the run (a skip, a retry, a gate's verdict), already masked.
    Note {
        attempt: u32,
        job: Option<String>,
        text: String,
        at_ms: u64,
    },
}
