//! The semantics of an analysis run, pure: measurements go in, the phase of each metric and of
//! the run come out, and the run says when each metric is next due. Time is data: the caller
//! passes the instants.
//!
//! The rules, each covered by a table in `run/tests.rs`:
//! - A metric is first measured `initial_delay` after the run starts, then every `interval`.
//! - `count` measurements end a metric; provider errors are retried and do not count. In a
//!   blocking run (an analysis step, pre- or post-promotion analysis) a metric without `count`
//!   takes one measurement, so the step ends; in a background run it measures until stopped.
//! - More than `failure_limit` failed measurements fail the metric; more than
//!   `inconclusive_limit` inconclusive ones make it inconclusive; more than
//!   `consecutive_error_limit` errors in a row make it an error.
//! - A measurement with no data, or with fewer requests than `min_sample`, is inconclusive and
//!   waits: it never counts against the inconclusive limit. A metric that ends its `count`
//!   without a single judged measurement is inconclusive, and its message says why.
//! - Dry-run metrics are measured and reported but never decide: the run neither waits for
//!   them nor takes their phase.
//! - The run ends as soon as a deciding metric fails, errs or is inconclusive, with the worst of
//!   their phases (failed, then error, then inconclusive); it succeeds when every deciding
//!   metric has succeeded.

mod metric;

use bellwether_core::rollout::{RunKind, Verdict};
use bellwether_core::spec::MetricSpec;
use bellwether_core::time::Timestamp;
use serde::{Deserialize, Serialize};

use crate::measurement::Measurement;

pub use metric::{Counts, MetricRun};

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

    /// Finished without success: ends the run.
    fn is_bad(self) -> bool {
        matches!(self, Phase::Inconclusive | Phase::Error | Phase::Failed)
    }
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
            RunKind::Step(_) | RunKind::PrePromotion | RunKind::PostPromotion => Mode::Blocking,
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
}

impl Run {
    pub fn new(metrics: Vec<MetricSpec>, mode: Mode, started_at: Timestamp) -> Self {
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
        };
        run.assess();
        run
    }

    /// When metric `index` should next be measured; `None` once it or the run has finished.
    pub fn due_at(&self, index: usize) -> Option<Timestamp> {
        if self.phase != Phase::Running {
            return None;
        }
        self.metrics.get(index)?.due_at()
    }

    /// The earliest instant any metric is due.
    pub fn next_due(&self) -> Option<Timestamp> {
        (0..self.metrics.len()).filter_map(|i| self.due_at(i)).min()
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

    pub fn verdict(&self) -> Option<Verdict> {
        self.phase.verdict()
    }

    fn assess(&mut self) {
        let deciding: Vec<&MetricRun> = self.metrics.iter().filter(|m| !m.spec.dry_run).collect();
        let worst = deciding
            .iter()
            .map(|m| m.phase)
            .filter(|p| p.is_bad())
            .max_by_key(|p| *p as u8);
        if let Some(worst) = worst {
            self.phase = worst;
            self.message = join(deciding.iter().filter(|m| m.phase == worst));
            return;
        }
        let all_done = |ms: &[&MetricRun]| ms.iter().all(|m| m.phase != Phase::Running);
        if deciding.is_empty() {
            let all: Vec<&MetricRun> = self.metrics.iter().collect();
            if all_done(&all) {
                self.phase = Phase::Successful;
                self.message = if all.is_empty() {
                    "no metrics to measure".to_owned()
                } else {
                    format!(
                        "only dry-run metrics, which never decide: {}",
                        join(all.iter())
                    )
                };
            }
            return;
        }
        if all_done(&deciding) {
            self.phase = Phase::Successful;
            self.message = join(deciding.iter());
        }
    }
}

fn join<'a>(metrics: impl Iterator<Item = &'a &'a MetricRun>) -> String {
    metrics
        .map(|m| m.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests;
