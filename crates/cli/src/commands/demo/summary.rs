//! The demo's last words: how each release ended and how long it took, how fast the failing
//! canary was rolled back, and whether any client request failed because of a rollout.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use bellwether_api::ServiceView;
use bellwether_core::rollout::Verdict;

use super::acts::{Act, Expect};
use super::load::LoadStats;
use super::timeline::Outcome;

#[derive(Debug, Serialize)]
pub(crate) struct RolloutSummary {
    pub(crate) version: String,
    pub(crate) strategy: String,
    /// `promoted` or `rolled back`.
    pub(crate) outcome: String,
    pub(crate) expected: bool,
    pub(crate) seconds: f64,
    pub(crate) reason: String,
    /// For a rollback: when the canary's traffic went to zero, in ms since the epoch.
    #[serde(skip)]
    aborted_at_ms: Option<u64>,
    /// For a rollback: the first failed measurement, when it was taken (ms since the epoch) and
    /// how many canary requests it had counted.
    #[serde(skip)]
    failed_measurement: Option<(u64, Option<u64>)>,
}

impl RolloutSummary {
    pub(crate) fn new(act: &Act, outcome: &Outcome, took: Duration) -> Self {
        let promoted = outcome.expected(Expect::Promoted);
        Self {
            version: act.version.to_owned(),
            strategy: act.strategy.name().to_owned(),
            outcome: if promoted { "promoted" } else { "rolled back" }.to_owned(),
            expected: outcome.expected(act.expect),
            seconds: round(took.as_secs_f64()),
            reason: outcome.view.reason.clone(),
            aborted_at_ms: outcome.aborted_at.map(|at| at.0),
            failed_measurement: first_failed_measurement(&outcome.view),
        }
    }
}

/// The earliest failed measurement of the analysis that failed: the moment the evidence was
/// conclusive.
fn first_failed_measurement(view: &ServiceView) -> Option<(u64, Option<u64>)> {
    view.analyses
        .iter()
        .filter(|a| a.verdict == Some(Verdict::Failed))
        .flat_map(|a| &a.measurements)
        .filter(|m| m.verdict == Verdict::Failed)
        .map(|m| (m.at.as_millis(), m.sample))
        .min_by_key(|(at, _)| *at)
}

#[derive(Debug, Serialize)]
pub(crate) struct Summary {
    pub(crate) rollouts: Vec<RolloutSummary>,
    /// From the measurement that failed the canary (conclusive evidence) to 0% of traffic on
    /// it: the router → verdict → route path.
    pub(crate) rollback_reaction_ms: Option<u64>,
    /// From the failing canary's first failed request to 0% of traffic on it: gathering the
    /// evidence, then the reaction.
    pub(crate) detection_ms: Option<u64>,
    /// The canary requests the failing measurement had counted since its analysis began.
    pub(crate) detection_requests: Option<u64>,
    pub(crate) requests: u64,
    /// Errors the failing canary returned on purpose before it was rolled back.
    pub(crate) injected_errors: u64,
    /// Requests that failed for any other reason: must be zero.
    pub(crate) other_failures: u64,
    pub(crate) failure_examples: Vec<String>,
    pub(crate) seconds: f64,
}

impl Summary {
    pub(crate) fn new(rollouts: Vec<RolloutSummary>, stats: LoadStats, took: Duration) -> Self {
        let rolled_back = rollouts.iter().find(|r| r.aborted_at_ms.is_some());
        let aborted = rolled_back.and_then(|r| r.aborted_at_ms);
        let failed = rolled_back.and_then(|r| r.failed_measurement);
        let rollback_reaction_ms = aborted
            .zip(failed)
            .map(|(aborted, (at, _))| aborted.saturating_sub(at));
        let detection_ms = rolled_back.and_then(|r| {
            let first_error = stats.by_version.get(&r.version)?.first_error?;
            Some(r.aborted_at_ms?.saturating_sub(epoch_ms(first_error)))
        });
        let detection_requests = failed.and_then(|(_, requests)| requests);
        let injected_errors = stats.by_version.values().map(|v| v.errors).sum();
        Self {
            rollouts,
            rollback_reaction_ms,
            detection_ms,
            detection_requests,
            requests: stats.requests,
            injected_errors,
            other_failures: stats.other_failures,
            failure_examples: stats.failure_examples,
            seconds: round(took.as_secs_f64()),
        }
    }

    /// Every release ended as planned and no request failed but the injected ones.
    pub(crate) fn passed(&self) -> bool {
        self.rollouts.iter().all(|r| r.expected) && self.other_failures == 0
    }
}

fn epoch_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn round(seconds: f64) -> f64 {
    (seconds * 10.0).round() / 10.0
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "\nsummary ({:.1}s in all)", self.seconds)?;
        for r in &self.rollouts {
            let mark = if r.expected { "ok " } else { "!! " };
            writeln!(
                f,
                "  {mark}{:<3} {:<10} {:<12} {:>5.1}s  {}",
                r.version, r.strategy, r.outcome, r.seconds, r.reason
            )?;
        }
        match (self.detection_ms, self.detection_requests) {
            (Some(ms), Some(n)) => writeln!(
                f,
                "  detection: {n} canary requests; {ms} ms from the canary's first failed request to 0% traffic on it"
            )?,
            (Some(ms), None) => writeln!(
                f,
                "  detection: {ms} ms from the canary's first failed request to 0% traffic on it"
            )?,
            _ => writeln!(f, "  detection: not measured (no canary failed)")?,
        }
        if let Some(ms) = self.rollback_reaction_ms {
            writeln!(
                f,
                "  rollback reaction: {ms} ms from the measurement that failed the canary to 0% traffic on it"
            )?;
        }
        writeln!(
            f,
            "  client requests: {} sent, {} injected errors from the failing canary, {} failed for other reasons",
            self.requests, self.injected_errors, self.other_failures
        )?;
        for example in &self.failure_examples {
            writeln!(f, "    e.g. {example}")?;
        }
        Ok(())
    }
}
