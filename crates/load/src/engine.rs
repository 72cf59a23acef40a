//! The async half: runs a plan's scenarios on the current tokio runtime. Each scenario starts
//! at its `startTime` and schedules iterations as its executor says (`engine/executors.rs`); a
//! VU runs one iteration at a time on its own connection (`engine/vu.rs`). Samples go into
//! metrics sharded by VU, merged once a second for the progress line and `abortOnFail`, and
//! at the end for the summary.
//!
//! Time is tokio's clock throughout, so on a paused clock with an in-memory server
//! ([`Connect`]) the schedules hold exactly and tests take no time.

mod executors;
mod vu;

use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::time::{Duration, SystemTime};

use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::client::Connect;
use crate::metrics::{Metric, Metrics, Sample, Tags};
use crate::out;
use crate::plan::Plan;

/// How a run is wired to the world.
pub struct Options {
    pub connector: Arc<dyn Connect>,
    /// Where `--out json` lines go, if anywhere.
    pub samples: Option<Box<dyn Write + Send>>,
    /// Runtimes the VUs are spread over ([`crate::Workers`]); none: the current runtime.
    pub workers: Vec<tokio::runtime::Handle>,
}

/// A run in progress.
pub struct Run {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<Report>,
}

/// How a run ended.
#[derive(Debug)]
pub struct Report {
    pub metrics: Metrics,
    /// From the start to the end of the last scenario.
    pub elapsed: Duration,
    /// The threshold whose failure stopped the test, as `metric: expression`.
    pub aborted_by: Option<String>,
    /// Whether it was stopped from outside ([`Run::stop`]).
    pub interrupted: bool,
    /// Why `--out json` lines could not all be written.
    pub samples_error: Option<String>,
}

/// What the live progress line shows.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Progress {
    pub elapsed: Duration,
    pub vus: u64,
    pub requests: u64,
    /// Requests per second over the last second.
    pub rate: f64,
    /// Milliseconds, over the whole run so far.
    pub p95: f64,
}

impl Run {
    /// Starts `plan` on the current tokio runtime.
    pub fn start(plan: Plan, options: Options) -> Run {
        let shards = std::thread::available_parallelism().map_or(1, |n| n.get()) * 4;
        let metrics = Metrics::new(&plan.sub_metrics, plan.checks.len());
        let (samples, writer) = match options.samples {
            Some(sink) => {
                let (tx, rx) = mpsc::channel::<Option<String>>();
                let thresholds: Vec<(Metric, String)> = plan
                    .thresholds
                    .iter()
                    .map(|t| (t.selector.metric, t.expr.source.clone()))
                    .collect();
                let _ = tx.send(Some(out::declarations(&thresholds)));
                (
                    Some(tx),
                    Some(std::thread::spawn(move || write_lines(sink, rx))),
                )
            }
            None => (None, None),
        };
        let shared = Arc::new(Shared {
            prepared: vu::prepare(&plan),
            rows: plan.requests.iter().map(|_| AtomicU64::new(0)).collect(),
            plan,
            shards: (0..shards).map(|_| Mutex::new(metrics.clone())).collect(),
            active: AtomicU64::new(0),
            allocated: AtomicU64::new(0),
            connector: options.connector,
            start: Instant::now(),
            wall: SystemTime::now(),
            samples,
            workers: options.workers,
            stop: CancellationToken::new(),
            interrupted: std::sync::atomic::AtomicBool::new(false),
            progress: Mutex::new(Progress::default()),
        });
        let task = tokio::spawn(drive(Arc::clone(&shared), writer));
        Run { shared, task }
    }

    /// A handle to watch the run and stop it while something waits for its end.
    pub fn handle(&self) -> Handle {
        Handle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Stops the run: iterations in flight are interrupted; what was measured is reported.
    pub fn stop(&self) {
        self.handle().stop();
    }

    /// Waits for the end.
    pub async fn finish(self) -> Report {
        match self.task.await {
            Ok(report) => report,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    /// The metrics so far.
    pub fn metrics(&self) -> Metrics {
        self.shared.merged()
    }
}

/// Watches a run and stops it.
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
}

impl Handle {
    /// The latest progress, updated once a second.
    pub fn progress(&self) -> Progress {
        *lock(&self.shared.progress)
    }

    /// Stops the run: iterations in flight are interrupted; what was measured is reported.
    pub fn stop(&self) {
        self.shared.interrupted.store(true, Ordering::Relaxed);
        self.shared.stop.cancel();
    }
}

/// What every task of a run shares.
pub(crate) struct Shared {
    pub(crate) plan: Plan,
    prepared: Vec<vu::Prepared>,
    /// The next variant row of each request.
    rows: Vec<AtomicU64>,
    shards: Vec<Mutex<Metrics>>,
    /// VUs in an iteration.
    active: AtomicU64,
    /// VUs made so far.
    allocated: AtomicU64,
    connector: Arc<dyn Connect>,
    start: Instant,
    /// The wall clock at `start`, for the times of `--out json` lines.
    wall: SystemTime,
    samples: Option<mpsc::Sender<Option<String>>>,
    workers: Vec<tokio::runtime::Handle>,
    stop: CancellationToken,
    interrupted: std::sync::atomic::AtomicBool,
    progress: Mutex<Progress>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn record(&self, shard: usize, sample: Sample, tags: &Tags<'_>) {
        lock(&self.shards[shard % self.shards.len()]).record(sample, tags);
        if let Some(tx) = &self.samples {
            let time = self.wall + Instant::now().saturating_duration_since(self.start);
            let _ = tx.send(Some(out::points(sample, tags, time)));
        }
    }

    fn merged(&self) -> Metrics {
        let mut all = lock(&self.shards[0]).clone();
        for shard in &self.shards[1..] {
            all.merge(&lock(shard));
        }
        all
    }

    /// Spawns VU number `n` (of its scenario) onto a worker, or the current runtime.
    pub(crate) fn spawn_vu<F>(&self, vus: &mut JoinSet<()>, n: usize, vu: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        match self.workers.get(n % self.workers.len().max(1)) {
            Some(worker) => vus.spawn_on(vu, worker),
            None => vus.spawn(vu),
        };
    }

    /// A new VU's shard.
    pub(crate) fn allocate(&self) -> usize {
        self.allocated.fetch_add(1, Ordering::Relaxed) as usize
    }

    fn vus(&self) -> Sample {
        Sample::Vus {
            active: self.active.load(Ordering::Relaxed),
            max: self.allocated.load(Ordering::Relaxed),
        }
    }

    /// Once a second: the VU gauges, the progress line, and `abortOnFail`.
    fn tick(&self, previous: &mut (Duration, u64)) -> Option<String> {
        self.record(0, self.vus(), &Tags::default());
        let metrics = self.merged();
        let elapsed = self.start.elapsed();
        let requests = metrics.count(Metric::HttpReqs);
        let seconds = (elapsed - previous.0).as_secs_f64();
        let progress = Progress {
            elapsed,
            vus: self.active.load(Ordering::Relaxed),
            requests,
            rate: if seconds > 0.0 {
                (requests - previous.1) as f64 / seconds
            } else {
                0.0
            },
            p95: metrics
                .trend(Metric::HttpReqDuration)
                .map_or(0.0, |t| t.percentile(95.0)),
        };
        *previous = (elapsed, requests);
        *lock(&self.progress) = progress;
        self.plan
            .thresholds
            .iter()
            .filter(|t| t.abort_on_fail && elapsed >= t.delay_abort_eval)
            .find(|t| !t.judge(&metrics, elapsed).passed)
            .map(|t| format!("{}: {}", t.selector, t.expr.source))
    }
}

async fn drive(
    shared: Arc<Shared>,
    writer: Option<std::thread::JoinHandle<Result<(), String>>>,
) -> Report {
    let mut scenarios = JoinSet::new();
    for index in 0..shared.plan.scenarios.len() {
        scenarios.spawn(executors::scenario(Arc::clone(&shared), index));
    }
    let mut tick = tokio::time::interval_at(
        shared.start + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut previous = (Duration::ZERO, 0);
    let mut aborted_by = None;
    loop {
        tokio::select! {
            done = scenarios.join_next() => match done {
                None => break,
                Some(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Some(_) => {}
            },
            _ = tick.tick() => {
                if let Some(failed) = shared.tick(&mut previous)
                    && aborted_by.is_none()
                {
                    aborted_by = Some(failed);
                    shared.stop.cancel();
                }
            }
        }
    }
    let elapsed = shared.start.elapsed();
    shared.record(0, shared.vus(), &Tags::default());
    let samples_error = match (&shared.samples, writer) {
        (Some(tx), Some(writer)) => {
            let _ = tx.send(None);
            match tokio::task::spawn_blocking(move || writer.join()).await {
                Ok(Ok(Ok(()))) => None,
                Ok(Ok(Err(e))) => Some(e),
                _ => Some("the writer of --out json stopped".to_owned()),
            }
        }
        _ => None,
    };
    Report {
        metrics: shared.merged(),
        elapsed,
        aborted_by,
        interrupted: shared.interrupted.load(Ordering::Relaxed),
        samples_error,
    }
}

/// Writes `--out json` lines until told to stop (`None`), off the runtime's threads.
fn write_lines(
    sink: Box<dyn Write + Send>,
    lines: mpsc::Receiver<Option<String>>,
) -> Result<(), String> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, sink);
    let mut result = Ok(());
    while let Ok(Some(line)) = lines.recv() {
        if result.is_ok() {
            result = out.write_all(line.as_bytes());
        }
    }
    result.and_then(|()| out.flush()).map_err(|e| e.to_string())
}
