//! Small values shared by the rollout's state, events and actions.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::spec::{HeaderMatch, Weight};

/// Revisions are numbered per service, starting at 1.
pub type RevisionNumber = u64;

/// One immutable version of a service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    pub number: RevisionNumber,
    /// The version label people gave it (`v1.2.3`, a commit).
    pub version: String,
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "revision {} ({})", self.number, self.version)
    }
}

/// The phase people see, in the vocabulary of Argo Rollouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The stable revision serves all traffic and nothing is in progress.
    Healthy,
    /// Moving towards the new revision.
    Progressing,
    /// Waiting: for a timer, for an operator, or for a human after an inconclusive analysis.
    Paused,
    /// Aborted: the stable revision serves all traffic and the new one is being removed.
    Degraded,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Healthy => "Healthy",
            Phase::Progressing => "Progressing",
            Phase::Paused => "Paused",
            Phase::Degraded => "Degraded",
        })
    }
}

/// Identifies one analysis run. `attempt` changes with every new rollout or retry, so a
/// verdict that arrives late for an earlier attempt is recognised and ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RunId {
    pub attempt: u32,
    pub kind: RunKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// Runs alongside the canary steps; a failure aborts at any step.
    Background,
    /// A blocking analysis step; the canary waits for its verdict.
    Step(usize),
    PrePromotion,
    PostPromotion,
    /// After an abort, of the stable revision that took all traffic back; its verdict is
    /// told, and changes nothing.
    PostRollback,
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            RunKind::Background => write!(f, "background analysis"),
            RunKind::Step(i) => write!(f, "analysis step {}", i + 1),
            RunKind::PrePromotion => write!(f, "pre-promotion analysis"),
            RunKind::PostPromotion => write!(f, "post-promotion analysis"),
            RunKind::PostRollback => write!(f, "post-rollback analysis"),
        }
    }
}

/// The verdict of an analysis run, as reported by the analysis engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Successful,
    Failed,
    /// Not enough evidence either way: a human decides.
    Inconclusive,
    /// The measurements themselves kept failing (beyond the consecutive error limit).
    Error,
}

/// The whole routing table for one service: weights that sum to 100%, an optional header route
/// to the new revision, an optional preview (blue-green) that receives no weighted traffic, and
/// an optional mirror: a copy of a share of requests to a revision, its answers discarded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    pub weights: Vec<(RevisionNumber, Weight)>,
    pub header_route: Option<(HeaderMatch, RevisionNumber)>,
    pub preview: Option<RevisionNumber>,
    /// Absent in tables recorded before mirroring existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<(RevisionNumber, Weight)>,
}

impl Traffic {
    /// All traffic to one revision.
    pub fn all_to(revision: RevisionNumber) -> Self {
        Self {
            weights: vec![(revision, Weight::FULL)],
            ..Self::default()
        }
    }

    /// `new` receives `weight`, `stable` the rest; a zero share is left out.
    pub fn split(stable: RevisionNumber, new: RevisionNumber, weight: Weight) -> Self {
        let weights = [(stable, weight.complement()), (new, weight)]
            .into_iter()
            .filter(|(_, w)| !w.is_zero())
            .collect();
        Self {
            weights,
            ..Self::default()
        }
    }

    pub fn weight_of(&self, revision: RevisionNumber) -> Weight {
        self.weights
            .iter()
            .find(|(r, _)| *r == revision)
            .map_or(Weight::ZERO, |(_, w)| *w)
    }

    /// The sum of all weights in basis points: 10 000 whenever any revision serves traffic.
    pub fn total_basis_points(&self) -> u32 {
        self.weights
            .iter()
            .map(|(_, w)| u32::from(w.basis_points()))
            .sum()
    }
}

impl fmt::Display for Traffic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self
            .weights
            .iter()
            .map(|(r, w)| format!("r{r}={w}"))
            .collect();
        if let Some(p) = self.preview {
            parts.push(format!("preview=r{p}"));
        }
        if let Some((_, r)) = &self.header_route {
            parts.push(format!("header-route=r{r}"));
        }
        if let Some((r, w)) = &self.mirror {
            parts.push(format!("mirror=r{r}:{w}"));
        }
        if parts.is_empty() {
            return f.write_str("nothing");
        }
        f.write_str(&parts.join(" "))
    }
}
