//! One metric within a run: its counters, its recent measurements, and its phase.

use bellwether_core::rollout::Verdict;
use bellwether_core::spec::MetricSpec;
use bellwether_core::time::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Mode, Phase};
use crate::measurement::Measurement;

/// How many measurements a metric keeps in memory; every measurement is also reported as it is
/// taken, so a long background run keeps its counters exact without growing without bound.
const KEPT: usize = 1_000;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricRun {
    pub spec: MetricSpec,
    pub phase: Phase,
    /// Why the metric is in its phase; the latest measurement's message while running.
    pub message: String,
    /// How many measurements end the metric: the spec's `count`, or one in a blocking run.
    pub count: Option<u32>,
    pub counts: Counts,
    /// The latest measurements, oldest first (at most 1,000; `counts` covers all of them).
    pub measurements: Vec<Measurement>,
    first_at: Timestamp,
}

/// Every measurement a metric took, by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Measurements that count towards `count`: all but errors.
    pub taken: u32,
    pub successful: u32,
    pub failed: u32,
    /// Judged inconclusive: the value satisfied neither condition.
    pub inconclusive: u32,
    /// Inconclusive for want of data or requests.
    pub waiting: u32,
    pub errors: u32,
    pub consecutive_errors: u32,
}

impl MetricRun {
    pub(super) fn new(spec: MetricSpec, mode: Mode, started_at: Timestamp) -> Self {
        let count = match (spec.count, mode) {
            (Some(n), _) => Some(n),
            (None, Mode::Blocking) => Some(1),
            (None, Mode::Background) => None,
        };
        Self {
            first_at: started_at.after(spec.initial_delay),
            spec,
            phase: Phase::Running,
            message: String::new(),
            count,
            counts: Counts::default(),
            measurements: Vec::new(),
        }
    }

    /// Scheduled at a fixed rate from the first measurement, so that slow measurements do not
    /// make the schedule drift; one that overran is due at once.
    pub(super) fn due_at(&self) -> Option<Timestamp> {
        if self.phase != Phase::Running {
            return None;
        }
        let attempts = self.counts.taken.saturating_add(self.counts.errors);
        let offset = self.spec.interval.saturating_mul(attempts);
        Some(self.first_at.after(offset))
    }

    pub(super) fn record(&mut self, m: Measurement) {
        if self.phase != Phase::Running {
            return;
        }
        let spec = &self.spec;
        let c = &mut self.counts;
        self.message = m.message.clone();
        if m.verdict == Verdict::Error {
            c.errors += 1;
            c.consecutive_errors += 1;
            if c.consecutive_errors > spec.consecutive_error_limit {
                self.phase = Phase::Error;
                let errors = if c.consecutive_errors == 1 {
                    "error"
                } else {
                    "errors"
                };
                self.message = format!(
                    "{} ({} {errors} in a row, more than the {} tolerated)",
                    m.message, c.consecutive_errors, spec.consecutive_error_limit
                );
            }
        } else {
            c.consecutive_errors = 0;
            c.taken += 1;
            match (m.verdict, m.waiting) {
                (_, Some(_)) => c.waiting += 1,
                (Verdict::Successful, None) => c.successful += 1,
                (Verdict::Failed, None) => {
                    c.failed += 1;
                    if c.failed > spec.failure_limit {
                        self.phase = Phase::Failed;
                        self.message = beyond(&m.message, c.failed, "failed", spec.failure_limit);
                    }
                }
                (_, None) => {
                    c.inconclusive += 1;
                    if c.inconclusive > spec.inconclusive_limit {
                        self.phase = Phase::Inconclusive;
                        self.message = beyond(
                            &m.message,
                            c.inconclusive,
                            "inconclusive",
                            spec.inconclusive_limit,
                        );
                    }
                }
            }
            if self.phase == Phase::Running && self.count.is_some_and(|n| c.taken >= n) {
                self.finish(&m.message);
            }
        }
        if self.measurements.len() == KEPT {
            self.measurements.remove(0);
        }
        self.measurements.push(m);
    }

    /// The metric took its `count` measurements without exceeding a limit.
    fn finish(&mut self, last: &str) {
        let c = self.counts;
        if c.successful + c.failed + c.inconclusive == 0 {
            self.phase = Phase::Inconclusive;
            self.message = format!(
                "{last} (none of its {} measurements had enough data to judge)",
                c.taken
            );
        } else {
            self.phase = Phase::Successful;
            if c.taken > 1 {
                self.message = format!(
                    "{last} ({} of {} measurements passed)",
                    c.successful, c.taken
                );
            }
        }
    }
}

/// A deciding measurement's message, with the count that crossed the limit when one was
/// tolerated (a limit of zero needs no explaining).
fn beyond(message: &str, n: u32, what: &str, limit: u32) -> String {
    if limit == 0 {
        message.to_owned()
    } else {
        format!("{message} ({n} {what} measurements, more than the {limit} tolerated)")
    }
}
