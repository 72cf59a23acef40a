//! The canary-versus-baseline judge of a service, as written under its `analysis`.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::span::{Entries, Spanned};
use crate::values::{DurationValue, Percent, Whole};

/// The canary-versus-baseline judge, in the style of Kayenta: every `interval`, one sample of
/// each judged metric for the canary and one for the baseline. Error and success rates (and
/// Prometheus metrics in the counts form) and latency quantiles are judged on every request
/// since the judge began, with confidence sequences that may be read at each interval: a
/// critical metric shown to regress fails the judge at once. Other metrics are compared after
/// `count` samples by the Mann-Whitney U test. The metrics' groups make a 0–100 score: `pass`
/// or more passes, from `marginal` up pauses the rollout for a person, lower fails it, and so
/// does a regression of a `critical` metric. Analyses ask for it with `judge: true`, e.g. the
/// canary step `- analysis: {judge: true}`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JudgeConfig {
    /// Time between samples. A builtin metric's sample covers just that interval (the metric's
    /// `window` does not apply); a prometheus, web or job metric's is whatever its query or
    /// command measures. Default: 10s.
    pub interval: Option<Spanned<DurationValue>>,
    /// Samples of each metric, for each revision, before a passing verdict (a failing one may
    /// come sooner): at least 3, and 10 or more give the test the power to see a modest
    /// difference. Default: 12.
    pub count: Option<Spanned<Whole<u32>>>,
    /// Confidence of the tests, above 50% and below 100%: at 95%, a metric the same on both
    /// revisions is called a regression with probability at most 5%. Default: 95%.
    pub confidence: Option<Spanned<Percent>>,
    /// The score (0–100) at or above which the canary passes. Default: 95.
    #[schemars(range(min = 0, max = 100))]
    pub pass: Option<Spanned<Number>>,
    /// The score (0–100, at most `pass`) at or above which a canary short of `pass` pauses the
    /// rollout for a person; below it the canary fails. Default: 75.
    #[schemars(range(min = 0, max = 100))]
    pub marginal: Option<Spanned<Number>>,
    /// The weights of the metrics' groups in percent, e.g. `{errors: 60, latency: 40}`. Groups
    /// not listed share what the listed ones leave of 100%; when every group is listed, the
    /// weights sum to 100%. Default: every group weighs the same.
    pub groups: Option<Spanned<Entries<Percent>>>,
    /// The metrics to judge, at least one.
    #[serde(default)]
    pub metrics: Vec<Spanned<JudgedMetricConfig>>,
}

/// One metric in the judge.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JudgedMetricConfig {
    /// A metric of the service's `analysis.metrics`, by name. The judge measures it with the
    /// same provider, query and minimum sample (an interval with fewer requests is a gap, never
    /// judged), and ignores its conditions, schedule and limits.
    pub metric: Spanned<String>,
    /// Which change is a regression: `increase` (higher is worse: errors, latency), `decrease`
    /// (lower is worse: success rate, throughput) or `either`. Default: `either`.
    #[schemars(extend("enum" = ["increase", "decrease", "either"]))]
    pub direction: Option<Spanned<String>>,
    /// A regression of a critical metric fails the judgement whatever the score, and a critical
    /// metric without data keeps it from passing. Default: false.
    pub critical: Option<bool>,
    /// The group whose score and weight the metric shares. Default: `default`.
    pub group: Option<Spanned<String>>,
    /// The effect-size guard: a difference counts only when the canary's mean and the
    /// baseline's differ by at least this ratio (1.2 is 20%), and for a metric judged on every
    /// request only when the canary is beyond this ratio of the baseline with confidence; at
    /// least 1. Default: 1.1.
    #[schemars(range(min = 1))]
    pub min_ratio: Option<Spanned<Number>>,
}

/// A number as written, `95` or `1.2`, quoted or not; its range is checked by validation, which
/// knows what it is for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Number(pub f64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NumberVisitor;

        impl Visitor<'_> for NumberVisitor {
            type Value = Number;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number like 95 or 1.2")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Number(v as f64))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Number(v as f64))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Number(v))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite())
                    .map(Number)
                    .ok_or_else(|| {
                        E::custom(format!("`{v}` is not a number (expected e.g. 95 or 1.2)"))
                    })
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "`{v}` is not a number (expected e.g. 95 or 1.2)"
                )))
            }
        }

        deserializer.deserialize_any(NumberVisitor)
    }
}

impl JsonSchema for Number {
    fn schema_name() -> Cow<'static, str> {
        "Number".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "number" })
    }
}
