//! Strategies: canary, blue-green and rolling, and a canary's background analysis.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{AnalysisRefConfig, ArgConfig, CanaryStepConfig, TrafficGeneratorConfig};
use crate::span::Spanned;
use crate::values::{DurationValue, ScaleValue, Whole};

/// Exactly one of `canary`, `blueGreen` or `rolling`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct StrategyConfig {
    pub canary: Option<Spanned<CanaryConfig>>,
    pub blue_green: Option<Spanned<BlueGreenConfig>>,
    pub rolling: Option<Spanned<RollingConfig>>,
}

/// A canary: the new revision receives a growing share of traffic, step by step, while the
/// stable revision keeps its full size, so that an abort is instantaneous. After the last step
/// the canary is promoted to 100%.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CanaryConfig {
    /// The steps, in order; weights must not go down. An empty list is allowed: the rollout
    /// goes straight to promotion.
    #[serde(default)]
    pub steps: Vec<Spanned<CanaryStepConfig>>,
    /// Background analysis, running alongside the steps. Default: when the service declares
    /// analysis metrics, those no step's analysis names (all of them when no step names any),
    /// from step 0. As in Argo Rollouts, a metric runs where it is referenced.
    pub analysis: Option<Spanned<BackgroundAnalysisConfig>>,
    /// How many canary replicas may be starting at once. Default: 25%.
    pub max_surge: Option<Spanned<ScaleValue>>,
    /// Accepted for Argo Rollouts compatibility; it has no effect, because the stable revision
    /// keeps its full size behind the weighted router. Default: 25%.
    pub max_unavailable: Option<Spanned<ScaleValue>>,
    /// How long the previous stable revision stays warm after a promotion, so that an undo is
    /// instant. Default: 30s.
    pub scale_down_delay: Option<Spanned<DurationValue>>,
    /// How long an aborted canary keeps its replicas (for inspection) before scaling to zero.
    /// Default: 30s.
    pub abort_scale_down_delay: Option<Spanned<DurationValue>>,
    /// Synthetic requests sent to the canary through the router while it rolls out, so that a
    /// service with little traffic of its own gathers evidence, e.g. `{rate: 10, path: /}`.
    /// Default: none.
    pub traffic_generator: Option<Spanned<TrafficGeneratorConfig>>,
}

/// Blue-green: the new revision runs beside the active one as a preview, and all traffic
/// switches at once when it is promoted.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BlueGreenConfig {
    /// Promote automatically once the preview is ready and pre-promotion analysis passed.
    /// Default: true.
    pub auto_promotion_enabled: Option<bool>,
    /// With auto-promotion, how long to wait before switching: `30` (seconds, as in Argo
    /// Rollouts) or `30s`. Default: no wait.
    pub auto_promotion_seconds: Option<Spanned<DurationValue>>,
    /// Size of the preview before promotion, at most `replicas`. Default: full size.
    pub preview_replicas: Option<Spanned<Whole<u32>>>,
    /// Analysis of the preview before the switch. Note that the preview receives no user
    /// traffic, so builtin traffic metrics have nothing to measure there.
    pub pre_promotion_analysis: Option<Spanned<AnalysisRefConfig>>,
    /// Analysis after the switch, while the previous revision is still warm for an instant
    /// switch back. Default: when the service declares analysis metrics and neither
    /// `prePromotionAnalysis` nor `postPromotionAnalysis` is set, all of them.
    pub post_promotion_analysis: Option<Spanned<AnalysisRefConfig>>,
    /// How long the previous active revision stays warm after the switch. Default: 30s.
    pub scale_down_delay: Option<Spanned<DurationValue>>,
    /// How long an aborted preview keeps its replicas before scaling to zero. Default: 30s.
    pub abort_scale_down_delay: Option<Spanned<DurationValue>>,
}

/// A rolling update: replicas are replaced in batches, each gated on readiness.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RollingConfig {
    /// Replicas that may be added above `replicas` during the update. Default: 25%.
    pub max_surge: Option<Spanned<ScaleValue>>,
    /// Replicas that may be unavailable during the update. Default: 25%.
    pub max_unavailable: Option<Spanned<ScaleValue>>,
    /// Analysis during the update. Default: when the service declares analysis metrics, all
    /// of them.
    pub analysis: Option<Spanned<AnalysisRefConfig>>,
}

/// Analysis that runs in the background of a canary's steps.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BackgroundAnalysisConfig {
    /// Metric names from the service's `analysis.metrics`. Default: all of them.
    #[serde(default)]
    pub metrics: Vec<Spanned<String>>,
    /// The step (counted from 0) at which the analysis starts. Default: 0.
    pub starting_step: Option<Spanned<Whole<u32>>>,
    /// Values for the arguments of the metrics it runs, over the defaults the service's
    /// `analysis.args` declares.
    #[serde(default)]
    pub args: Vec<Spanned<ArgConfig>>,
}
