//! The semantics of an analysis run, pure: measurements go in, the phase of each metric and of
//! the run come out, and the run says when each metric is next due. Time is data: the caller
//! passes the instants.
//!
//! The rules, each covered by a table in `run/tests.rs`:
//! - A metric is first measured `initial_delay` after the run starts, then every `interval`.
//! - `count` measurements end a metric; provider errors are retried and do not count. In a
//!   blocking run (an analysis step, pre- or post-promotion analysis) a metric without `count`
//!   measures until it has one judged measurement, so the step ends once the canary has its
//!   minimum sample; after [`BLOCKING_WAIT`] without one it is inconclusive, and its message
//!   says how long it waited and how many requests it saw. In a background run a metric
//!   without `count` measures until stopped.
//! - More than `failure_limit` failed measurements fail the metric; more than
//!   `inconclusive_limit` inconclusive ones make it inconclusive; more than
//!   `consecutive_error_limit` errors in a row make it an error.
//! - A measurement with no data, or with fewer requests than `min_sample`, is inconclusive and
//!   waits: it never counts against the inconclusive limit. A metric that ends its `count`
//!   without a single judged measurement is inconclusive, and its message says why.
//! - Dry-run metrics are measured and reported but never decide: the run neither waits for
//!   them nor takes their phase.
//! - The judge, when the analysis asks for it, samples each judged metric for the canary and
//!   the baseline at the end of every interval; after `count` points of every metric its
//!   judgement decides (pass, marginal, fail become successful, inconclusive, failed). Gaps
//!   and errors follow the rules in `run/judge.rs`. It always decides, like a metric.
//! - A metric judged on all the evidence ([`Evidence::Cumulative`]) counts requests from its
//!   first measurement and decides by a confidence sequence: failed once the interval lies
//!   beyond the threshold, passed once it lies within, waiting (like a short sample) while it
//!   straddles. A metric that ends inconclusive follows its `inconclusive` setting: the run is
//!   inconclusive (the rollout pauses), or the metric passes or fails saying why.
//! - A background metric without `count` whose latest measurement waits may be parked
//!   ([`Run::park`]) until its provider has new data: it is not due meanwhile, and when
//!   resumed ([`Run::resume`]) it is due at once and then every `interval`. Measuring it
//!   again before would only count the same nothing; a metric that ends by its `count` or by
//!   how long it waited is never parked.
//! - [`Run::conclude`] asks a background run for its verdict when a canary's steps are done:
//!   metrics whose latest measurement passed pass, the others measure on as in a blocking run
//!   (until one measurement is judged, inconclusive after [`BLOCKING_WAIT`] without one).
//! - The run ends as soon as a deciding metric or the judge fails, errs or is inconclusive,
//!   with the worst of their phases (failed, then error, then inconclusive); it succeeds when
//!   every deciding metric and the judge have succeeded.

mod judge;
mod metric;

use std::sync::Arc;

use bellwether_core::rollout::{RunKind, Verdict};
#[cfg(doc)]
use bellwether_core::spec::Evidence;
use bellwether_core::spec::MetricSpec;
use bellwether_core::time::Timestamp;
use serde::{Deserialize, Serialize};

use crate::condition::Conditions;
use crate::measurement::Measurement;
use crate::value::{Observation, Role};

pub use judge::{JudgePlan, JudgeRun, JudgedSeries, Sampled};
pub use metric::{BLOCKING_WAIT, Counts, End, KEPT, MetricRun};

/// The phase of a metric or of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Running,
    Successful,
    Inconclusive,
    Error,
    Failed,
}

impl Phase {
    /// The verdict of a finished phase; `None` while running.
    pub fn verdict(self) -> Option<Verdict> {
        match self {
            Phase::Running => None,
            Phase::Successful => Some(Verdict::Successful),
            Phase::Inconclusive => Some(Verdict::Inconclusive),
            Phase::Error => Some(Verdict::Error),
            Phase::Failed => Some(Verdict::Failed),
        }
    }

    /// The phase a verdict ends in.
    pub fn of(verdict: Verdict) -> Self {
        match verdict {
            Verdict::Successful => Phase::Successful,
            Verdict::Inconclusive => Phase::Inconclusive,
            Verdict::Error => Phase::Error,
            Verdict::Failed => Phase::Failed,
        }
    }

    /// Finished without success: ends the run.
    fn is_bad(self) -> bool {
        matches!(self, Phase::Inconclusive | Phase::Error | Phase::Failed)
    }
}

/// What the providers answered for one measurement of a metric.
#[derive(Clone, Debug, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "answered is the common case, and each answer is moved once into the run"
)]
pub enum Observed {
    /// The canary's observation, and the baseline's when the conditions compare with it.
    Answered {
        canary: Observation,
        baseline: Option<Observation>,
    },
    /// A provider failed for one of the revisions: an error, retried at the next interval.
    Failed { role: Role, error: String },
}

/// Whether the rollout waits for the run's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Runs beside the canary steps until stopped; reports only a verdict that ends it.
    Background,
    /// An analysis step or a pre/post-promotion analysis: the rollout waits, so it must end.
    Blocking,
}

impl Mode {
    pub fn of(kind: RunKind) -> Self {
        match kind {
            RunKind::Background => Mode::Background,
            RunKind::Step(_)
            | RunKind::PrePromotion
            | RunKind::PostPromotion
            | RunKind::PostRollback => Mode::Blocking,
        }
    }
}

/// One analysis run: its metrics, their measurements, and its phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub mode: Mode,
    pub started_at: Timestamp,
    pub phase: Phase,
    /// Why the run is in its phase: the deciding metrics' messages.
    pub message: String,
    pub metrics: Vec<MetricRun>,
    /// The canary-versus-baseline judge, when the analysis asks for it.
    pub judge: Option<JudgeRun>,
}

impl Run {
    pub fn new(metrics: Vec<MetricSpec>, mode: Mode, started_at: Timestamp) -> Self {
        Self::shared(
            metrics.into_iter().map(Arc::new).collect(),
            mode,
            started_at,
        )
    }

    /// A run of specs shared with the caller, who measures them.
    pub fn shared(metrics: Vec<Arc<MetricSpec>>, mode: Mode, started_at: Timestamp) -> Self {
        let metrics = metrics
            .into_iter()
            .map(|spec| MetricRun::new(spec, mode, started_at))
            .collect();
        let mut run = Self {
            mode,
            started_at,
            phase: Phase::Running,
            message: String::new(),
            metrics,
            judge: None,
        };
        run.assess();
        run
    }

    /// The run with the judge of `plan` deciding beside its metrics.
    pub fn with_judge(mut self, plan: JudgePlan) -> Self {
        self.judge = Some(JudgeRun::new(plan, self.started_at));
        // A run of no metrics was successful at once; with the judge it waits for it.
        self.phase = Phase::Running;
        self.message.clear();
        self.assess();
        self
    }

    /// When metric `index` should next be measured; `None` once it or the run has finished.
    pub fn due_at(&self, index: usize) -> Option<Timestamp> {
        if self.phase != Phase::Running {
            return None;
        }
        self.metrics.get(index)?.due_at()
    }

    /// Whether metric `index` is parked by its next measurement if that one waits for data
    /// (see [`Run::park`]): the engine then takes the provider's change before measuring.
    pub fn may_park(&self, index: usize) -> bool {
        self.phase == Phase::Running && self.metrics.get(index).is_some_and(MetricRun::may_park)
    }

    /// Lets metric `index` wait for its provider to have new data instead of measuring every
    /// interval, when it is a background metric without `count` whose latest measurement
    /// found too little data to judge: measuring it again before then would only count the
    /// same nothing. Whether it now waits; [`Run::resume`] ends the wait.
    pub fn park(&mut self, index: usize) -> bool {
        self.phase == Phase::Running && self.metrics.get_mut(index).is_some_and(MetricRun::park)
    }

    /// Ends metric `index`'s wait for news: it is due at `now`, then every interval.
    pub fn resume(&mut self, index: usize, now: Timestamp) {
        if let Some(metric) = self.metrics.get_mut(index) {
            metric.resume(now);
        }
    }

    /// When the judge should next sample; `None` without a judge, or once it or the run has
    /// finished.
    pub fn judge_due_at(&self) -> Option<Timestamp> {
        if self.phase != Phase::Running {
            return None;
        }
        self.judge.as_ref()?.due_at()
    }

    /// The earliest instant any metric, or the judge, is due.
    pub fn next_due(&self) -> Option<Timestamp> {
        (0..self.metrics.len())
            .filter_map(|i| self.due_at(i))
            .chain(self.judge_due_at())
            .min()
    }

    /// Folds a measurement of metric `index` into the run. Measurements that arrive after the
    /// metric or the run finished are ignored.
    pub fn record(&mut self, index: usize, measurement: Measurement) {
        if self.phase != Phase::Running {
            return;
        }
        if let Some(metric) = self.metrics.get_mut(index) {
            metric.record(measurement);
            self.assess();
        }
    }

    /// Judges what the providers answered for metric `index` (with its compiled `conditions`)
    /// and folds the measurement in; returns it for reporting, `None` for an unknown index.
    pub fn observe(
        &mut self,
        index: usize,
        conditions: &Conditions,
        at: Timestamp,
        observed: Observed,
    ) -> Option<Measurement> {
        let measurement = self
            .metrics
            .get_mut(index)?
            .assess(conditions, at, observed);
        self.record(index, measurement.clone());
        Some(measurement)
    }

    /// Asks a background run for its verdict when a canary's steps are done (at `now`): every
    /// deciding metric whose latest measurement passed has passed; the others go on until one
    /// measurement is judged, as in a blocking run, and are inconclusive after
    /// [`BLOCKING_WAIT`] without one (which their `inconclusive` setting may turn into a pass
    /// or a failure); a judge still collecting is inconclusive. A run of dry-run metrics only,
    /// which decide nothing, passes.
    pub fn conclude(&mut self, now: Timestamp) {
        if self.phase != Phase::Running {
            return;
        }
        for metric in self.metrics.iter_mut().filter(|m| !m.spec.dry_run) {
            metric.conclude(now);
        }
        if let Some(judge) = &mut self.judge {
            judge.conclude();
        }
        self.assess();
        let deciding = self.judge.is_some() || self.metrics.iter().any(|m| !m.spec.dry_run);
        if self.phase == Phase::Running && !deciding {
            self.phase = Phase::Successful;
            self.message = "only dry-run metrics, which never decide".to_owned();
        }
    }

    /// Folds one interval's judge samples into the run; ignored once the run has finished.
    pub fn record_judge(&mut self, samples: Vec<(usize, Sampled)>) {
        if self.phase != Phase::Running {
            return;
        }
        if let Some(judge) = &mut self.judge {
            judge.record(samples);
            self.assess();
        }
    }

    pub fn verdict(&self) -> Option<Verdict> {
        self.phase.verdict()
    }

    /// The deciding parts: every metric that is not a dry run, and the judge.
    fn deciding(&self) -> impl Iterator<Item = (Phase, &str)> {
        self.metrics
            .iter()
            .filter(|m| !m.spec.dry_run)
            .map(|m| (m.phase, m.message.as_str()))
            .chain(self.judge.iter().map(|j| (j.phase, j.message.as_str())))
    }

    /// Runs after every measurement of every run, so it allocates only when the phase changes.
    fn assess(&mut self) {
        let worst = self
            .deciding()
            .map(|(p, _)| p)
            .filter(|p| p.is_bad())
            .max_by_key(|p| *p as u8);
        if let Some(worst) = worst {
            self.message = join(self.deciding().filter(|(p, _)| *p == worst));
            self.phase = worst;
            return;
        }
        let done = |(p, _): (Phase, &str)| p != Phase::Running;
        if self.deciding().next().is_none() {
            let all: Vec<(Phase, &str)> = self
                .metrics
                .iter()
                .map(|m| (m.phase, m.message.as_str()))
                .collect();
            if all.iter().copied().all(done) {
                let message = if all.is_empty() {
                    "no metrics to measure".to_owned()
                } else {
                    format!(
                        "only dry-run metrics, which never decide: {}",
                        join(all.iter().copied())
                    )
                };
                self.phase = Phase::Successful;
                self.message = message;
            }
            return;
        }
        if self.deciding().all(done) {
            self.message = join(self.deciding());
            self.phase = Phase::Successful;
        }
    }
}

fn join<'a>(parts: impl Iterator<Item = (Phase, &'a str)>) -> String {
    parts.map(|(_, m)| m).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests;
