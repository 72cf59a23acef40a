//! A judged metric on every request since the judge began, for metrics whose provider counts
//! requests (error and success rates, Prometheus's counts form) or keeps a latency histogram
//! (latency quantiles): each revision's share or quantile with a confidence sequence at half
//! the risk, so that the two hold together at the judge's confidence. The comparison may then
//! be made at every interval, and a regression called as soon as it shows, without raising the
//! chance of calling one that is not there (see [`crate::sequential`]).
//!
//! A regression is the canary beyond `min_ratio` times the baseline *with confidence*: the low
//! end of the canary's interval above `min_ratio` times the high end of the baseline's (or, for
//! a decrease, the mirror). The effect-size guard is part of the test, not a point estimate
//! beside it.

use bellwether_core::spec::Unit;
use bellwether_core::time::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Classification, Direction, JudgedMetric, MetricJudgement};
use crate::sequential::{Latencies, Prior, Sequence, Tally};
use crate::value::{thousands, time_of_day};

/// One revision's share or quantile since the judge began, and its interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The observed share, or the observed quantile in seconds (0 without requests).
    pub value: f64,
    pub low: f64,
    /// `None` while unbounded: a quantile's interval before enough requests were slower.
    pub high: Option<f64>,
    pub requests: u64,
    /// For a share: the requests counted in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hits: Option<u64>,
}

/// Canary and baseline since the judge began, each at half the risk of `confidence`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub since: Timestamp,
    pub canary: Estimate,
    pub baseline: Estimate,
    pub confidence: f64,
}

impl Evidence {
    /// Two shares of requests (failed ones, say) counted since `since`.
    pub fn of_shares(since: Timestamp, canary: Tally, baseline: Tally, confidence: f64) -> Self {
        let half = half(confidence);
        let estimate = |t: Tally| {
            let interval = Sequence::new(t, Prior::jeffreys(), half).interval();
            Estimate {
                value: t.share().unwrap_or(0.0),
                low: interval.low,
                high: Some(interval.high),
                requests: t.total,
                hits: Some(t.hits),
            }
        };
        Self {
            since,
            canary: estimate(canary),
            baseline: estimate(baseline),
            confidence,
        }
    }

    /// A latency `quantile` (0.99 for p99) of two histograms counted since `since`, in seconds.
    pub fn of_quantiles(
        since: Timestamp,
        quantile: f64,
        canary: &Latencies,
        baseline: &Latencies,
        confidence: f64,
    ) -> Self {
        let half = half(confidence);
        let seconds = |micros: u64| micros as f64 / 1e6;
        let estimate = |l: &Latencies| {
            let (low, high) = l.quantile(quantile, half);
            Estimate {
                value: seconds(l.observed(quantile)),
                low: seconds(low),
                high: high.map(seconds),
                requests: l.total(),
                hits: None,
            }
        };
        Self {
            since,
            canary: estimate(canary),
            baseline: estimate(baseline),
            confidence,
        }
    }

    /// Whether the canary is beyond `min_ratio` times the baseline upwards (`High`) or below
    /// its `1 / min_ratio` downwards (`Low`), in a direction that counts; `Pass` otherwise.
    fn regression(&self, direction: Direction, min_ratio: f64) -> Classification {
        let (c, b) = (self.canary, self.baseline);
        let up = matches!(direction, Direction::Increase | Direction::Either);
        let down = matches!(direction, Direction::Decrease | Direction::Either);
        if up && b.high.is_some_and(|b_high| c.low > min_ratio * b_high) {
            Classification::High
        } else if down && c.high.is_some_and(|c_high| c_high * min_ratio < b.low) {
            Classification::Low
        } else {
            Classification::Pass
        }
    }

    /// `4.1% vs 0.5% (95% CIs 1.1%–10% and 0.4%–0.6%; canary 9 of 219, baseline 50 of 10,000
    /// requests since 12:03:04)`.
    pub fn statement(&self, unit: Unit) -> String {
        let bound = |v: Option<f64>| v.map_or_else(|| "?".to_owned(), |v| unit.format(v));
        let counts = |e: Estimate| match e.hits {
            Some(hits) => format!("{} of {}", thousands(hits), thousands(e.requests)),
            None => thousands(e.requests),
        };
        format!(
            "{} vs {} ({} CIs {}–{} and {}–{}; canary {}, baseline {} requests since {})",
            unit.format(self.canary.value),
            unit.format(self.baseline.value),
            Unit::Ratio.format(self.confidence),
            unit.format(self.canary.low),
            bound(self.canary.high),
            unit.format(self.baseline.low),
            bound(self.baseline.high),
            counts(self.canary),
            counts(self.baseline),
            time_of_day(self.since),
        )
    }
}

fn half(confidence: f64) -> f64 {
    1.0 - (1.0 - confidence) / 2.0
}

/// One metric judged on its evidence. A regression stands however few the requests (the
/// interval accounts for them); a pass needs `min_sample` requests on each side, and without
/// them the metric has no data.
pub(super) fn classify(
    spec: &JudgedMetric,
    evidence: &Evidence,
    points: (usize, usize),
) -> MetricJudgement {
    let (c, b) = (evidence.canary, evidence.baseline);
    let ratio = match (c.value, b.value) {
        (c, b) if b > 0.0 => c / b,
        (c, _) if c > 0.0 => f64::INFINITY,
        _ => 1.0,
    };
    let name = &spec.name;
    let stated = evidence.statement(spec.unit);
    let guard = Unit::Plain.format(spec.min_ratio);
    let classification = evidence.regression(spec.direction, spec.min_ratio);
    let short = [("canary", c), ("baseline", b)]
        .into_iter()
        .find(|(_, e)| e.requests < spec.min_sample.max(1));
    let (classification, message) = match (classification, short) {
        (Classification::High, _) => (
            Classification::High,
            format!("{name} is higher on the canary: {stated}, above {guard}× the baseline"),
        ),
        (Classification::Low, _) => (
            Classification::Low,
            format!("{name} is lower on the canary: {stated}, below the baseline / {guard}"),
        ),
        (_, Some((role, e))) => (
            Classification::NoData,
            format!(
                "{name} had too few {role} requests: {} since {} (at least {} needed)",
                thousands(e.requests),
                time_of_day(evidence.since),
                thousands(spec.min_sample)
            ),
        ),
        _ => (
            Classification::Pass,
            format!("{name} passes: {stated}, no regression beyond {guard}× shown"),
        ),
    };
    MetricJudgement {
        metric: spec.name.clone(),
        group: spec.group.clone(),
        critical: spec.critical,
        classification,
        canary_points: points.0,
        baseline_points: points.1,
        canary_mean: Some(c.value),
        baseline_mean: Some(b.value),
        ratio: Some(ratio),
        p_value: None,
        message,
        evidence: Some(*evidence),
    }
}
