//! A suite: its checks together, round after round, until the success-rate rule decides or the
//! suite's timeout passes.

use bellwether_core::spec::VerifySpec;
use bellwether_core::time::human_duration;
use futures_util::future::join_all;
use tokio::time::Instant;

use crate::check::Checker;
use crate::report::{CheckReport, SuiteReport};
use crate::tally::{Decision, Tally};

/// A round just done, for a live display.
pub struct Round<'a> {
    /// From 1.
    pub number: u32,
    pub of: u32,
    pub checks: &'a [CheckReport],
    pub tally: &'a Tally,
}

/// Runs `spec` against `base` (the address paths are taken against), telling `on_round` of
/// each round as it ends.
pub async fn run_suite(
    checker: &Checker,
    spec: &VerifySpec,
    base: Option<&str>,
    mut on_round: impl FnMut(Round<'_>),
) -> SuiteReport {
    let start = Instant::now();
    let planned_rounds = spec.rounds();
    let mut tally = Tally::new(spec);
    let mut rounds = 0;
    let mut last: Vec<CheckReport> = Vec::new();
    let finished = tokio::time::timeout(spec.timeout, async {
        for round in 0..planned_rounds {
            tokio::time::sleep_until(start + spec.interval * round).await;
            last = join_all(spec.checks.iter().map(|c| checker.run(c, base))).await;
            for report in &last {
                tally.record(report.passed);
            }
            rounds = round + 1;
            on_round(Round {
                number: rounds,
                of: planned_rounds,
                checks: &last,
                tally: &tally,
            });
            if tally.decision() != Decision::Pending {
                return;
            }
        }
    })
    .await
    .is_ok();
    let decision = tally.decision();
    let reason = match decision {
        Decision::Passed if finished => None,
        Decision::Failed => Some(format!(
            "{} failed, more than the {} that {:.1}% of {} planned allows",
            attempts(tally.failed()),
            tally.allowed_failures(),
            spec.min_success_rate * 100.0,
            tally.planned()
        )),
        _ => Some(format!(
            "it did not finish within {}: {} of {} planned attempts were done",
            human_duration(spec.timeout),
            tally.passed() + tally.failed(),
            tally.planned()
        )),
    };
    SuiteReport {
        name: spec.name.clone(),
        passed: reason.is_none(),
        rounds,
        attempts_passed: tally.passed(),
        attempts_failed: tally.failed(),
        attempts_planned: tally.planned(),
        success_rate: tally.rate(),
        min_success_rate: spec.min_success_rate,
        reason,
        elapsed_ms: start.elapsed().as_secs_f64() * 1000.0,
        checks: last,
    }
}

fn attempts(n: u64) -> String {
    if n == 1 {
        "1 attempt".to_owned()
    } else {
        format!("{n} attempts")
    }
}
