//! One metric within a run: its counters, its recent measurements, and its phase.

use std::time::Duration;

use bellwether_core::rollout::Verdict;
use bellwether_core::spec::MetricSpec;
use bellwether_core::time::{Timestamp, human_duration};
use serde::{Deserialize, Serialize};

use super::{Mode, Phase};
use crate::measurement::Measurement;

/// How many of its latest measurements a metric keeps: what the views show (the latest and
/// those just before it). Every measurement is also reported as it is taken and counted, so a
/// long background run keeps its counters exact and its memory flat, which matters when
/// thousands of rollouts are analysed at once.
pub const KEPT: usize = 21;

/// How long a blocking run's metric without `count` waits for a measurement with enough data to
/// judge before it gives up as inconclusive. A canary step often starts before the canary has
/// served its minimum sample; five minutes lets a service of a request a second reach the
/// default 50 requests several times over, while a canary that gets no traffic at all still
/// hands the decision to a person well within the default 10-minute progress deadline.
pub const BLOCKING_WAIT: Duration = Duration::from_secs(300);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricRun {
    pub spec: MetricSpec,
    pub phase: Phase,
    /// Why the metric is in its phase; the latest measurement's message while running.
    pub message: String,
    /// What ends the metric, besides a limit.
    pub end: End,
    pub counts: Counts,
    /// The latest measurements, oldest first (at most 1,000; `counts` covers all of them).
    pub measurements: Vec<Measurement>,
    first_at: Timestamp,
}

/// What ends a metric that crosses no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum End {
    /// The spec's `count` measurements, errors not counted.
    Count(u32),
    /// A blocking run's metric without `count`: its first judged measurement, or
    /// [`BLOCKING_WAIT`] of measurements without enough data, which is inconclusive.
    FirstJudged,
    /// A background run's metric without `count`: only the end of the run.
    Stopped,
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
        let end = match (spec.count, mode) {
            (Some(n), _) => End::Count(n),
            (None, Mode::Blocking) => End::FirstJudged,
            (None, Mode::Background) => End::Stopped,
        };
        Self {
            first_at: started_at.after(spec.initial_delay),
            spec,
            phase: Phase::Running,
            message: String::new(),
            end,
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
            if self.phase == Phase::Running {
                let waited = m.at.since(self.first_at);
                match self.end {
                    End::Count(n) if c.taken >= n => self.finish(&m.message),
                    End::FirstJudged if m.judged() => self.first_judged(&m.message, waited),
                    End::FirstJudged if waited >= BLOCKING_WAIT => {
                        self.give_up(&m.message, waited);
                    }
                    End::Count(_) | End::FirstJudged | End::Stopped => {}
                }
            }
        }
        // A run of identical "waiting for data" measurements is kept as its latest: without
        // traffic, every interval would otherwise add the same line.
        let repeated = m.waiting.is_some()
            && self
                .measurements
                .last()
                .is_some_and(|last| last.waiting == m.waiting && last.message == m.message);
        if repeated {
            self.measurements.pop();
        } else if self.measurements.len() == KEPT {
            self.measurements.remove(0);
        }
        self.measurements.push(m);
    }

    /// A blocking run's metric without `count` was judged, perhaps after waiting for its sample.
    fn first_judged(&mut self, last: &str, waited: Duration) {
        self.phase = Phase::Successful;
        if self.counts.waiting > 0 {
            self.message = format!(
                "{last} (judged after waiting {} for enough data)",
                human_duration(waited)
            );
        }
    }

    /// A blocking run's metric without `count` waited [`BLOCKING_WAIT`] without one judged
    /// measurement; the last one's message says how many requests it saw and how many it needs.
    fn give_up(&mut self, last: &str, waited: Duration) {
        self.phase = Phase::Inconclusive;
        self.message = format!(
            "{last} (gave up after waiting {}: none of its {} measurements had enough data to judge)",
            human_duration(waited),
            self.counts.taken
        );
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
