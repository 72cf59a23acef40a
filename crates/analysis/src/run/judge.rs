//! The judge within a run, pure: at the end of every `interval` the engine samples each judged
//! metric for the canary and the baseline and hands the samples here; once every metric has
//! `count` points, [`judge`] compares the series and its judgement decides the judge's phase.
//!
//! - The engine also samples once when the judge starts: that reading is the origin of the
//!   metrics whose provider counts requests or keeps a latency histogram, which are judged on
//!   everything since (their [`Evidence`]) rather than on points; at every interval they may
//!   fail the judge early ([`early`]).
//! - A point is a gap (kept as `None`, never judged) when the revision had no data, or fewer
//!   requests than the metric's minimum sample: a ratio over a handful of requests is noise.
//! - A provider error leaves no point for that interval, so the metric is sampled again at the
//!   next one; more than the metric's `consecutive_error_limit` errors in a row end the judge
//!   with an error, as they end a metric.

mod summary;

use std::time::Duration;

use bellwether_core::spec::{BuiltinMetric, JudgeSpec, MetricSpec, ProviderSpec};
use bellwether_core::time::{Timestamp, human_duration};
use serde::{Deserialize, Serialize};

use super::Phase;
use crate::judge::{Evidence, JudgeConfig, JudgedMetric, Judgement, Series, early, judge};
use crate::measurement::Origin;
use crate::value::{Observation, Role};

/// What the judge measures and how it decides: the spec's settings, and the specs of the
/// service's metrics it judges.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JudgePlan {
    pub interval: Duration,
    pub count: u32,
    pub config: JudgeConfig,
    /// The judged metrics' specs, in `config.metrics`' order. A builtin metric's window is the
    /// interval, so that each point covers only the interval just ended, and a latency reads
    /// the router's histogram rather than the share slower than a threshold.
    pub metrics: Vec<MetricSpec>,
}

impl JudgePlan {
    /// The plan for `spec`, given the service's specs of the metrics it judges, in its order.
    pub fn new(spec: &JudgeSpec, metrics: Vec<MetricSpec>) -> Self {
        let metrics: Vec<MetricSpec> = metrics
            .into_iter()
            .map(|mut m| {
                if let ProviderSpec::Builtin {
                    window,
                    slower_than,
                    ..
                } = &mut m.provider
                {
                    *window = spec.interval;
                    *slower_than = None;
                }
                m
            })
            .collect();
        let judged = spec
            .metrics
            .iter()
            .zip(&metrics)
            .map(|(j, m)| JudgedMetric {
                name: j.metric.clone(),
                direction: j.direction,
                critical: j.critical,
                group: j.group.clone(),
                min_ratio: j.min_ratio,
                unit: m.unit,
                min_sample: m.min_sample,
            })
            .collect();
        Self {
            interval: spec.interval,
            count: spec.count,
            config: JudgeConfig {
                confidence: spec.confidence,
                pass_score: spec.pass_score,
                marginal_score: spec.marginal_score,
                group_weights: spec.group_weights.clone(),
                metrics: judged,
            },
            metrics,
        }
    }
}

/// One judged metric's sample of one interval, as the engine observed it.
#[derive(Clone, Debug, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "observed is the common case, and each sample is moved once into the run"
)]
pub enum Sampled {
    Observed {
        canary: Observation,
        baseline: Observation,
    },
    /// The provider failed for `role`; the interval leaves no point.
    Failed { role: Role, error: String },
}

/// One judged metric's points so far.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JudgedSeries {
    pub metric: String,
    /// One point per interval; `None` where the canary had no data or too few requests.
    pub canary: Vec<Option<f64>>,
    /// The baseline's points, interval by interval with the canary's.
    pub baseline: Vec<Option<f64>>,
    pub errors: u32,
    pub consecutive_errors: u32,
    /// The provider's counts when the judge began, for a metric judged on its evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// Everything since the origin, as of the last interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

/// The judge of one run: its series, its phase and, once decided, its judgement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JudgeRun {
    pub plan: JudgePlan,
    pub phase: Phase,
    /// Progress while running; then why the judge decided as it did.
    pub message: String,
    pub series: Vec<JudgedSeries>,
    /// Intervals sampled so far.
    pub intervals: u32,
    /// The judge's answer, once every metric has `count` points: the record the dashboard
    /// shows, every metric's classification and numbers included.
    pub judgement: Option<Judgement>,
    started_at: Timestamp,
    /// Whether the opening sample, the origin of the evidence, was taken.
    #[serde(default)]
    opened: bool,
}

impl JudgeRun {
    pub(super) fn new(plan: JudgePlan, started_at: Timestamp) -> Self {
        let series = plan
            .metrics
            .iter()
            .map(|m| JudgedSeries {
                metric: m.name.clone(),
                canary: Vec::new(),
                baseline: Vec::new(),
                errors: 0,
                consecutive_errors: 0,
                origin: None,
                evidence: None,
            })
            .collect();
        let mut run = Self {
            message: String::new(),
            phase: Phase::Running,
            series,
            intervals: 0,
            judgement: None,
            started_at,
            opened: false,
            plan,
        };
        run.message = run.progress();
        run
    }

    /// At once for the opening sample, then at the end of the next interval, at a fixed rate
    /// from the start so that slow providers do not make the schedule drift; `None` once
    /// decided.
    pub(super) fn due_at(&self) -> Option<Timestamp> {
        (self.phase == Phase::Running).then(|| match self.opened {
            false => self.started_at,
            true => self.interval_end(self.intervals.saturating_add(1)),
        })
    }

    fn interval_end(&self, n: u32) -> Timestamp {
        self.started_at.after(self.plan.interval.saturating_mul(n))
    }

    /// The metrics that still need points, as indices into the plan; empty once decided.
    pub fn wanted(&self) -> Vec<usize> {
        if self.phase != Phase::Running {
            return Vec::new();
        }
        let count = usize::try_from(self.plan.count).unwrap_or(usize::MAX);
        (0..self.series.len())
            .filter(|&i| self.series[i].canary.len() < count)
            .collect()
    }

    /// Folds in one interval's samples, by metric index, and judges once every metric has its
    /// `count` points, or earlier when the evidence already fails the canary. The opening
    /// sample only sets origins: an error there leaves the origin to the next interval's.
    pub(super) fn record(&mut self, samples: Vec<(usize, Sampled)>) {
        if self.phase != Phase::Running {
            return;
        }
        if !self.opened {
            self.opened = true;
            for (i, sample) in samples {
                if let (Some(series), Sampled::Observed { canary, baseline }) =
                    (self.series.get_mut(i), sample)
                {
                    series.origin = origin(self.started_at, &canary, &baseline);
                }
            }
            return;
        }
        self.intervals = self.intervals.saturating_add(1);
        let at = self.interval_end(self.intervals);
        let confidence = self.plan.config.confidence;
        for (i, sample) in samples {
            let (Some(series), Some(spec)) = (self.series.get_mut(i), self.plan.metrics.get(i))
            else {
                continue;
            };
            if let Sampled::Observed { canary, baseline } = &sample {
                series.evidence =
                    evidence(spec, &mut series.origin, at, canary, baseline, confidence);
            }
            let points = match sample {
                Sampled::Observed { canary, baseline } => point(spec, Role::Canary, &canary)
                    .and_then(|c| Ok((c, point(spec, Role::Baseline, &baseline)?))),
                Sampled::Failed { role, error } => Err((role, error)),
            };
            match points {
                Ok((c, b)) => {
                    series.consecutive_errors = 0;
                    series.canary.push(c);
                    series.baseline.push(b);
                }
                Err((role, error)) => {
                    series.errors += 1;
                    series.consecutive_errors += 1;
                    let n = series.consecutive_errors;
                    let limit = spec.consecutive_error_limit;
                    if n > limit && self.phase == Phase::Running {
                        let errors = if n == 1 { "error" } else { "errors" };
                        self.phase = Phase::Error;
                        self.message = format!(
                            "judge: {}: measuring the {role} failed: {error} ({n} {errors} in a row, more than the {limit} tolerated)",
                            spec.name
                        );
                    }
                }
            }
        }
        if self.phase != Phase::Running {
            return;
        }
        if self.wanted().is_empty() {
            let judgement = judge(&self.plan.config, &self.judged());
            self.decide(judgement, None);
        } else if let Some(judgement) = early(&self.plan.config, &self.judged()) {
            self.decide(judgement, Some(self.intervals));
        } else {
            self.message = self.progress();
        }
    }

    /// What the judge compares: the points without their gaps, and the evidence.
    fn judged(&self) -> Vec<Series> {
        self.series
            .iter()
            .map(|s| Series {
                metric: s.metric.clone(),
                canary: s.canary.iter().flatten().copied().collect(),
                baseline: s.baseline.iter().flatten().copied().collect(),
                evidence: s.evidence,
            })
            .collect()
    }

    /// Ends the judge with `judgement`, reached after `early` intervals when before the last.
    fn decide(&mut self, judgement: Judgement, early: Option<u32>) {
        self.phase = Phase::of(judgement.verdict);
        self.message = summary::explain(&self.plan, &self.series, &judgement, early);
        self.judgement = Some(judgement);
    }

    /// Asked for a verdict before its `count` intervals were sampled: inconclusive.
    pub(super) fn conclude(&mut self) {
        if self.phase == Phase::Running {
            self.phase = Phase::Inconclusive;
            self.message = format!(
                "{} when the canary's steps ended (it decides after {})",
                self.progress(),
                self.plan.count
            );
        }
    }

    fn progress(&self) -> String {
        format!(
            "judge: {} of {} intervals of {} sampled",
            self.intervals,
            self.plan.count,
            human_duration(self.plan.interval)
        )
    }
}

/// The origin of a metric's evidence: both revisions' counts, or for a latency both
/// histograms; `None` when the provider gives neither.
fn origin(at: Timestamp, canary: &Observation, baseline: &Observation) -> Option<Origin> {
    let latencies = canary.latencies.clone().zip(baseline.latencies.clone());
    match (canary.tally, baseline.tally) {
        (Some(c), Some(b)) => Some(Origin {
            at,
            canary: c,
            baseline: Some(b),
            latencies: None,
        }),
        _ => latencies.is_some().then(|| Origin {
            at,
            canary: Default::default(),
            baseline: None,
            latencies,
        }),
    }
}

/// A metric's evidence since its origin (set now, from these readings, when it has none yet):
/// `None` when the provider gives neither counts nor histograms.
fn evidence(
    spec: &MetricSpec,
    origin_slot: &mut Option<Origin>,
    at: Timestamp,
    canary: &Observation,
    baseline: &Observation,
    confidence: f64,
) -> Option<Evidence> {
    if origin_slot.is_none() {
        *origin_slot = origin(at, canary, baseline);
    }
    let o = origin_slot.as_ref()?;
    if let (Some(c), Some(b), Some(first)) = (canary.tally, baseline.tally, o.baseline) {
        let (c, b) = (c.since(o.canary), b.since(first));
        return Some(Evidence::of_shares(o.at, c, b, confidence));
    }
    let ProviderSpec::Builtin {
        metric: BuiltinMetric::Latency { permille },
        ..
    } = spec.provider
    else {
        return None;
    };
    let (c, b) = (canary.latencies.as_ref()?, baseline.latencies.as_ref()?);
    let (first_c, first_b) = o.latencies.as_ref()?;
    let quantile = f64::from(permille) / 1000.0;
    let (c, b) = (c.since(first_c), b.since(first_b));
    Some(Evidence::of_quantiles(o.at, quantile, &c, &b, confidence))
}

/// One revision's point for one interval: `None` without data or with too few requests; an
/// error for a value the test cannot rank.
fn point(spec: &MetricSpec, role: Role, obs: &Observation) -> Result<Option<f64>, (Role, String)> {
    let Some(value) = &obs.value else {
        return Ok(None);
    };
    let Some(n) = value.as_number() else {
        let shown = value.display(spec.unit);
        return Err((
            role,
            format!("the judge compares numbers, and {shown} is not one"),
        ));
    };
    let short = obs.sample.is_some_and(|s| s.requests < spec.min_sample);
    Ok((n.is_finite() && !short).then_some(n))
}

#[cfg(test)]
mod tests;
