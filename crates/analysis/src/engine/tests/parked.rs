//! Background metrics of a revision without traffic wait for news instead of measuring every
//! interval, and measure again as soon as a request completes or the run is asked to conclude.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bellwether_core::rollout::{RevisionNumber, RunKind, Verdict};
use bellwether_core::signal::{
    AddressSource, Change, ResourceSample, ResourceSource, SignalSource, TrafficSample,
    TrafficTotals,
};
use bellwether_core::spec::{MetricSpec, Operand};
use tokio::sync::{mpsc, watch};

use super::{error_rate, request};
use crate::engine::{Engine, Report, RunHandle};
use crate::providers::Providers;
use crate::run::{Phase, Run};

/// A router whose revisions have no traffic until `serve` is called; then a thousand clean
/// requests in every window, each call completing more of them.
struct Quiet {
    serving: AtomicBool,
    completions: watch::Sender<u64>,
}

impl Quiet {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            serving: AtomicBool::new(false),
            completions: watch::Sender::new(0),
        })
    }

    fn serve(&self) {
        self.serving.store(true, Ordering::SeqCst);
        self.completions.send_modify(|n| *n += 1_000);
    }

    /// No more requests: their windows empty at once.
    fn go_quiet(&self) {
        self.serving.store(false, Ordering::SeqCst);
    }

    fn engine(self: &Arc<Self>) -> Engine {
        Engine::new(Arc::new(Providers::new(
            self.clone(),
            self.clone(),
            self.clone(),
        )))
    }
}

impl SignalSource for Quiet {
    fn sample(&self, _: &str, _: RevisionNumber, window: Duration) -> Option<TrafficSample> {
        let requests = if self.serving.load(Ordering::SeqCst) {
            1_000
        } else {
            0
        };
        Some(TrafficSample {
            window,
            requests,
            status_classes: [0, requests, 0, 0, 0],
            ..TrafficSample::default()
        })
    }

    fn totals(&self, _: &str, _: RevisionNumber, _: Option<Duration>) -> Option<TrafficTotals> {
        None
    }

    fn next_completion(&self, _: &str, _: RevisionNumber) -> Option<Change> {
        let mut completions = self.completions.subscribe();
        Some(Box::pin(async move {
            let _ = completions.changed().await;
        }))
    }
}

impl ResourceSource for Quiet {
    fn resources(&self, _: &str, _: RevisionNumber, _: Duration) -> Option<ResourceSample> {
        None
    }
}

impl AddressSource for Quiet {
    fn address(&self, _: &str, _: RevisionNumber) -> Option<String> {
        None
    }
}

fn error_rate_every_second() -> MetricSpec {
    error_rate(Duration::from_secs(1), Operand::Value(0.01))
}

/// A background run of `spec` on `router`, and its reports.
fn background(
    router: &Arc<Quiet>,
    spec: MetricSpec,
) -> (RunHandle, mpsc::UnboundedReceiver<Report>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = router
        .engine()
        .start(request(RunKind::Background, vec![spec]), tx);
    (handle, rx)
}

/// Every report waiting on the channel now.
fn drain(rx: &mut mpsc::UnboundedReceiver<Report>) -> Vec<Report> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}

fn only_metric(run: &Run) -> &crate::run::MetricRun {
    &run.metrics[0]
}

#[tokio::test(start_paused = true)]
async fn a_background_metric_without_traffic_waits_for_a_request_then_judges_at_once() {
    let router = Quiet::new();
    let (handle, mut rx) = background(&router, error_rate_every_second());

    tokio::time::sleep(Duration::from_secs(600)).await;
    let run = handle.snapshot();
    let metric = only_metric(&run);
    assert!(metric.parked, "{metric:?}");
    assert_eq!(metric.counts.taken, 1, "measured once in ten minutes");
    insta::assert_snapshot!(metric.message, @"error_rate not judged: no data for the canary (no requests completed) (measured again once there is new data)");
    assert_eq!(
        drain(&mut rx).len(),
        1,
        "one report for the one measurement"
    );

    router.serve();
    tokio::time::sleep(Duration::from_millis(1)).await;
    let run = handle.snapshot();
    let metric = only_metric(&run);
    assert!(!metric.parked);
    assert_eq!(
        metric.counts.successful, 1,
        "judged as the request completed"
    );
    assert_eq!(metric.measurements.last().unwrap().at.as_millis(), 600_000);
    // Measured every second again from then on, as there is traffic.
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    assert_eq!(only_metric(&handle.snapshot()).counts.successful, 4);

    // Traffic stops: the first measurement without data follows a judged one and parks
    // nothing; the second parks the metric again.
    router.go_quiet();
    tokio::time::sleep(Duration::from_secs(600)).await;
    let run = handle.snapshot();
    let metric = only_metric(&run);
    assert!(metric.parked, "{metric:?}");
    assert_eq!((metric.counts.taken, metric.counts.waiting), (7, 3));
    let run = handle.stop().await;
    assert_eq!(run.phase, Phase::Running);
}

#[tokio::test(start_paused = true)]
async fn a_waiting_metric_asked_to_conclude_measures_again_and_gives_up_in_time() {
    let router = Quiet::new();
    let (handle, mut rx) = background(&router, error_rate_every_second());
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(only_metric(&handle.snapshot()).parked);

    handle.conclude();
    let run = handle.finished().await;
    let metric = only_metric(&run);
    assert_eq!(run.phase.verdict(), Some(Verdict::Inconclusive));
    // Once a second from the call to conclude until it gave up five minutes later.
    assert_eq!(metric.counts.taken, 1 + 301, "{metric:?}");
    let completed = drain(&mut rx).into_iter().find_map(|r| match r {
        Report::Completed { message, .. } => Some(message),
        _ => None,
    });
    insta::assert_snapshot!(completed.unwrap(), @"error_rate not judged: no data for the canary (no requests completed) (gave up after waiting 5m: none of its 302 measurements had enough data to judge)");
}

#[tokio::test(start_paused = true)]
async fn a_metric_with_a_count_is_measured_every_interval_even_without_traffic() {
    let router = Quiet::new();
    let mut spec = error_rate_every_second();
    spec.count = Some(5);
    let (handle, _rx) = background(&router, spec);
    let run = tokio::time::timeout(Duration::from_secs(60), handle.finished())
        .await
        .expect("ends after its five measurements");
    let metric = only_metric(&run);
    assert!(!metric.parked);
    assert_eq!(metric.counts.taken, 5);
    assert_eq!(metric.counts.waiting, 5);
}
