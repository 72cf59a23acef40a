//! The state of one service's rollout, and what can be read from it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Action, Phase, Revision, RevisionNumber, RolloutSpec, RunId, Traffic, Verdict};
use crate::spec::{AnalysisRef, CanaryScale, Strategy, Weight};
use crate::time::Timestamp;

/// Everything the state machine knows about one service's release.
///
/// Fields are public for reading (the API shows them); only [`Rollout::apply`] changes them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    pub service: String,
    /// `None` until the first revision is deployed.
    pub spec: Option<RolloutSpec>,
    /// The latest instant seen in an event.
    pub now: Timestamp,
    pub stable: Option<Revision>,
    /// The revision being rolled out, or the one that was aborted.
    pub target: Option<Revision>,
    /// The revision that was stable before the last promotion, while it is still warm.
    pub previous: Option<Revision>,
    pub stage: Stage,
    /// The current canary step (index into the strategy's steps).
    pub step: usize,
    pub traffic: Traffic,
    /// Desired replicas per revision, as last asked of the platform.
    pub scales: BTreeMap<RevisionNumber, u32>,
    /// Ready replicas per revision, as last reported by the platform.
    pub ready: BTreeMap<RevisionNumber, u32>,
    pub analyses: Vec<ActiveAnalysis>,
    /// Incremented by every new rollout and retry; tags analysis runs.
    pub attempt: u32,
    pub aborted: bool,
    pub operator_paused: bool,
    /// Set when a background analysis was inconclusive: a human must promote or abort.
    pub inconclusive: Option<String>,
    /// Skip remaining steps and analyses (`promote --full`).
    pub full_promotion: bool,
    /// When the current stage started or last made progress; the progress deadline counts from here.
    pub stage_since: Timestamp,
    /// Revisions to scale to zero at the given instants (delayed scale-down).
    pub scale_downs: Vec<(RevisionNumber, Timestamp)>,
    /// Why the rollout is where it is, for people.
    pub reason: String,
    /// Why replicas of a revision that are not ready are not, as last reported.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failing: BTreeMap<RevisionNumber, String>,
    /// The canary's size set by a `SetCanaryScale` step of this attempt, apart from its weight.
    /// Absent in states recorded before the step existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_scale: Option<CanaryScale>,
}

/// What the rollout is waiting for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "stage")]
pub enum Stage {
    /// Nothing in progress (healthy, or aborted).
    Idle,
    /// The first revision is scaling to full size.
    FirstDeploy,
    /// Canary: scaling the canary for `weight`, then shifting traffic to it.
    CanaryScale { weight: Weight },
    /// Canary: a `SetCanaryScale` step, waiting for the canary's new size to be ready.
    CanaryResize,
    /// Canary: a pause step, until an instant or (with `None`) until promoted.
    CanaryPause { until: Option<Timestamp> },
    /// Canary: a blocking analysis step.
    CanaryAnalysis {
        run: RunId,
        verdict: Option<Verdict>,
    },
    /// Canary: past the last step, waiting for the background run's verdict on the evidence
    /// gathered so far before promotion.
    CanaryConclude { run: RunId },
    /// Blue-green: the preview is scaling.
    Preview,
    /// Blue-green: judging the preview before the switch.
    PrePromotion {
        run: RunId,
        verdict: Option<Verdict>,
    },
    /// Blue-green: the preview is ready; promotion is automatic at `auto_at`, or manual with `None`.
    AwaitPromotion { auto_at: Option<Timestamp> },
    /// Canary and blue-green: the new revision scales to full size, then takes all traffic.
    Promote,
    /// Blue-green: judging the new revision after the switch, the old one still warm.
    PostPromotion {
        run: RunId,
        verdict: Option<Verdict>,
    },
    /// Rolling: replicas are being replaced in batches.
    Rolling,
}

/// An analysis run that is in progress.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActiveAnalysis {
    pub run: RunId,
    pub analysis: AnalysisRef,
    pub revision: RevisionNumber,
    pub baseline: Option<RevisionNumber>,
}

impl Rollout {
    pub fn new(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            spec: None,
            now: Timestamp::default(),
            stable: None,
            target: None,
            previous: None,
            stage: Stage::Idle,
            step: 0,
            traffic: Traffic::default(),
            scales: BTreeMap::new(),
            ready: BTreeMap::new(),
            analyses: Vec::new(),
            attempt: 0,
            aborted: false,
            operator_paused: false,
            inconclusive: None,
            full_promotion: false,
            stage_since: Timestamp::default(),
            scale_downs: Vec::new(),
            reason: "no revision deployed yet".to_owned(),
            failing: BTreeMap::new(),
            canary_scale: None,
        }
    }

    /// The revisions that matter now: stable, target, any with replicas wanted or waiting to
    /// scale down, any the traffic reaches (weights, header route, preview, mirror), and any an
    /// analysis measures. What is kept about a revision outside it (its request signals) can
    /// go: nothing will route to it or judge it without first making it one of these.
    pub fn revisions_in_use(&self) -> BTreeSet<RevisionNumber> {
        let traffic = &self.traffic;
        [&self.stable, &self.target]
            .into_iter()
            .flatten()
            .map(|r| r.number)
            .chain(self.scales.keys().copied())
            .chain(self.scale_downs.iter().map(|(n, _)| *n))
            .chain(traffic.weights.iter().map(|(n, _)| *n))
            .chain(traffic.header_route.as_ref().map(|(_, n)| *n))
            .chain(traffic.preview)
            .chain(traffic.mirror.map(|(n, _)| n))
            .chain(
                self.analyses
                    .iter()
                    .flat_map(|a| std::iter::once(a.revision).chain(a.baseline)),
            )
            .collect()
    }

    /// Whether a rollout is under way (not healthy, not aborted).
    pub fn in_progress(&self) -> bool {
        self.stage != Stage::Idle
    }

    pub fn phase(&self) -> Phase {
        if self.stage == Stage::Idle {
            return if self.aborted {
                Phase::Degraded
            } else {
                Phase::Healthy
            };
        }
        let waiting_for_human = match self.stage {
            Stage::CanaryPause { .. } => true,
            Stage::CanaryAnalysis { verdict, .. }
            | Stage::PrePromotion { verdict, .. }
            | Stage::PostPromotion { verdict, .. } => verdict == Some(Verdict::Inconclusive),
            Stage::AwaitPromotion { auto_at } => auto_at.is_none(),
            _ => false,
        };
        if waiting_for_human || self.operator_paused || self.inconclusive.is_some() {
            Phase::Paused
        } else {
            Phase::Progressing
        }
    }

    pub fn ready_of(&self, revision: RevisionNumber) -> u32 {
        self.ready.get(&revision).copied().unwrap_or(0)
    }

    pub fn scale_of(&self, revision: RevisionNumber) -> u32 {
        self.scales.get(&revision).copied().unwrap_or(0)
    }

    pub fn replicas(&self) -> u32 {
        self.spec.as_ref().map_or(0, |s| s.replicas)
    }

    pub fn strategy(&self) -> Option<&Strategy> {
        self.spec.as_ref().map(|s| &s.strategy)
    }

    /// The share of traffic the revision being rolled out receives.
    pub fn target_weight(&self) -> Weight {
        self.target
            .as_ref()
            .map_or(Weight::ZERO, |t| self.traffic.weight_of(t.number))
    }

    /// The next instant at which a [`super::EventKind::Tick`] can change something: the end of a
    /// pause, an automatic promotion, a delayed scale-down or the progress deadline.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let held = self.operator_paused || self.inconclusive.is_some();
        let stage_timer = match self.stage {
            _ if held => None,
            Stage::CanaryPause { until } => until,
            Stage::AwaitPromotion { auto_at } => auto_at,
            _ => None,
        };
        let deadline = self.progress_deadline_at();
        let scale_downs = self.scale_downs.iter().map(|(_, at)| *at);
        stage_timer
            .into_iter()
            .chain(deadline)
            .chain(scale_downs)
            .min()
    }

    /// When the current stage runs out of time, if it is one that waits on replicas.
    pub(super) fn progress_deadline_at(&self) -> Option<Timestamp> {
        let waits_on_replicas = matches!(
            self.stage,
            Stage::FirstDeploy
                | Stage::CanaryScale { .. }
                | Stage::CanaryResize
                | Stage::Preview
                | Stage::Promote
                | Stage::Rolling
        );
        if !waits_on_replicas || self.operator_paused {
            return None;
        }
        let spec = self.spec.as_ref()?;
        Some(self.stage_since.after(spec.progress_deadline))
    }

    /// The actions that re-establish the desired world from scratch: used after a restart, when
    /// adapters may have lost what they were told before.
    pub fn resync(&self) -> Vec<Action> {
        let mut out: Vec<Action> = self
            .scales
            .iter()
            .map(|(&revision, &replicas)| Action::Scale { revision, replicas })
            .collect();
        if !self.traffic.weights.is_empty() {
            out.push(Action::SetTraffic(self.traffic.clone()));
        }
        out.extend(self.analyses.iter().map(|a| Action::StartAnalysis {
            run: a.run,
            analysis: a.analysis.clone(),
            revision: a.revision,
            baseline: a.baseline,
        }));
        if let Stage::CanaryConclude { run } = self.stage
            && self.analyses.iter().any(|a| a.run == run)
        {
            out.push(Action::ConcludeAnalysis { run });
        }
        out
    }
}
