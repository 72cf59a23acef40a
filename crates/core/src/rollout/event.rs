//! What can happen to a rollout: a new revision, time passing, readiness, verdicts, commands.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Revision, RevisionNumber, RunId, Verdict};
use crate::spec::{AnalysisRef, ServiceSpec, Strategy};
use crate::time::Timestamp;

/// One input to the state machine. `at` is when it happened on the caller's clock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub at: Timestamp,
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[expect(
    clippy::large_enum_variant,
    reason = "an event is made once per input and stored; the spec's size costs nothing that matters"
)]
pub enum EventKind {
    /// The desired revision or the rollout settings changed (a deploy, or an applied config).
    SpecChanged {
        revision: Revision,
        spec: RolloutSpec,
    },
    /// Time passed; timers (pauses, delays, deadlines) are checked.
    Tick,
    /// How many replicas of a revision currently pass their readiness probe.
    ReplicasReady {
        revision: RevisionNumber,
        ready: u32,
        /// Why the others are not ready yet (a replica's last failed probe), for people.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failing: Option<String>,
    },
    /// An analysis run reached a verdict.
    AnalysisCompleted {
        run: RunId,
        verdict: Verdict,
        message: String,
    },
    /// An operator (or a pipeline) asked for something.
    Command { command: Command, by: String },
}

/// The part of a service's spec that steers its rollout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolloutSpec {
    pub replicas: u32,
    pub strategy: Strategy,
    pub progress_deadline: Duration,
    /// Run against the stable revision once an abort has sent all traffic back to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_rollback_analysis: Option<Box<AnalysisRef>>,
}

impl From<&ServiceSpec> for RolloutSpec {
    fn from(s: &ServiceSpec) -> Self {
        Self {
            replicas: s.replicas,
            strategy: s.strategy.clone(),
            progress_deadline: s.progress_deadline,
            post_rollback_analysis: s.post_rollback_analysis.clone().map(Box::new),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Complete the current step (or pause) and go on; with `full`, skip every remaining step
    /// and analysis and promote now.
    Promote {
        full: bool,
    },
    /// Send all traffic back to the stable revision at once.
    Abort {
        reason: Option<String>,
    },
    /// Restart an aborted rollout from its first step.
    Retry,
    /// Go back to an earlier revision; instant when that revision is still warm.
    Undo {
        to: Revision,
    },
    Pause,
    Resume,
}

impl Command {
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Promote { full: false } => "promote",
            Command::Promote { full: true } => "promote --full",
            Command::Abort { .. } => "abort",
            Command::Retry => "retry",
            Command::Undo { .. } => "undo",
            Command::Pause => "pause",
            Command::Resume => "resume",
        }
    }
}

/// A command that does not apply to the rollout as it stands. The state is left unchanged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot {verb}: {why}")]
pub struct Rejected {
    pub verb: &'static str,
    pub why: String,
}

impl Event {
    pub fn new(at: Timestamp, kind: EventKind) -> Self {
        Self { at, kind }
    }
}
