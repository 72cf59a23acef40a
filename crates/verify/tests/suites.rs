//! Suites against a real server: the success-rate rule, the early failure, the timeout.

mod support;

use std::time::Duration;

use bellwether_core::spec::{CheckSpec, CheckTarget, HttpCheck, VerifySpec};
use bellwether_verify::{Checker, SuiteReport, run_suite};
use support::Server;

fn suite(url: String, rounds: u32, min_success_rate: f64) -> VerifySpec {
    VerifySpec {
        name: "smoke".into(),
        checks: vec![CheckSpec {
            name: "health".into(),
            target: CheckTarget::Http(HttpCheck::get(url)),
            max_time: Duration::from_secs(10),
            retries: 0,
            backoff: Duration::from_millis(10),
        }],
        duration: Duration::from_millis(20) * (rounds - 1),
        interval: Duration::from_millis(20),
        min_success_rate,
        timeout: Duration::from_secs(20),
    }
}

async fn verify(spec: &VerifySpec) -> (SuiteReport, Vec<u32>) {
    let mut seen = Vec::new();
    let report = tokio::time::timeout(
        Duration::from_secs(30),
        run_suite(&Checker::new(), spec, None, |round| {
            assert_eq!(round.of, spec.rounds());
            seen.push(round.number);
        }),
    )
    .await
    .expect("a suite ends within its timeout");
    (report, seen)
}

#[tokio::test]
async fn passes_when_every_round_is_done_at_the_rate() {
    let server = Server::plain().await;
    let (report, rounds) = verify(&suite(server.url("/ok"), 5, 1.0)).await;
    assert!(report.passed, "{report}");
    assert_eq!(rounds, [1, 2, 3, 4, 5]);
    assert_eq!((report.attempts_passed, report.attempts_planned), (5, 5));
    assert!(report.elapsed_ms >= 80.0, "{}", report.elapsed_ms);
    assert!(
        report
            .to_string()
            .starts_with("verify smoke passed: 5 of 5 attempts passed (100.0%, at least 100.0% needed) in 5 rounds"),
        "{report}"
    );
}

#[tokio::test]
async fn tolerates_the_failures_the_rate_allows() {
    let server = Server::plain().await;
    let (report, _) = verify(&suite(server.url("/flaky"), 10, 0.8)).await;
    assert!(report.passed, "{report}");
    assert_eq!((report.attempts_passed, report.attempts_failed), (8, 2));
    assert_eq!(report.success_rate, 0.8);
}

#[tokio::test]
async fn fails_as_soon_as_the_rate_cannot_be_met() {
    let server = Server::plain().await;
    let (report, rounds) = verify(&suite(server.url("/down"), 20, 0.9)).await;
    assert!(!report.passed);
    assert_eq!(rounds, [1, 2, 3]);
    assert_eq!(
        report.reason.as_deref(),
        Some("3 attempts failed, more than the 2 that 90.0% of 20 planned allows")
    );
    assert_eq!(report.checks[0].failures, ["status 503 (expected 2xx)"]);
}

#[tokio::test]
async fn fails_when_it_does_not_finish_within_its_timeout() {
    let server = Server::plain().await;
    let mut spec = suite(server.url("/slow"), 3, 0.5);
    spec.timeout = Duration::from_millis(300);
    let (report, rounds) = verify(&spec).await;
    assert!(!report.passed);
    assert!(rounds.is_empty());
    assert_eq!(
        report.reason.as_deref(),
        Some("it did not finish within 300ms: 0 of 3 planned attempts were done")
    );
}
