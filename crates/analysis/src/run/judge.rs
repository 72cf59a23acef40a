//! The judge within a run, pure: at the end of every `interval` the engine samples each judged
//! metric for the canary and the baseline and hands the samples here; once every metric has
//! `count` points, [`judge`] compares the series and its judgement decides the judge's phase.
//!
//! - A point is a gap (kept as `None`, never judged) when the revision had no data, or fewer
//!   requests than the metric's minimum sample: a ratio over a handful of requests is noise.
//! - A provider error leaves no point for that interval, so the metric is sampled again at the
//!   next one; more than the metric's `consecutive_error_limit` errors in a row end the judge
//!   with an error, as they end a metric.

mod summary;

use std::time::Duration;

use bellwether_core::spec::{JudgeSpec, MetricSpec, ProviderSpec};
use bellwether_core::time::{Timestamp, human_duration};
use serde::{Deserialize, Serialize};

use super::Phase;
use crate::judge::{JudgeConfig, JudgedMetric, Judgement, Series, judge};
use crate::value::{Observation, Role};

/// What the judge measures and how it decides: the spec's settings, and the specs of the
/// service's metrics it judges.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JudgePlan {
    pub interval: Duration,
    pub count: u32,
    pub config: JudgeConfig,
    /// The judged metrics' specs, in `config.metrics`' order. A builtin metric's window is the
    /// interval, so that each point covers only the interval just ended.
    pub metrics: Vec<MetricSpec>,
}

impl JudgePlan {
    /// The plan for `spec`, given the service's specs of the metrics it judges, in its order.
    pub fn new(spec: &JudgeSpec, metrics: Vec<MetricSpec>) -> Self {
        let metrics: Vec<MetricSpec> = metrics
            .into_iter()
            .map(|mut m| {
                if let ProviderSpec::Builtin { window, .. } = &mut m.provider {
                    *window = spec.interval;
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
            })
            .collect();
        let mut run = Self {
            message: String::new(),
            phase: Phase::Running,
            series,
            intervals: 0,
            judgement: None,
            started_at,
            plan,
        };
        run.message = run.progress();
        run
    }

    /// At the end of the next interval, at a fixed rate from the start so that slow providers
    /// do not make the schedule drift; `None` once decided.
    pub(super) fn due_at(&self) -> Option<Timestamp> {
        let next = self.intervals.saturating_add(1);
        (self.phase == Phase::Running).then(|| {
            self.started_at
                .after(self.plan.interval.saturating_mul(next))
        })
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
    /// `count` points.
    pub(super) fn record(&mut self, samples: Vec<(usize, Sampled)>) {
        if self.phase != Phase::Running {
            return;
        }
        self.intervals = self.intervals.saturating_add(1);
        for (i, sample) in samples {
            let (Some(series), Some(spec)) = (self.series.get_mut(i), self.plan.metrics.get(i))
            else {
                continue;
            };
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
            self.decide();
        } else {
            self.message = self.progress();
        }
    }

    fn decide(&mut self) {
        let series: Vec<Series> = self
            .series
            .iter()
            .map(|s| Series {
                metric: s.metric.clone(),
                canary: s.canary.iter().flatten().copied().collect(),
                baseline: s.baseline.iter().flatten().copied().collect(),
            })
            .collect();
        let judgement = judge(&self.plan.config, &series);
        self.phase = Phase::of(judgement.verdict);
        self.message = summary::explain(&self.plan, &self.series, &judgement);
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
