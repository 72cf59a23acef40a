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
//!
//! Mann-Whitney over one point per interval is a fixed-sample test: it decides once, after the
//! last interval. A metric whose provider counts requests, or keeps a latency histogram, is
//! judged instead on every request since the judge began with confidence sequences
//! ([`evidence`]), which may be read at every interval: a regression shown there fails the
//! judge before its last interval when it is critical, or when the score can no longer reach
//! the marginal score ([`early`]).

mod classify;
mod evidence;
mod mann_whitney;
mod score;

use std::collections::BTreeMap;

use bellwether_core::rollout::Verdict;
use bellwether_core::spec::Unit;
use serde::{Deserialize, Serialize};

pub use bellwether_core::spec::Direction;
pub(crate) use classify::p_text;
pub use evidence::{Estimate, Evidence};
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
    /// Judged on its evidence, a metric passes only with at least this many requests on each
    /// side since the judge began.
    #[serde(default)]
    pub min_sample: u64,
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
            min_sample: 0,
        }
    }
}

/// One metric's values over the analysis, one point per interval, for each revision, and its
/// evidence since the judge began when the provider counts requests.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub metric: String,
    pub canary: Vec<f64>,
    pub baseline: Vec<f64>,
    /// When present, the metric is judged on it rather than on the points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
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
    /// Not judged yet when the judge failed before its last interval; counted as passing, so
    /// that the failure holds whatever it would have been.
    Undecided,
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
    /// For a metric judged on every request since the judge began: both revisions' intervals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
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
    let metrics = specs(config, data)
        .iter()
        .map(|(m, series)| match &series.evidence {
            Some(e) => evidence::classify(m, e, (series.canary.len(), series.baseline.len())),
            None => classify::classify(m, series, alpha),
        })
        .collect();
    score::summarise(config, metrics)
}

/// The judgement before the last interval, when the evidence so far already fails the canary:
/// a critical metric regressed, or the score stays below the marginal score even if every
/// metric not yet shown to regress passes. `None` while the judge must go on.
pub fn early(config: &JudgeConfig, data: &[Series]) -> Option<Judgement> {
    let metrics = specs(config, data)
        .iter()
        .map(|(m, series)| {
            let points = (series.canary.len(), series.baseline.len());
            let mut j = match &series.evidence {
                Some(e) => evidence::classify(m, e, points),
                None => classify::undecided(m, points),
            };
            if !matches!(j.classification, Classification::High | Classification::Low) {
                j.classification = Classification::Undecided;
            }
            j
        })
        .collect();
    Some(score::summarise(config, metrics)).filter(|j| j.verdict == Verdict::Failed)
}

/// Every metric's settings with its series: the config's, then unnamed series' with defaults.
fn specs<'a>(config: &JudgeConfig, data: &'a [Series]) -> Vec<(JudgedMetric, &'a Series)> {
    static EMPTY: Series = Series {
        metric: String::new(),
        canary: Vec::new(),
        baseline: Vec::new(),
        evidence: None,
    };
    let mut specs: Vec<JudgedMetric> = config.metrics.clone();
    for s in data {
        if !specs.iter().any(|m| m.name == s.metric) {
            specs.push(JudgedMetric::new(&s.metric, Unit::Plain));
        }
    }
    specs
        .into_iter()
        .map(|m| {
            let series = data.iter().find(|s| s.metric == m.name).unwrap_or(&EMPTY);
            (m, series)
        })
        .collect()
}

#[cfg(test)]
mod tests;
