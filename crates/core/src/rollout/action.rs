//! What the state machine asks adapters to do, and the notes it records for people.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Revision, RevisionNumber, RunId, Traffic, Verdict};
use crate::spec::{AnalysisRef, CanaryScale, CanaryStep, Weight};

/// An instruction for the adapters. Every action states a desired end, never a delta.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Run exactly this many replicas of a revision.
    Scale {
        revision: RevisionNumber,
        replicas: u32,
    },
    /// Apply this routing table.
    SetTraffic(Traffic),
    /// Start judging `revision`, comparing it with `baseline` where a metric is relative.
    StartAnalysis {
        run: RunId,
        analysis: AnalysisRef,
        revision: RevisionNumber,
        baseline: Option<RevisionNumber>,
    },
    StopAnalysis {
        run: RunId,
    },
    /// Ask a background run for its verdict on the evidence so far: passed if every metric has
    /// passed, otherwise inconclusive (which each metric's `inconclusive` setting may turn
    /// into a pass or a failure). The canary waits for it before promotion.
    ConcludeAnalysis {
        run: RunId,
    },
    /// This revision is now the one that serves when nothing is in progress.
    MarkStable {
        revision: Revision,
    },
    /// Append a note to the rollout's history.
    Record(Note),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Scale { revision, replicas } => {
                write!(f, "scale revision {revision} to {replicas}")
            }
            Action::SetTraffic(t) => write!(f, "route {t}"),
            Action::StartAnalysis {
                run,
                revision,
                baseline: Some(b),
                ..
            } => {
                write!(f, "start {run} of revision {revision} against revision {b}")
            }
            Action::StartAnalysis {
                run,
                revision,
                baseline: None,
                ..
            } => {
                write!(f, "start {run} of revision {revision}")
            }
            Action::StopAnalysis { run } => write!(f, "stop {run}"),
            Action::ConcludeAnalysis { run } => write!(f, "conclude {run}"),
            Action::MarkStable { revision } => write!(f, "mark {revision} stable"),
            Action::Record(note) => write!(f, "{note}"),
        }
    }
}

/// A human-readable entry in a rollout's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Note {
    FirstDeployment {
        revision: Revision,
    },
    Started {
        revision: Revision,
        strategy: String,
    },
    Superseded {
        revision: Revision,
        by: Revision,
    },
    StepStarted {
        index: usize,
        step: CanaryStep,
    },
    StepCompleted {
        index: usize,
    },
    WeightSet {
        revision: RevisionNumber,
        weight: Weight,
    },
    Paused {
        reason: String,
    },
    Resumed,
    AnalysisVerdict {
        run: RunId,
        verdict: Verdict,
        message: String,
    },
    Switched {
        to: RevisionNumber,
    },
    Promoted {
        revision: Revision,
    },
    Aborted {
        reason: String,
    },
    Retried,
    Undone {
        to: Revision,
    },
    ScaledDown {
        revision: RevisionNumber,
    },
    CommandAccepted {
        verb: String,
        by: String,
    },
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::FirstDeployment { revision } => write!(
                f,
                "first deployment of {revision}: nothing to compare against, going straight to full size"
            ),
            Note::Started { revision, strategy } => {
                write!(f, "{strategy} rollout of {revision} started")
            }
            Note::Superseded { revision, by } => write!(f, "{revision} superseded by {by}"),
            Note::StepStarted { index, step } => {
                write!(f, "step {}: {}", index + 1, describe_step(step))
            }
            Note::StepCompleted { index } => write!(f, "step {} completed", index + 1),
            Note::WeightSet { revision, weight } => {
                write!(f, "revision {revision} now receives {weight} of traffic")
            }
            Note::Paused { reason } => write!(f, "paused: {reason}"),
            Note::Resumed => f.write_str("resumed"),
            Note::AnalysisVerdict {
                run,
                verdict,
                message,
            } => write!(f, "{run}: {verdict:?}: {message}"),
            Note::Switched { to } => write!(f, "all traffic switched to revision {to}"),
            Note::Promoted { revision } => write!(f, "{revision} promoted to stable"),
            Note::Aborted { reason } => write!(f, "aborted: {reason}"),
            Note::Retried => f.write_str("retrying from the first step"),
            Note::Undone { to } => write!(f, "undone: back to {to}"),
            Note::ScaledDown { revision } => write!(f, "revision {revision} scaled to zero"),
            Note::CommandAccepted { verb, by } => write!(f, "{verb} requested by {by}"),
        }
    }
}

/// One canary step as people write it.
pub fn describe_step(step: &CanaryStep) -> String {
    match step {
        CanaryStep::SetWeight(w) => format!("set weight {w}"),
        CanaryStep::Pause(Some(d)) => format!("pause {}", crate::time::human_duration(*d)),
        CanaryStep::Pause(None) => "pause until promoted".to_owned(),
        CanaryStep::Analysis(a) => a.describe(),
        CanaryStep::SetHeaderRoute(Some(_)) => "route matching requests to the canary".to_owned(),
        CanaryStep::SetHeaderRoute(None) => "remove the header route".to_owned(),
        CanaryStep::SetCanaryScale(CanaryScale::Replicas(n)) => {
            format!("scale the canary to {n} replicas")
        }
        CanaryStep::SetCanaryScale(CanaryScale::Weight(w)) => {
            format!("scale the canary to {w} of the replicas")
        }
        CanaryStep::SetCanaryScale(CanaryScale::MatchTrafficWeight) => {
            "scale the canary with its traffic weight".to_owned()
        }
        CanaryStep::SetMirrorRoute(Some(w)) => format!("mirror {w} of requests to the canary"),
        CanaryStep::SetMirrorRoute(None) => "remove the mirror".to_owned(),
    }
}
