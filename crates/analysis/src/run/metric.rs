//! One metric within a run: its counters, its recent measurements, and its phase.

use std::sync::Arc;
use std::time::Duration;

use bellwether_core::rollout::Verdict;
use bellwether_core::spec::{Evidence, Inconclusive, MetricSpec};
use bellwether_core::time::{Timestamp, human_duration};
use serde::{Deserialize, Serialize};

use super::{Mode, Observed, Phase};
use crate::condition::Conditions;
use crate::measurement::{Measurement, Origin};

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
    /// Shared with the engine that measures it: thousands of runs hold no copies.
    pub spec: Arc<MetricSpec>,
    pub phase: Phase,
    /// Why the metric is in its phase; the latest measurement's message while running.
    pub message: String,
    /// What ends the metric, besides a limit.
    pub end: End,
    pub counts: Counts,
    /// The latest measurements, oldest first (at most [`KEPT`]; `counts` covers all of them).
    pub measurements: Vec<Measurement>,
    /// When the schedule starts, and how many attempts came before it (a metric that waited
    /// for data starts a new schedule when it resumes).
    first_at: Timestamp,
    #[serde(default)]
    attempts_before: u32,
    /// Waiting for its provider to have new data instead of measuring every interval.
    #[serde(default)]
    pub parked: bool,
    /// For a metric judged on all the evidence: the provider's first counts in this run.
    #[serde(default)]
    origin: Option<Origin>,
}

/// What ends a metric that crosses no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum End {
    /// The spec's `count` measurements, errors not counted.
    Count(u32),
    /// A blocking run's metric without `count`, or a background run's asked to conclude: its
    /// first judged measurement, or [`BLOCKING_WAIT`] from `since` of measurements without
    /// enough data, which is inconclusive.
    FirstJudged { since: Timestamp },
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
    pub(super) fn new(spec: Arc<MetricSpec>, mode: Mode, started_at: Timestamp) -> Self {
        let first_at = started_at.after(spec.initial_delay);
        let end = match (spec.count, mode) {
            (Some(n), _) => End::Count(n),
            (None, Mode::Blocking) => End::FirstJudged { since: first_at },
            (None, Mode::Background) => End::Stopped,
        };
        Self {
            first_at,
            attempts_before: 0,
            parked: false,
            spec,
            phase: Phase::Running,
            message: String::new(),
            end,
            counts: Counts::default(),
            measurements: Vec::new(),
            origin: None,
        }
    }

    /// Judges what the providers answered: on its window, or on every request counted since
    /// the metric's first measurement.
    pub(super) fn assess(
        &mut self,
        conditions: &Conditions,
        at: Timestamp,
        observed: Observed,
    ) -> Measurement {
        let spec = &self.spec;
        match observed {
            Observed::Failed { role, error } => Measurement::failed(spec, at, role, &error),
            Observed::Answered { canary, baseline } => match spec.evidence {
                Evidence::Window => Measurement::assess(spec, conditions, at, canary, baseline),
                Evidence::Cumulative => {
                    Measurement::assess_cumulative(spec, at, canary, baseline, &mut self.origin)
                }
            },
        }
    }

    /// Scheduled at a fixed rate from the first measurement, so that slow measurements do not
    /// make the schedule drift; one that overran is due at once.
    pub(super) fn due_at(&self) -> Option<Timestamp> {
        if self.phase != Phase::Running || self.parked {
            return None;
        }
        let attempts = self.attempts() - self.attempts_before;
        let offset = self.spec.interval.saturating_mul(attempts);
        Some(self.first_at.after(offset))
    }

    fn attempts(&self) -> u32 {
        self.counts.taken.saturating_add(self.counts.errors)
    }

    /// Whether its next measurement parks it if that one waits for data too: a running metric
    /// that only the end of its run ends, whose latest measurement (if any) waited. Counting
    /// measurements that find the same nothing changes no outcome for it, while a metric with
    /// `count`, or one waiting for its first judged measurement, ends by how many it took or
    /// how long it waited. A metric just judged is measured once more before it parks, so a
    /// revision with traffic costs its measurements nothing for parking.
    pub(super) fn may_park(&self) -> bool {
        let waited = self.measurements.last().is_none_or(|m| m.waiting.is_some());
        self.phase == Phase::Running && self.end == End::Stopped && waited
    }

    /// Waits for news if it may and its latest measurement found too little data to judge;
    /// whether it now waits.
    pub(super) fn park(&mut self) -> bool {
        let waits = self
            .measurements
            .last()
            .is_some_and(|m| m.waiting.is_some());
        if self.may_park() && waits && !self.parked {
            self.parked = true;
            self.message
                .push_str(" (measured again once there is new data)");
        }
        self.parked
    }

    /// Measures again from `now`, once per interval.
    pub(super) fn resume(&mut self, now: Timestamp) {
        if self.parked {
            self.parked = false;
            self.first_at = now;
            self.attempts_before = self.attempts();
        }
    }

    pub(super) fn record(&mut self, m: Measurement) {
        if self.phase != Phase::Running {
            return;
        }
        let spec = &self.spec;
        let c = &mut self.counts;
        // Reuses the message's buffer: a waiting metric says the same thing every interval.
        self.message.clone_from(&m.message);
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
                        let (n, limit) = (c.inconclusive, spec.inconclusive_limit);
                        let message = beyond(&m.message, n, "inconclusive", limit);
                        self.end_inconclusive(message);
                    }
                }
            }
            let c = &self.counts;
            if self.phase == Phase::Running {
                match self.end {
                    End::Count(n) if c.taken >= n => self.finish(&m.message),
                    End::FirstJudged { since } if m.judged() => {
                        self.first_judged(&m.message, m.at.since(since));
                    }
                    End::FirstJudged { since } if m.at.since(since) >= BLOCKING_WAIT => {
                        self.give_up(&m.message, m.at.since(since));
                    }
                    End::Count(_) | End::FirstJudged { .. } | End::Stopped => {}
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
        } else if self.measurements.len() == self.measurements.capacity() {
            // Grown one at a time: a metric waiting for data keeps one measurement, and a
            // doubling vector would hold room for four.
            self.measurements.reserve_exact(1);
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
        let message = format!(
            "{last} (gave up after waiting {}: none of its {} measurements had enough data to judge)",
            human_duration(waited),
            self.counts.taken
        );
        self.end_inconclusive(message);
    }

    /// Ends an inconclusive metric as its `inconclusive` setting says: paused for a person, or
    /// passed or failed with a message that says it was inconclusive.
    fn end_inconclusive(&mut self, message: String) {
        (self.phase, self.message) = match self.spec.inconclusive {
            Inconclusive::Pause => (Phase::Inconclusive, message),
            Inconclusive::Pass => (
                Phase::Successful,
                format!("{message}; inconclusive, so passed as `inconclusive: pass` asks"),
            ),
            Inconclusive::Fail => (
                Phase::Failed,
                format!("{message}; inconclusive, so failed as `inconclusive: fail` asks"),
            ),
        };
    }

    /// Asked for its verdict when a canary's steps are done (at `now`): passed if the latest
    /// measurement that was not an error passed. Otherwise, with `inconclusive: pass` it passes
    /// at once, saying so; else it goes on measuring until one measurement is judged, and is
    /// inconclusive after [`BLOCKING_WAIT`] without one.
    pub(super) fn conclude(&mut self, now: Timestamp) {
        if self.phase != Phase::Running {
            return;
        }
        self.resume(now);
        let latest = self
            .measurements
            .iter()
            .rev()
            .find(|m| m.verdict != Verdict::Error);
        match latest {
            Some(m) if m.judged() && m.verdict == Verdict::Successful => {
                self.phase = Phase::Successful;
                self.message = m.message.clone();
            }
            _ if self.spec.inconclusive == Inconclusive::Pass => {
                let last = latest.map_or_else(
                    || format!("{} had no measurement", self.spec.name),
                    |m| m.message.clone(),
                );
                self.end_inconclusive(format!("{last} (undecided when the canary's steps ended)"));
            }
            _ => self.end = End::FirstJudged { since: now },
        }
    }

    /// The metric took its `count` measurements without exceeding a limit.
    fn finish(&mut self, last: &str) {
        let c = self.counts;
        if c.successful + c.failed + c.inconclusive == 0 {
            let message = format!(
                "{last} (none of its {} measurements had enough data to judge)",
                c.taken
            );
            self.end_inconclusive(message);
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
