//! A suite's success-rate rule. The suite plans `rounds × checks` attempts; it passes when they
//! are all done and at least `min_success_rate` of them passed, and fails as soon as the
//! failures so far exceed what that rate allows of the whole plan, since no later success can
//! make up for them. A bad release is thus caught at the first failure too many, not at the end
//! of the suite's duration. Pure.

use bellwether_core::spec::VerifySpec;

/// The attempts of one suite so far.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tally {
    planned: u64,
    allowed_failures: u64,
    passed: u64,
    failed: u64,
}

/// Where a suite stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Attempts are still to come and the rate can still be met.
    Pending,
    Passed,
    /// More attempts failed than the rate allows of the plan.
    Failed,
}

impl Tally {
    pub fn new(spec: &VerifySpec) -> Self {
        let planned = u64::from(spec.rounds()) * spec.checks.len() as u64;
        let rate = spec.min_success_rate.clamp(0.0, 1.0);
        // The largest whole number of failures that keeps passed / planned at or above the
        // rate; the small tolerance keeps 95% of 20 at exactly one allowed failure.
        let allowed_failures = ((planned as f64) * (1.0 - rate) + 1e-9).floor() as u64;
        Self {
            planned,
            allowed_failures,
            passed: 0,
            failed: 0,
        }
    }

    pub fn record(&mut self, passed: bool) {
        if passed {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
    }

    pub fn decision(&self) -> Decision {
        if self.failed > self.allowed_failures {
            Decision::Failed
        } else if self.passed + self.failed >= self.planned {
            Decision::Passed
        } else {
            Decision::Pending
        }
    }

    pub fn passed(&self) -> u64 {
        self.passed
    }

    pub fn failed(&self) -> u64 {
        self.failed
    }

    pub fn planned(&self) -> u64 {
        self.planned
    }

    /// How many failures the plan tolerates.
    pub fn allowed_failures(&self) -> u64 {
        self.allowed_failures
    }

    /// The share of attempts so far that passed; 1 before any.
    pub fn rate(&self) -> f64 {
        match self.passed + self.failed {
            0 => 1.0,
            done => self.passed as f64 / done as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bellwether_core::spec::{CheckSpec, CheckTarget, HttpCheck, VerifySpec};

    use super::{Decision, Tally};

    fn suite(checks: usize, rounds: u64, rate: f64) -> VerifySpec {
        let check = CheckSpec {
            name: "health".into(),
            target: CheckTarget::Http(HttpCheck::get("/healthz")),
            max_time: Duration::from_secs(2),
            retries: 0,
            backoff: Duration::from_secs(1),
        };
        VerifySpec {
            name: "smoke".into(),
            checks: vec![check; checks],
            duration: Duration::from_secs(5 * (rounds - 1)),
            interval: Duration::from_secs(5),
            min_success_rate: rate,
            timeout: Duration::from_secs(600),
        }
    }

    #[test]
    fn plans_rounds_times_checks_and_allows_the_rate_s_failures() {
        for (checks, rounds, rate, planned, allowed) in [
            (1, 1, 1.0, 1, 0),
            (2, 10, 0.95, 20, 1),
            (4, 25, 0.95, 100, 5),
            (3, 7, 0.9, 21, 2),
            (1, 10, 0.0, 10, 10),
            (1, 3, 0.5, 3, 1),
        ] {
            let tally = Tally::new(&suite(checks, rounds, rate));
            assert_eq!(
                (tally.planned(), tally.allowed_failures()),
                (planned, allowed),
                "{checks} checks × {rounds} rounds at {rate}"
            );
        }
    }

    #[test]
    fn fails_at_the_first_failure_too_many() {
        let mut tally = Tally::new(&suite(2, 10, 0.95));
        tally.record(false);
        assert_eq!(tally.decision(), Decision::Pending);
        tally.record(true);
        tally.record(false);
        assert_eq!(tally.decision(), Decision::Failed);
        assert_eq!(tally.rate(), 1.0 / 3.0);
    }

    #[test]
    fn passes_only_when_every_planned_attempt_is_done() {
        let mut tally = Tally::new(&suite(2, 10, 0.95));
        for i in 0..20 {
            assert_eq!(tally.decision(), Decision::Pending, "after {i}");
            tally.record(i != 7);
        }
        assert_eq!(tally.decision(), Decision::Passed);
        assert_eq!((tally.passed(), tally.failed()), (19, 1));
    }
}
