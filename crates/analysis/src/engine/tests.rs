//! The engine on tokio's paused clock: a fake router whose canary turns bad at a known instant,
//! and the reports that follow.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bellwether_core::rollout::{EventKind, RevisionNumber, RunId, RunKind, Verdict};
use bellwether_core::signal::{
    AddressSource, ResourceSample, ResourceSource, SignalSource, TrafficSample, TrafficTotals,
};
use bellwether_core::spec::{
    BuiltinMetric, Condition, ConditionOp, MetricSpec, Operand, ProviderSpec, Unit,
};
use bellwether_core::time::Timestamp;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

use super::{Engine, Report, RunRequest};
use crate::providers::Providers;
use crate::run::Phase;

const CANARY: RevisionNumber = 2;
const BASELINE: RevisionNumber = 1;

/// A router on tokio's clock: `rps` requests a second per revision, 0.1% errors, until
/// `bad_after` the run's start, when the canary's errors jump to `bad_error_rate`. Traffic
/// began `warm` before the run; windows cover what has elapsed since, up to the window asked
/// for. Revisions other than 1 and 2 are unknown.
struct FakeRouter {
    start: Instant,
    warm: Duration,
    rps: u64,
    bad_after: Duration,
    bad_error_rate: f64,
}

impl FakeRouter {
    fn new(rps: u64, bad_after: Duration, bad_error_rate: f64) -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            warm: Duration::from_secs(60),
            rps,
            bad_after,
            bad_error_rate,
        })
    }

    /// Traffic that starts with the run.
    fn cold(rps: u64, bad_after: Duration, bad_error_rate: f64) -> Arc<Self> {
        Arc::new(Self {
            warm: Duration::ZERO,
            ..Arc::into_inner(Self::new(rps, bad_after, bad_error_rate)).expect("not shared yet")
        })
    }
}

impl SignalSource for FakeRouter {
    fn sample(&self, _: &str, revision: RevisionNumber, window: Duration) -> Option<TrafficSample> {
        if revision != CANARY && revision != BASELINE {
            return None;
        }
        let elapsed = self.start.elapsed();
        let window = window.min(elapsed + self.warm);
        let requests = (window.as_secs_f64() * self.rps as f64) as u64;
        // Errors of the bad period, which may cover only part of the window.
        let bad = elapsed.saturating_sub(self.bad_after).min(window);
        let bad_requests = (bad.as_secs_f64() * self.rps as f64) as u64;
        let mut errors = requests / 1_000;
        if revision == CANARY {
            errors += (bad_requests as f64 * self.bad_error_rate) as u64;
        }
        Some(TrafficSample {
            window,
            requests,
            status_classes: [0, requests - errors, 0, 0, errors],
            ..TrafficSample::default()
        })
    }

    /// The same traffic counted since it began: errors at 0.1%, and at the bad rate since
    /// `bad_after`.
    fn totals(
        &self,
        _: &str,
        revision: RevisionNumber,
        _: Option<Duration>,
    ) -> Option<TrafficTotals> {
        if revision != CANARY && revision != BASELINE {
            return None;
        }
        let elapsed = self.start.elapsed();
        let requests = ((elapsed + self.warm).as_secs_f64() * self.rps as f64) as u64;
        let bad = elapsed.saturating_sub(self.bad_after);
        let bad_requests = (bad.as_secs_f64() * self.rps as f64) as u64;
        let mut errors = requests / 1_000;
        if revision == CANARY {
            errors += (bad_requests as f64 * self.bad_error_rate) as u64;
        }
        Some(TrafficTotals {
            requests,
            errors,
            slower: None,
        })
    }
}

/// Analyses here run no suite of checks.
impl AddressSource for FakeRouter {
    fn address(&self, _: &str, _: RevisionNumber) -> Option<String> {
        None
    }
}

impl ResourceSource for FakeRouter {
    fn resources(&self, _: &str, _: RevisionNumber, window: Duration) -> Option<ResourceSample> {
        Some(ResourceSample {
            window,
            replicas: 1,
            cpu: Some(0.2),
            memory: Some(0.3),
        })
    }
}

fn error_rate(interval: Duration, rhs: Operand) -> MetricSpec {
    MetricSpec {
        name: "error_rate".to_owned(),
        provider: ProviderSpec::Builtin {
            metric: BuiltinMetric::ErrorRate,
            window: Duration::from_secs(30),
            slower_than: None,
        },
        unit: Unit::Ratio,
        interval,
        count: None,
        initial_delay: Duration::ZERO,
        success: Some(Condition::Threshold {
            op: ConditionOp::Le,
            rhs,
        }),
        failure: None,
        failure_limit: 0,
        inconclusive_limit: 0,
        consecutive_error_limit: 4,
        dry_run: false,
        min_sample: 50,
        evidence: bellwether_core::spec::Evidence::Window,
        confidence: bellwether_core::spec::DEFAULT_CONFIDENCE,
        inconclusive: bellwether_core::spec::Inconclusive::Pause,
    }
}

fn request(kind: RunKind, metrics: Vec<MetricSpec>) -> RunRequest {
    RunRequest {
        service: "api".to_owned(),
        run: RunId { attempt: 1, kind },
        metrics,
        judge: None,
        revision: CANARY,
        baseline: Some(BASELINE),
        args: BTreeMap::new(),
        started_at: Timestamp(0),
    }
}

fn engine(router: Arc<FakeRouter>) -> Engine {
    Engine::new(Arc::new(Providers::new(
        router.clone(),
        router.clone(),
        router,
    )))
}

/// Collects reports until the run completes (or a minute of paused time passes).
async fn until_completed(
    rx: &mut mpsc::UnboundedReceiver<Report>,
) -> (Vec<Report>, Option<Report>) {
    let mut measured = Vec::new();
    while let Ok(Some(report)) = timeout(Duration::from_secs(60), rx.recv()).await {
        if let Report::Completed { .. } = report {
            return (measured, Some(report));
        }
        measured.push(report);
    }
    (measured, None)
}

fn completed_at(measured: &[Report]) -> Timestamp {
    match measured.last() {
        Some(Report::Measured { measurement, .. }) => measurement.at,
        _ => Timestamp(0),
    }
}

#[tokio::test(start_paused = true)]
async fn a_clearly_failing_canary_is_caught_within_a_second() {
    // 200 requests a second, and half of the canary's fail from 10s on. Over a 30s window of
    // 6,000 requests (6 errors before), the error rate passes 1% once 61 errors are in it: at
    // 10.55s. The first measurement after that catches it: at 11s with the default builtin
    // interval of 1s, at 10.6s with 200ms.
    for (interval_ms, caught_ms) in [(1_000, 11_000), (200, 10_600)] {
        let router = FakeRouter::new(200, Duration::from_secs(10), 0.5);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let interval = Duration::from_millis(interval_ms);
        let spec = error_rate(interval, Operand::Value(0.01));
        let _run = engine(router).start(request(RunKind::Background, vec![spec]), tx);
        let (measured, completed) = until_completed(&mut rx).await;
        let Some(Report::Completed {
            verdict, message, ..
        }) = completed
        else {
            panic!("no verdict");
        };
        assert_eq!(verdict, Verdict::Failed);
        assert_eq!(
            completed_at(&measured),
            Timestamp(caught_ms),
            "with a {interval_ms}ms interval"
        );
        let passed = measured.len() - 1;
        assert_eq!(
            passed as u64,
            caught_ms / interval_ms,
            "measurements before"
        );
        if interval_ms == 1_000 {
            insta::assert_snapshot!(message, @"error_rate 1.767% > 1% over last 30s (canary, 6,000 requests)");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn too_few_requests_wait_instead_of_deciding() {
    // 2 requests a second, all going bad at 5s: the 50-request minimum is reached at 25s.
    let router = FakeRouter::cold(2, Duration::from_secs(5), 1.0);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let spec = error_rate(Duration::from_secs(1), Operand::Value(0.01));
    let _run = engine(router).start(request(RunKind::Background, vec![spec]), tx);
    let (measured, completed) = until_completed(&mut rx).await;
    let waiting: Vec<&Report> = measured
        .iter()
        .filter(
            |r| matches!(r, Report::Measured { measurement, .. } if measurement.waiting.is_some()),
        )
        .collect();
    assert_eq!(waiting.len(), 25, "measurements at 0s..24s wait");
    let Some(Report::Measured { measurement, .. }) = waiting.last() else {
        panic!("a waiting measurement");
    };
    insta::assert_snapshot!(measurement.message, @"error_rate not judged: 48 requests over last 24s (canary), fewer than the 50 needed");
    let Some(Report::Completed {
        verdict, message, ..
    }) = completed
    else {
        panic!("no verdict");
    };
    assert_eq!(verdict, Verdict::Failed);
    assert_eq!(completed_at(&measured), Timestamp(25_000));
    insta::assert_snapshot!(message, @"error_rate 80% > 1% over last 25s (canary, 50 requests)");
}

#[tokio::test(start_paused = true)]
async fn a_blocking_run_ends_by_itself() {
    let router = FakeRouter::new(200, Duration::from_secs(3_600), 0.0);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut counted = error_rate(Duration::from_secs(1), Operand::Value(0.01));
    counted.count = Some(3);
    counted.initial_delay = Duration::from_secs(1);
    let mut once = error_rate(Duration::from_secs(1), Operand::BaselinePlus(0.005));
    once.name = "error_rate_vs_baseline".to_owned();
    let handle = engine(router).start(request(RunKind::Step(2), vec![counted, once]), tx);
    let (measured, completed) = until_completed(&mut rx).await;
    assert_eq!(measured.len(), 4);
    let completed = completed.expect("a verdict");
    assert_eq!(
        completed.event(),
        Some(EventKind::AnalysisCompleted {
            run: RunId {
                attempt: 1,
                kind: RunKind::Step(2)
            },
            verdict: Verdict::Successful,
            message: match &completed {
                Report::Completed { message, .. } => message.clone(),
                Report::Measured { .. } | Report::Judged { .. } => String::new(),
            },
        })
    );
    let Report::Completed { message, .. } = &completed else {
        unreachable!()
    };
    insta::assert_snapshot!(message, @"error_rate 0.1% <= 1% over last 30s (canary, 6,000 requests) (3 of 3 measurements passed); error_rate_vs_baseline 0.1% <= 0.6% (baseline 0.1% + 0.5%) over last 30s (canary, 6,000 requests; baseline 6,000 requests)");
    let run = handle.finished().await;
    assert_eq!(run.phase, Phase::Successful);
    assert_eq!(run.metrics[0].counts.taken, 3);
    assert_eq!(completed_at(&measured), Timestamp(3_000));
}

#[tokio::test(start_paused = true)]
async fn a_blocking_step_waits_for_the_minimum_sample() {
    // 2 requests a second from the step's start: the 50-request minimum is reached at 25s, and
    // the step decides then instead of coming out inconclusive at once.
    let router = FakeRouter::cold(2, Duration::from_secs(3_600), 0.0);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let spec = error_rate(Duration::from_secs(1), Operand::Value(0.01));
    let _run = engine(router).start(request(RunKind::Step(1), vec![spec]), tx);
    let (measured, completed) = until_completed(&mut rx).await;
    assert_eq!(
        measured.len(),
        26,
        "25 waiting measurements, then a judged one"
    );
    assert_eq!(completed_at(&measured), Timestamp(25_000));
    let Some(Report::Completed {
        verdict, message, ..
    }) = completed
    else {
        panic!("no verdict");
    };
    assert_eq!(verdict, Verdict::Successful);
    insta::assert_snapshot!(message, @"error_rate 0% <= 1% over last 25s (canary, 50 requests) (judged after waiting 25s for enough data)");
}

#[tokio::test(start_paused = true)]
async fn a_blocking_step_gives_up_on_too_little_traffic() {
    // 1 request a second never fills a 30s window with 50 requests.
    let router = FakeRouter::cold(1, Duration::from_secs(3_600), 0.0);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let spec = error_rate(Duration::from_secs(1), Operand::Value(0.01));
    let _run = engine(router).start(request(RunKind::PrePromotion, vec![spec]), tx);
    let (measured, completed) = until_completed(&mut rx).await;
    assert_eq!(completed_at(&measured), Timestamp(300_000));
    let Some(Report::Completed {
        verdict, message, ..
    }) = completed
    else {
        panic!("no verdict");
    };
    assert_eq!(verdict, Verdict::Inconclusive);
    insta::assert_snapshot!(message, @"error_rate not judged: 30 requests over last 30s (canary), fewer than the 50 needed (gave up after waiting 5m: none of its 301 measurements had enough data to judge)");
}

#[tokio::test(start_paused = true)]
async fn a_stopped_run_reports_nothing_more() {
    let router = FakeRouter::new(200, Duration::from_secs(3_600), 0.0);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let spec = error_rate(Duration::from_secs(1), Operand::Value(0.01));
    let handle = engine(router).start(request(RunKind::Background, vec![spec]), tx);
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    let run = handle.stop().await;
    assert_eq!(run.phase, Phase::Running);
    assert_eq!(run.metrics[0].counts.successful, 5);
    let mut reports = 0;
    while let Ok(Some(_)) = timeout(Duration::from_secs(10), rx.recv()).await {
        reports += 1;
    }
    assert_eq!(
        reports, 5,
        "one report per measurement, none after the stop"
    );
}

#[tokio::test(start_paused = true)]
async fn provider_errors_are_retried_then_end_the_run() {
    let router = FakeRouter::new(200, Duration::from_secs(3_600), 0.0);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let spec = error_rate(Duration::from_secs(1), Operand::Value(0.01));
    let mut req = request(RunKind::Background, vec![spec]);
    req.revision = 9;
    let _run = engine(router).start(req, tx);
    let (measured, completed) = until_completed(&mut rx).await;
    assert_eq!(measured.len(), 5);
    let Some(Report::Completed {
        verdict, message, ..
    }) = completed
    else {
        panic!("no verdict");
    };
    assert_eq!(verdict, Verdict::Error);
    insta::assert_snapshot!(message, @"error_rate: measuring the canary failed: no revision 9 of service `api` is known to the router (5 errors in a row, more than the 4 tolerated)");
}

#[tokio::test(start_paused = true)]
async fn a_relative_condition_without_a_baseline_is_an_error() {
    let router = FakeRouter::new(200, Duration::from_secs(3_600), 0.0);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut spec = error_rate(Duration::from_secs(1), Operand::BaselineTimes(1.5));
    spec.consecutive_error_limit = 0;
    let mut req = request(RunKind::Background, vec![spec]);
    req.baseline = None;
    let _run = engine(router).start(req, tx);
    let (_, completed) = until_completed(&mut rx).await;
    let Some(Report::Completed { message, .. }) = completed else {
        panic!("no verdict");
    };
    insta::assert_snapshot!(message, @"error_rate: measuring the baseline failed: its condition compares with the baseline, and this rollout has no baseline revision (1 error in a row, more than the 0 tolerated)");
}

#[test]
fn requests_resolve_the_analysis_metrics() {
    use bellwether_core::spec::AnalysisRef;
    let loaded = service_with_metrics();
    let run = RunId {
        attempt: 3,
        kind: RunKind::Step(1),
    };
    let named = AnalysisRef {
        metrics: vec!["b".to_owned()],
        ..AnalysisRef::default()
    };
    let names = |r: &RunRequest| r.metrics.iter().map(|m| m.name.clone()).collect::<Vec<_>>();
    let all =
        RunRequest::resolve(&loaded, run, &AnalysisRef::all(), 2, Some(1), Timestamp(5)).unwrap();
    assert_eq!(names(&all), ["a", "b"]);
    let one = RunRequest::resolve(&loaded, run, &named, 2, Some(1), Timestamp(5)).unwrap();
    assert_eq!(
        (names(&one), one.revision, one.baseline),
        (vec!["b".to_owned()], 2, Some(1))
    );
    let unknown = AnalysisRef {
        metrics: vec!["c".to_owned()],
        ..AnalysisRef::default()
    };
    let err = RunRequest::resolve(&loaded, run, &unknown, 2, None, Timestamp(5)).unwrap_err();
    assert_eq!(err.to_string(), "service `api` has no metric `c`");
    let judged = AnalysisRef {
        judge: true,
        ..AnalysisRef::default()
    };
    let err = RunRequest::resolve(&loaded, run, &judged, 2, Some(1), Timestamp(5)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the analysis asks for the judge, and service `api` declares no `judge`"
    );
    // A suite alone runs its metric and none of the service's; with metrics, both.
    let suite = |name: &str| AnalysisRef {
        verify: vec![name.to_owned()],
        ..AnalysisRef::default()
    };
    let verified = RunRequest::resolve(&loaded, run, &suite("smoke"), 2, None, Timestamp(5));
    assert_eq!(names(&verified.unwrap()), ["verify:smoke"]);
    let both = AnalysisRef {
        metrics: vec!["a".to_owned()],
        ..suite("smoke")
    };
    let both = RunRequest::resolve(&loaded, run, &both, 2, None, Timestamp(5)).unwrap();
    assert_eq!(names(&both), ["a", "verify:smoke"]);
    let err = RunRequest::resolve(&loaded, run, &suite("soak"), 2, None, Timestamp(5));
    assert_eq!(
        err.unwrap_err().to_string(),
        "service `api` has no suite of checks `soak`"
    );
}

/// A service with metrics `a` and `b`, and a suite of checks `smoke`.
fn service_with_metrics() -> bellwether_core::spec::ServiceSpec {
    use bellwether_core::spec::{CanarySpec, Probe, RunSpec, ServiceSpec, Strategy};
    let metric = |name: &str| MetricSpec {
        name: name.to_owned(),
        ..error_rate(Duration::from_secs(1), Operand::Value(0.01))
    };
    ServiceSpec {
        name: "api".to_owned(),
        replicas: 1,
        run: RunSpec::default(),
        readiness: Probe::http("/health"),
        liveness: None,
        strategy: Strategy::Canary(CanarySpec::with_steps(vec![])),
        metrics: vec![metric("a"), metric("b")],
        judge: None,
        progress_deadline: Duration::from_secs(600),
        revision_history_limit: 10,
        environments: vec![],
        depends_on: vec![],
        listen: None,
        preview_listen: None,
        verify: vec![bellwether_core::spec::VerifySpec {
            name: "smoke".to_owned(),
            checks: vec![],
            duration: Duration::ZERO,
            interval: Duration::from_secs(1),
            min_success_rate: 1.0,
            timeout: Duration::from_secs(60),
        }],
        post_rollback_analysis: None,
        traffic: Default::default(),
    }
}

mod judge;
mod parked;
