//! The judge in the engine, on tokio's paused clock: a fake router scripts every interval of the
//! canary and the baseline, and the run's verdict, message and judgement follow.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bellwether_core::rollout::{RevisionNumber, RunId, RunKind, Verdict};
use bellwether_core::signal::{
    AddressSource, LatencyQuantiles, ResourceSample, ResourceSource, SignalSource, TrafficSample,
    TrafficTotals,
};
use bellwether_core::spec::{
    AnalysisRef, BuiltinMetric, Direction, JudgeSpec, JudgedMetricSpec, MetricSpec, ProviderSpec,
    ServiceSpec, Unit,
};
use bellwether_core::time::Timestamp;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

use super::{BASELINE, CANARY, service_with_metrics};
use crate::engine::{Engine, Report, RunRequest};
use crate::judge::{Classification, Judgement};
use crate::providers::Providers;

const INTERVAL: Duration = Duration::from_secs(10);
const COUNT: u32 = 12;

/// One interval of one revision: its error rate and its p99 latency in seconds.
type Script = fn(u32) -> (f64, f64);

/// A router whose intervals are scripted: a sample covers the interval that ends at the instant
/// it is taken, 100 requests a second, with the error rate and p99 the script gives that
/// interval's index. It records every window it is asked for.
struct ScriptedRouter {
    start: Instant,
    canary: Script,
    baseline: Script,
    windows: Mutex<Vec<Duration>>,
}

impl ScriptedRouter {
    fn new(canary: Script, baseline: Script) -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            canary,
            baseline,
            windows: Mutex::new(Vec::new()),
        })
    }
}

impl SignalSource for ScriptedRouter {
    fn sample(&self, _: &str, revision: RevisionNumber, window: Duration) -> Option<TrafficSample> {
        let script = match revision {
            CANARY => self.canary,
            BASELINE => self.baseline,
            _ => return None,
        };
        self.windows.lock().expect("not poisoned").push(window);
        let ended = self.start.elapsed().as_millis() / INTERVAL.as_millis();
        let index = u32::try_from(ended)
            .expect("a short test")
            .saturating_sub(1);
        let (error_rate, p99) = script(index);
        let requests = 100 * window.as_secs();
        let errors = (requests as f64 * error_rate).round() as u64;
        Some(TrafficSample {
            window,
            requests,
            status_classes: [0, requests - errors, 0, 0, errors],
            latency: Some(LatencyQuantiles {
                p99,
                ..LatencyQuantiles::default()
            }),
            ..TrafficSample::default()
        })
    }

    /// The judge reads windows only.
    fn totals(&self, _: &str, _: RevisionNumber, _: Option<Duration>) -> Option<TrafficTotals> {
        None
    }
}

/// Analyses here run no suite of checks.
impl AddressSource for ScriptedRouter {
    fn address(&self, _: &str, _: RevisionNumber) -> Option<String> {
        None
    }
}

impl ResourceSource for ScriptedRouter {
    fn resources(&self, _: &str, _: RevisionNumber, window: Duration) -> Option<ResourceSample> {
        Some(ResourceSample {
            window,
            ..ResourceSample::default()
        })
    }
}

/// p99 around `level` seconds, with a little deterministic jitter from interval to interval.
fn around(level: f64, i: u32) -> f64 {
    level * (1.0 + 0.02 * (f64::from(i * 7 % 5) - 2.0))
}

fn healthy(i: u32) -> (f64, f64) {
    (0.0, around(0.12, i))
}

/// A new error class on 3% of the canary's requests, in one interval of four (the others see
/// none of it): a mostly-zero series against a baseline of zeros.
fn new_error_class(i: u32) -> (f64, f64) {
    let errors = if i % 4 == 1 { 0.03 } else { 0.0 };
    (errors, around(0.12, i))
}

fn slow(i: u32) -> (f64, f64) {
    (0.0, around(0.18, i))
}

fn builtin(name: &str) -> MetricSpec {
    let metric = BuiltinMetric::from_name(name).expect("a builtin metric");
    MetricSpec {
        name: name.to_owned(),
        provider: ProviderSpec::Builtin {
            metric,
            window: Duration::from_secs(30),
            slower_than: None,
        },
        unit: metric.unit(),
        count: None,
        ..super::error_rate(
            Duration::from_secs(1),
            bellwether_core::spec::Operand::Value(0.01),
        )
    }
}

fn judged(metric: &str, group: &str, critical: bool) -> JudgedMetricSpec {
    JudgedMetricSpec {
        metric: metric.to_owned(),
        direction: Direction::Increase,
        critical,
        group: group.to_owned(),
        min_ratio: 1.2,
    }
}

/// A service judging `error_rate` (in `errors`) and `latency_p99` (in `latency`) with these
/// group weights and pass score.
fn service(errors: f64, latency: f64, pass: f64, critical: bool) -> ServiceSpec {
    ServiceSpec {
        metrics: vec![builtin("error_rate"), builtin("latency_p99")],
        judge: Some(JudgeSpec {
            interval: INTERVAL,
            count: COUNT,
            confidence: 0.95,
            pass_score: pass,
            marginal_score: 75.0,
            group_weights: BTreeMap::from([
                ("errors".to_owned(), errors),
                ("latency".to_owned(), latency),
            ]),
            metrics: vec![
                judged("error_rate", "errors", critical),
                judged("latency_p99", "latency", false),
            ],
        }),
        ..service_with_metrics()
    }
}

/// What a judged step reported: its judgement and its verdict, with the instant of each.
struct Outcome {
    judged: Option<(Timestamp, Judgement)>,
    verdict: Verdict,
    message: String,
    measured: usize,
}

/// Runs analysis step 1 of `service` (the judge, plus `metrics`) against `router`.
async fn step(service: &ServiceSpec, metrics: &[&str], router: Arc<ScriptedRouter>) -> Outcome {
    let analysis = AnalysisRef {
        metrics: metrics.iter().map(|m| (*m).to_owned()).collect(),
        judge: true,
        ..AnalysisRef::default()
    };
    let run = RunId {
        attempt: 1,
        kind: RunKind::Step(1),
    };
    let request = RunRequest::resolve(
        service,
        run,
        &analysis,
        CANARY,
        Some(BASELINE),
        Timestamp(0),
    )
    .expect("the service has a judge");
    let engine = Engine::new(Arc::new(Providers::new(
        router.clone(),
        router.clone(),
        router,
    )));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _handle = engine.start(request, tx);
    let mut judged = None;
    let mut measured = 0;
    while let Ok(Some(report)) = timeout(Duration::from_secs(600), rx.recv()).await {
        match report {
            Report::Measured { .. } => measured += 1,
            Report::Judged { at, judgement, .. } => judged = Some((at, *judgement)),
            Report::Completed {
                verdict, message, ..
            } => {
                return Outcome {
                    judged,
                    verdict,
                    message,
                    measured,
                };
            }
        }
    }
    panic!("no verdict within 10 minutes");
}

#[tokio::test(start_paused = true)]
async fn a_new_error_class_only_on_the_canary_fails() {
    let router = ScriptedRouter::new(new_error_class, healthy);
    let out = step(&service(60.0, 40.0, 95.0, false), &[], Arc::clone(&router)).await;
    assert_eq!(out.verdict, Verdict::Failed);
    insta::assert_snapshot!(out.message, @"judge score 40/100 < 75: error_rate regressed (canary mean 0.75% vs baseline 0%, p = 0.0390)");
    let (at, judgement) = out.judged.expect("a judgement");
    assert_eq!(at, Timestamp(120_000), "twelve intervals of 10s");
    assert_eq!(judgement.metrics[0].classification, Classification::High);
    assert_eq!(judgement.metrics[0].canary_points, 12);
    let windows = router.windows.lock().expect("not poisoned");
    assert_eq!(
        windows.len(),
        2 * 2 * (1 + 12),
        "two metrics, two revisions, the opening sample and twelve intervals"
    );
    assert!(
        windows.iter().all(|w| *w == INTERVAL),
        "each point covers its interval"
    );
}

#[tokio::test(start_paused = true)]
async fn an_identical_canary_passes_beside_its_thresholds() {
    let router = ScriptedRouter::new(healthy, healthy);
    let out = step(&service(60.0, 40.0, 95.0, false), &["error_rate"], router).await;
    assert_eq!(out.verdict, Verdict::Successful, "{}", out.message);
    assert_eq!(
        out.measured, 1,
        "the threshold metric measured once, beside the judge"
    );
    insta::assert_snapshot!(out.message, @"error_rate 0% <= 1% over last 30s (canary, 3,000 requests); judge score 100/100 >= 95 over 12 intervals of 10s");
    let (_, judgement) = out.judged.expect("a judgement");
    assert_eq!(judgement.score, Some(100.0));
}

#[tokio::test(start_paused = true)]
async fn a_regression_in_a_light_group_is_marginal() {
    let router = ScriptedRouter::new(slow, healthy);
    let out = step(&service(80.0, 20.0, 95.0, false), &[], router).await;
    assert_eq!(out.verdict, Verdict::Inconclusive);
    insta::assert_snapshot!(out.message, @"judge score 80/100 < 95, marginal (at least 75): latency_p99 regressed (canary mean 179.4ms vs baseline 119.6ms, p < 0.0001)");
}

#[tokio::test(start_paused = true)]
async fn a_critical_regression_fails_whatever_the_score() {
    // Without the critical flag, errors weigh 10 and latency passes: a score of 90 passes at 85.
    let router = ScriptedRouter::new(new_error_class, healthy);
    let lenient = step(&service(10.0, 90.0, 85.0, false), &[], Arc::clone(&router)).await;
    assert_eq!(lenient.verdict, Verdict::Successful, "{}", lenient.message);
    insta::assert_snapshot!(lenient.message, @"judge score 90/100 >= 85 over 12 intervals of 10s: error_rate regressed (canary mean 0.75% vs baseline 0%, p = 0.0390)");
    let router = ScriptedRouter::new(new_error_class, healthy);
    let strict = step(&service(10.0, 90.0, 85.0, true), &[], router).await;
    assert_eq!(strict.verdict, Verdict::Failed);
    insta::assert_snapshot!(strict.message, @"judge failed on a critical metric: error_rate regressed (canary mean 0.75% vs baseline 0%, p = 0.0390, critical)");
}

#[tokio::test(start_paused = true)]
async fn provider_errors_are_retried_then_end_the_judge() {
    let router = ScriptedRouter::new(healthy, healthy);
    let service = service(60.0, 40.0, 95.0, false);
    let analysis = AnalysisRef {
        metrics: vec![],
        judge: true,
        ..AnalysisRef::default()
    };
    let run = RunId {
        attempt: 1,
        kind: RunKind::PostPromotion,
    };
    // Revision 9 is unknown to the router: every baseline sample fails.
    let request = RunRequest::resolve(&service, run, &analysis, CANARY, Some(9), Timestamp(0))
        .expect("the service has a judge");
    let engine = Engine::new(Arc::new(Providers::new(
        router.clone(),
        router.clone(),
        router,
    )));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let handle = engine.start(request, tx);
    let run = handle.finished().await;
    let judge = run.judge.expect("a judge");
    assert_eq!(
        judge.intervals, 5,
        "four errors in a row are tolerated, the fifth is not"
    );
    assert_eq!(judge.judgement, None);
    let Some(Report::Completed {
        verdict, message, ..
    }) = rx.recv().await
    else {
        panic!("a verdict and nothing before it");
    };
    assert_eq!(verdict, Verdict::Error);
    insta::assert_snapshot!(message, @"judge: error_rate: measuring the baseline failed: no revision 9 of service `api` is known to the router (5 errors in a row, more than the 4 tolerated)");
}

#[test]
fn judge_runs_are_data() {
    let service = service(60.0, 40.0, 95.0, true);
    let analysis = AnalysisRef {
        metrics: vec![],
        judge: true,
        ..AnalysisRef::default()
    };
    let run = RunId {
        attempt: 1,
        kind: RunKind::Step(0),
    };
    let request = RunRequest::resolve(
        &service,
        run,
        &analysis,
        CANARY,
        Some(BASELINE),
        Timestamp(0),
    )
    .expect("the service has a judge");
    assert!(request.metrics.is_empty(), "the judge alone");
    let plan = request.judge.expect("a plan");
    assert_eq!(plan.config.metrics[1].unit, Unit::Seconds);
    let json = serde_json::to_value(&plan).expect("serializable");
    assert_eq!(json["config"]["metrics"][0]["direction"], "increase");
    assert_eq!(
        json["metrics"][0]["provider"]["builtin"]["window"]["secs"],
        10
    );
}
