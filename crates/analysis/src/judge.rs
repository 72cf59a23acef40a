//! The canary-versus-baseline judge, in the style of Kayenta (Netflix's automated canary
//! analysis): each metric's canary series is compared with the baseline's by the Mann-Whitney U
//! test, metrics are grouped and weighted into a 0–100 score, and the score decides. Pure.
//!
//! Kayenta's judge misses failures that only the canary has. It drops metrics where the
//! baseline has no data (a new error class has no baseline series at all); it removes outliers
//! by interquartile range, which on a mostly-zero series removes every non-zero point; and it
//! calls a difference significant only when the Hodges-Lehmann confidence interval excludes
//! zero, which it never does when most pairwise differences are zero. This judge keeps every
//! point, reads significance from the test's p-value in the harmful direction, treats a
//! baseline of zeros as an infinite ratio, and classifies a canary-only signal as a regression.

mod classify;
mod mann_whitney;
mod score;

use std::collections::BTreeMap;

use bellwether_core::rollout::Verdict;
use bellwether_core::spec::Unit;
use serde::{Deserialize, Serialize};

pub use bellwether_core::spec::Direction;
pub(crate) use classify::p_text;
pub use mann_whitney::{MannWhitney, mann_whitney};

/// How to judge: the metrics, their groups' weights and the score thresholds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JudgeConfig {
    /// Confidence for the test: 0.95 calls a difference significant at p < 0.05.
    pub confidence: f64,
    /// A score at or above this passes.
    pub pass_score: f64,
    /// A score at or above this (and below `pass_score`) is marginal: a person decides.
    pub marginal_score: f64,
    /// Group weights in percent. Groups not listed share what the listed ones leave.
    pub group_weights: BTreeMap<String, f64>,
    pub metrics: Vec<JudgedMetric>,
}

impl Default for JudgeConfig {
    fn default() -> Self {
        Self {
            confidence: 0.95,
            pass_score: 95.0,
            marginal_score: 75.0,
            group_weights: BTreeMap::new(),
            metrics: Vec::new(),
        }
    }
}

/// One metric's settings in the judge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JudgedMetric {
    pub name: String,
    pub direction: Direction,
    /// A regression of a critical metric fails the whole judgement, whatever the score.
    pub critical: bool,
    pub group: String,
    /// The effect-size guard: the canary's mean must differ from the baseline's by at least this
    /// ratio (1.1 is 10%) for a significant difference to count.
    pub min_ratio: f64,
    pub unit: Unit,
}

impl JudgedMetric {
    /// A metric where either direction is a regression, in the `default` group, with a 10% guard.
    pub fn new(name: impl Into<String>, unit: Unit) -> Self {
        Self {
            name: name.into(),
            direction: Direction::Either,
            critical: false,
            group: "default".to_owned(),
            min_ratio: 1.1,
            unit,
        }
    }
}

/// One metric's values over the analysis, one point per interval, for each revision.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub metric: String,
    pub canary: Vec<f64>,
    pub baseline: Vec<f64>,
}

/// What the judge made of one metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    Pass,
    /// Significantly higher on the canary, in a direction that counts.
    High,
    Low,
    NoData,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricJudgement {
    pub metric: String,
    pub group: String,
    pub critical: bool,
    pub classification: Classification,
    pub canary_points: usize,
    pub baseline_points: usize,
    pub canary_mean: Option<f64>,
    pub baseline_mean: Option<f64>,
    /// Canary mean over baseline mean; infinite when only the canary is above zero.
    pub ratio: Option<f64>,
    /// The p-value of the test in the direction that counts, when the test ran.
    pub p_value: Option<f64>,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupScore {
    pub group: String,
    pub weight: f64,
    /// Share of the group's metrics with data that passed, 0–100; `None` without data.
    pub score: Option<f64>,
}

/// The judge's answer: a score, the verdict it maps to, and every metric's classification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    /// 0–100; `None` when no metric had data on both sides.
    pub score: Option<f64>,
    pub verdict: Verdict,
    pub message: String,
    pub metrics: Vec<MetricJudgement>,
    pub groups: Vec<GroupScore>,
}

/// Judges the canary against the baseline. Series of metrics the config does not name are
/// judged with [`JudgedMetric::new`]'s defaults; metrics the config names without a series
/// have no data.
pub fn judge(config: &JudgeConfig, data: &[Series]) -> Judgement {
    let alpha = 1.0 - config.confidence;
    let mut specs: Vec<JudgedMetric> = config.metrics.clone();
    for s in data {
        if !specs.iter().any(|m| m.name == s.metric) {
            specs.push(JudgedMetric::new(&s.metric, Unit::Plain));
        }
    }
    let empty = Series::default();
    let metrics: Vec<MetricJudgement> = specs
        .iter()
        .map(|m| {
            let series = data.iter().find(|s| s.metric == m.name).unwrap_or(&empty);
            classify::classify(m, series, alpha)
        })
        .collect();
    score::summarise(config, metrics)
}

#[cfg(test)]
mod tests;
