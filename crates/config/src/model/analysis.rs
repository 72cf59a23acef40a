//! A service's analysis: the metrics that judge its rollouts, compact or in full, the
//! canary-versus-baseline judge over them, and the references strategies and steps make to
//! them.

mod judge;

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::{ProviderRef, Threshold};
use crate::span::{Entries, Spanned};
use crate::values::{DurationValue, Percent, Whole};

pub use judge::{JudgeConfig, JudgedMetricConfig, Number};

/// The metrics that judge a rollout, and defaults for all of them.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AnalysisConfig {
    /// How often each metric is measured, unless it sets its own `interval`. Default: 1s for
    /// builtin metrics (measuring is cheap, and a failing canary must be caught within about a
    /// second) and 10s for prometheus, web and job metrics.
    pub interval: Option<Spanned<DurationValue>>,
    /// Requests a traffic metric judged on its window needs before it can pass or fail; with
    /// fewer, the measurement waits. Metrics judged on all the evidence need no minimum: their
    /// confidence interval is wide while requests are few. Default: 50.
    pub min_sample: Option<Spanned<Whole<u64>>>,
    /// The sliding window builtin metrics are computed over. Thresholds on `error_rate`,
    /// `success_rate` and latency quantiles decide on every request since the analysis began
    /// instead, and use the window only for the value they show. Default: 30s.
    pub window: Option<Spanned<DurationValue>>,
    /// How sure a verdict on all the evidence must be, above 50% and below 100%: at 95%, a
    /// canary that meets its threshold is failed by chance in at most 5% of analyses, however
    /// long they run and however often they look; higher waits for more requests. Default: 95%.
    pub confidence: Option<Spanned<Percent>>,
    /// What a metric left inconclusive does: `pause` the rollout for a person (with the reason),
    /// `pass`, or `fail`. A metric is inconclusive when the canary's steps end (or a blocking
    /// analysis gives up after 5 minutes) before it has enough requests to decide, or when a
    /// value satisfies neither condition. Default: pause.
    pub inconclusive: Option<Spanned<InconclusiveConfig>>,
    /// The metrics. A compact threshold such as `success_rate >= 99%` is named after its metric
    /// (`success_rate`), with `_vs_baseline` appended when it compares with the baseline. In a
    /// blocking analysis (an analysis step, pre- or post-promotion analysis) a metric without
    /// `count` measures until it has one measurement with enough data to judge, and gives up as
    /// inconclusive after 5 minutes without one.
    #[serde(default)]
    pub metrics: Vec<Spanned<MetricConfig>>,
    /// The canary-versus-baseline judge over some of these metrics, which analyses ask for with
    /// `judge: true`. Default: none.
    pub judge: Option<Spanned<JudgeConfig>>,
    /// Arguments the metrics name as `{{args.NAME}}` in queries, URLs, headers, bodies and
    /// commands, as an Argo Rollouts AnalysisTemplate declares them: `{name: service-name}`, or
    /// with a default, `{name: threshold, value: "0.95"}`. An analysis that runs a metric gives
    /// the values its arguments have no default for. Default: none.
    #[serde(default)]
    pub args: Vec<Spanned<ArgConfig>>,
}

/// An argument: its name, and a value or where the value comes from (at most one of them).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ArgConfig {
    /// Letters, digits, `-`, `_` and `.`, as in `{{args.service-name}}`.
    pub name: Spanned<String>,
    /// The value, e.g. `api-service`.
    pub value: Option<Spanned<String>>,
    /// Where the value comes from: `{fieldRef: {fieldPath: metadata.name}}` is the service's
    /// name.
    pub value_from: Option<Spanned<ValueFromConfig>>,
}

/// Argo Rollouts' `valueFrom`: a field of the service. Its `secretKeyRef` and
/// `podTemplateHashValue` are recognised, and refused with what to write instead.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ValueFromConfig {
    /// `{fieldPath: metadata.name}`: the service's name.
    pub field_ref: Option<Spanned<FieldRefConfig>>,
    /// Not supported: a Kubernetes Secret's key.
    pub secret_key_ref: Option<Spanned<SecretKeyRefConfig>>,
    /// Not supported: `{{revision}}` names the revision under analysis.
    pub pod_template_hash_value: Option<Spanned<String>>,
}

/// A field of the service by its path.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FieldRefConfig {
    /// `metadata.name`, the service's name.
    pub field_path: Spanned<String>,
}

/// A Kubernetes Secret's key, as Argo Rollouts names one.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretKeyRefConfig {
    pub name: Option<String>,
    pub key: Option<String>,
}

/// A metric: a compact threshold on a builtin metric, or the full form.
#[derive(Clone, Debug)]
pub enum MetricConfig {
    Compact(Threshold),
    Full(Box<FullMetricConfig>),
}

/// A metric in full, in the spirit of an Argo Rollouts AnalysisTemplate metric.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FullMetricConfig {
    /// The name that analysis references use.
    pub name: Spanned<String>,
    /// A provider's name from `providers`, `builtin`, or an inline provider such as
    /// `{prometheus: {address: …}}`. Default: `builtin`.
    pub provider: Option<Spanned<ProviderRef>>,
    /// A compact threshold on a builtin metric, e.g. `latency_p99 <= 200ms`, instead of
    /// `query` and conditions; useful with `dryRun` or limits. With `errors` and `total`, a
    /// threshold on `error_rate` over their counts.
    pub threshold: Option<Spanned<Threshold>>,
    /// What to measure: PromQL for prometheus, a builtin metric's name for builtin (default:
    /// the metric's `name`), a JSON path for web (overriding the provider's `jsonPath`).
    pub query: Option<Spanned<String>>,
    /// The counts form of a prometheus metric: PromQL counting failed requests, a sum of
    /// counters such as `sum(istio_requests_total{response_code=~"5.."})`. With `total` and a
    /// `threshold` on `error_rate`, the metric is judged as the builtin one is: on every
    /// request since the analysis began, by a confidence sequence.
    pub errors: Option<Spanned<String>>,
    /// With `errors`: PromQL counting every request, e.g. `sum(istio_requests_total)`.
    pub total: Option<Spanned<String>>,
    /// The usual check of a service routed by Istio or NGINX Ingress (its `trafficRouting`),
    /// its PromQL written by bellwether over the mesh's or the ingress's own metrics, as
    /// Flagger's builtin metrics are: `request-success-rate` with a `threshold` on `success_rate`
    /// or `error_rate` (counted per revision and judged as the builtin one is, on every request
    /// since the analysis began), or `request-duration` with a `threshold` on a latency
    /// quantile (`latency_p99 <= 200ms`, on the last minute). Needs a prometheus `provider`.
    pub preset: Option<Spanned<PresetConfig>>,
    /// How values are shown. Default: the builtin metric's unit, otherwise `plain`.
    pub unit: Option<UnitConfig>,
    /// Time between measurements. Default: the analysis `interval`.
    pub interval: Option<Spanned<DurationValue>>,
    /// How many measurements to take. Default: until the analysis stops, except in a blocking
    /// analysis (an analysis step, pre- or post-promotion analysis): there, until one
    /// measurement has enough data to judge (the minimum sample reached), giving up as
    /// inconclusive after 5 minutes without one.
    pub count: Option<Spanned<Whole<u32>>>,
    /// Time before the first measurement. Default: 0s.
    pub initial_delay: Option<Spanned<DurationValue>>,
    /// An expression over `result` (and `baseline`) that a successful measurement satisfies,
    /// e.g. `result <= 0.5`.
    pub success_condition: Option<Spanned<String>>,
    /// An expression over `result` (and `baseline`) that marks a measurement failed.
    pub failure_condition: Option<Spanned<String>>,
    /// Failed measurements tolerated before the metric fails. Default: 0.
    pub failure_limit: Option<Spanned<Whole<u32>>>,
    /// Inconclusive measurements tolerated before the analysis pauses for a person. Default: 0.
    pub inconclusive_limit: Option<Spanned<Whole<u32>>>,
    /// Consecutive provider errors tolerated; errors are retried, not failures. Default: 4.
    pub consecutive_error_limit: Option<Spanned<Whole<u32>>>,
    /// Measure and report, but never decide the rollout. Default: false.
    pub dry_run: Option<bool>,
    /// Requests needed before a builtin traffic metric judged on its window can pass or fail.
    /// Default: the analysis `minSample`.
    pub min_sample: Option<Spanned<Whole<u64>>>,
    /// The window a builtin metric is computed over. Default: the analysis `window`. Set on a
    /// threshold of `error_rate`, `success_rate` or a latency quantile, it judges each
    /// measurement's window on its own (Argo Rollouts' per-interval semantics, with
    /// `minSample`) instead of every request since the analysis began.
    pub window: Option<Spanned<DurationValue>>,
    /// Default: the analysis `confidence`.
    pub confidence: Option<Spanned<Percent>>,
}

/// A metric whose PromQL bellwether writes for the service's mesh or ingress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PresetConfig {
    /// The share of requests answered without a 5xx.
    RequestSuccessRate,
    /// A quantile of the requests' durations.
    RequestDuration,
}

/// What an inconclusive metric does to the rollout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum InconclusiveConfig {
    /// Pause for a person to promote or abort.
    Pause,
    /// Pass, saying it was inconclusive.
    Pass,
    /// Fail, and roll back.
    Fail,
}

/// How a metric's values are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum UnitConfig {
    /// A fraction shown as a percentage.
    Ratio,
    /// Seconds, shown as a duration.
    Seconds,
    PerSecond,
    Plain,
}

impl<'de> Deserialize<'de> for MetricConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MetricVisitor;

        impl<'de> Visitor<'de> for MetricVisitor {
            type Value = MetricConfig;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a threshold like `success_rate >= 99%` or a metric like {name: p95, query: …}",
                )
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Threshold::parse(v)
                    .map(MetricConfig::Compact)
                    .map_err(E::custom)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                FullMetricConfig::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|m| MetricConfig::Full(Box::new(m)))
            }
        }

        deserializer.deserialize_any(MetricVisitor)
    }
}

impl JsonSchema for MetricConfig {
    fn schema_name() -> Cow<'static, str> {
        "Metric".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [generator.subschema_for::<Threshold>(), generator.subschema_for::<FullMetricConfig>()]
        })
    }
}

/// Which of the service's analysis metrics to run, and whether its judge runs too.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AnalysisRefConfig {
    /// Metric names from the service's `analysis.metrics`. Default: all of them, or none beside
    /// the judge when `judge` is true or the suites when `verify` is given.
    #[serde(default)]
    pub metrics: Vec<Spanned<String>>,
    /// Run the service's canary-versus-baseline judge (its `analysis.judge`) too; its verdict
    /// counts like a metric's. Default: false.
    pub judge: Option<Spanned<bool>>,
    /// Suites from the project's `verify:` to run against the revision under analysis (the
    /// canary, a blue-green preview or the new active revision); each must pass.
    #[serde(default)]
    pub verify: Vec<Spanned<String>>,
    /// Synthetic requests sent through the router to the revision under analysis while this
    /// analysis runs, e.g. `{rate: 10, path: /}`: evidence for a revision with little or no
    /// traffic of its own, such as a blue-green preview. Default: none.
    pub traffic_generator: Option<Spanned<TrafficGeneratorConfig>>,
    /// Values for the arguments of the metrics it runs (`{name: service-name, value: api}`),
    /// over the defaults the service's `analysis.args` declares.
    #[serde(default)]
    pub args: Vec<Spanned<ArgConfig>>,
}

/// `GET path` at `rate` requests per second, to the canary (or the revision under analysis)
/// alone.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TrafficGeneratorConfig {
    /// Requests per second, above 0 and at most 100.
    pub rate: Option<Spanned<f64>>,
    /// The path requested. Default: `/`.
    pub path: Option<Spanned<String>>,
    /// Headers sent with every request.
    #[serde(default)]
    pub headers: Entries<String>,
}
