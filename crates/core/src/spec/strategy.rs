//! How a service moves from its stable revision to a new one.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{AnalysisRef, Scale, TrafficGenerator, Weight};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    Canary(CanarySpec),
    BlueGreen(BlueGreenSpec),
    Rolling(RollingSpec),
}

impl Strategy {
    /// Every analysis it may run, in the order it runs them.
    pub fn analyses(&self) -> Vec<&AnalysisRef> {
        match self {
            Strategy::Canary(c) => c
                .steps
                .iter()
                .filter_map(|step| match step {
                    CanaryStep::Analysis(a) => Some(a),
                    _ => None,
                })
                .chain(c.background_analysis.as_ref().map(|b| &b.analysis))
                .collect(),
            Strategy::BlueGreen(b) => b
                .pre_promotion_analysis
                .iter()
                .chain(&b.post_promotion_analysis)
                .collect(),
            Strategy::Rolling(r) => r.analysis.iter().collect(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Strategy::Canary(_) => "canary",
            Strategy::BlueGreen(_) => "blueGreen",
            Strategy::Rolling(_) => "rolling",
        }
    }
}

/// A canary: the new revision receives a growing share of traffic, step by step, while the
/// stable revision stays at full size so that an abort is instantaneous.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CanarySpec {
    pub steps: Vec<CanaryStep>,
    /// Analysis that runs alongside the steps, starting when step `starting_step` starts.
    pub background_analysis: Option<BackgroundAnalysis>,
    /// Bounds how many canary replicas may be starting (not yet ready) at once.
    pub max_surge: Scale,
    /// Accepted for Argo Rollouts compatibility. With a weighted router the stable revision
    /// keeps its full size during a canary, so no replica is ever made unavailable.
    pub max_unavailable: Scale,
    /// How long the previous stable revision stays warm after a promotion, so that an undo is instant.
    pub scale_down_delay: Duration,
    /// How long an aborted canary keeps its replicas (for inspection) before being scaled to zero.
    pub abort_scale_down_delay: Duration,
    /// Synthetic requests to the canary while it rolls out, for a service with too little
    /// traffic of its own to judge. Absent in specs recorded before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_generator: Option<Box<TrafficGenerator>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackgroundAnalysis {
    pub analysis: AnalysisRef,
    pub starting_step: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CanaryStep {
    /// Send this share of traffic to the canary (scaling it up first, readiness-gated).
    SetWeight(Weight),
    /// Wait for a duration, or until promoted when `None`.
    Pause(Option<Duration>),
    /// Run an analysis and wait for its verdict (a blocking analysis step).
    Analysis(AnalysisRef),
    /// Route requests matching a header to the canary, whatever the weights; `None` removes the route.
    SetHeaderRoute(Option<HeaderMatch>),
    /// Size the canary apart from its weight until another `SetCanaryScale` (Argo Rollouts'
    /// `setCanaryScale`); promotion still scales it to full size.
    SetCanaryScale(CanaryScale),
    /// Copy this share of requests to the canary as well, its answers discarded (Argo Rollouts'
    /// `setMirrorRoute`); `None` removes the mirror.
    SetMirrorRoute(Option<Weight>),
}

/// How many replicas the canary runs, whatever share of traffic it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CanaryScale {
    /// This many replicas.
    Replicas(u32),
    /// This share of the service's replicas (at least one unless it is 0%).
    Weight(Weight),
    /// As many as its traffic weight needs: the default.
    MatchTrafficWeight,
}

/// A request header that sends matching requests to the canary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeaderMatch {
    Exact { header: String, value: String },
    Prefix { header: String, value: String },
    Regex { header: String, pattern: String },
}

/// Blue-green: the new revision runs beside the active one as a preview, and all traffic
/// switches at once when it is promoted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlueGreenSpec {
    pub auto_promotion_enabled: bool,
    /// With auto-promotion, how long to wait after the preview is ready (and pre-promotion
    /// analysis passed) before switching.
    pub auto_promotion_delay: Option<Duration>,
    /// Size of the preview before promotion; `None` means full size.
    pub preview_replicas: Option<u32>,
    pub pre_promotion_analysis: Option<AnalysisRef>,
    pub post_promotion_analysis: Option<AnalysisRef>,
    /// How long the previous active revision stays warm after a switch, so that an undo is instant.
    pub scale_down_delay: Duration,
    pub abort_scale_down_delay: Duration,
}

/// A rolling update: replicas are replaced in batches bounded by surge and unavailability,
/// each batch gated on readiness.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RollingSpec {
    pub max_surge: Scale,
    pub max_unavailable: Scale,
    pub analysis: Option<AnalysisRef>,
}

impl CanarySpec {
    /// The canary strategy with the given steps and Argo Rollouts' defaults for the rest.
    pub fn with_steps(steps: Vec<CanaryStep>) -> Self {
        Self {
            steps,
            background_analysis: None,
            max_surge: Scale::Percent(25),
            max_unavailable: Scale::Percent(25),
            scale_down_delay: Duration::from_secs(30),
            abort_scale_down_delay: Duration::from_secs(30),
            traffic_generator: None,
        }
    }
}

impl Default for BlueGreenSpec {
    fn default() -> Self {
        Self {
            auto_promotion_enabled: true,
            auto_promotion_delay: None,
            preview_replicas: None,
            pre_promotion_analysis: None,
            post_promotion_analysis: None,
            scale_down_delay: Duration::from_secs(30),
            abort_scale_down_delay: Duration::from_secs(30),
        }
    }
}

impl Default for RollingSpec {
    fn default() -> Self {
        Self {
            max_surge: Scale::Percent(25),
            max_unavailable: Scale::Percent(25),
            analysis: None,
        }
    }
}
