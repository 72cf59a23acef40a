//! The loop that drives one run: start due measurements and judge samples, wait for the first
//! of a finished one, the next due instant, a stop or a call to conclude, fold in, repeat until
//! the run has a verdict.
//!
//! A measurement whose providers answer at once (the builtin provider always does) is folded
//! in where it starts; only one that has to wait (a query, a request, a command) gets a task of
//! its own. Thousands of background runs measured every second then cost one wake-up per run
//! and interval, not a task per measurement.
//!
//! A background metric whose measurement found too little data, from a provider that can say
//! when it will have more (the router: a request completed; the platform: a new reading), is
//! parked until then instead of measured every interval: a run whose revision gets no traffic
//! costs nothing while it waits.

use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use bellwether_core::signal::Change;
use bellwether_core::spec::MetricSpec;
use bellwether_core::time::Timestamp;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};

use super::measure::{Clock, measure};
use super::sample::sample;
use super::{Report, RunRequest};
use crate::condition::Conditions;
use crate::providers::{MetricProvider, Target};
use crate::run::{Observed, Run, Sampled};
use crate::value::Role;

/// What a task of the run is doing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Measuring the metric of this index.
    Metric(usize),
    /// Sampling an interval for the judge.
    Judge,
}

/// What a task of the run produced.
enum Done {
    /// The providers' answers for the metric of this index, and when they came.
    Measured(usize, Timestamp, Box<Observed>),
    Sampled(Vec<(usize, Sampled)>),
}

/// The run's fixed inputs, shared by its measurements.
struct Inputs {
    request: RunRequest,
    specs: Vec<Arc<MetricSpec>>,
    conditions: Vec<Conditions>,
    canary: Arc<Target>,
    baseline: Option<Arc<Target>>,
}

pub(super) async fn drive(
    request: RunRequest,
    specs: Vec<Arc<MetricSpec>>,
    providers: Arc<dyn MetricProvider>,
    reports: mpsc::UnboundedSender<Report>,
    mut stop: oneshot::Receiver<()>,
    conclude: Arc<Notify>,
    run: Arc<Mutex<Run>>,
) {
    let clock = Clock {
        origin: Instant::now(),
        started_at: request.started_at,
    };
    let target = |revision, role| {
        Arc::new(Target {
            service: request.service.clone(),
            revision,
            role,
            canary: request.revision,
            stable: request.baseline,
            args: request.args.clone(),
        })
    };
    let canary = target(request.revision, Role::Canary);
    let baseline = request.baseline.map(|b| target(b, Role::Baseline));
    let inputs = Inputs {
        conditions: specs.iter().map(|m| Conditions::new(m)).collect(),
        specs,
        canary,
        baseline,
        request,
    };
    let lock = || run.lock().unwrap_or_else(PoisonError::into_inner);
    let mut in_flight: HashMap<tokio::task::Id, Slot> = HashMap::new();
    let mut tasks: JoinSet<Done> = JoinSet::new();
    // Parked metrics, each with the change it waits for.
    let mut parked: Vec<(usize, Change)> = Vec::new();
    loop {
        let next = {
            let mut r = lock();
            if let Some(verdict) = r.phase.verdict() {
                let _ = reports.send(Report::Completed {
                    service: inputs.request.service.clone(),
                    run: inputs.request.run,
                    verdict,
                    message: r.message.clone(),
                });
                return;
            }
            let now = clock.now();
            let busy = |slot: Slot| in_flight.values().any(|s| *s == slot);
            let mut started = Vec::new();
            let mut answered = false;
            // A metric that concluding resumed no longer waits for its change.
            parked.retain(|(i, _)| r.metrics.get(*i).is_some_and(|m| m.parked));
            for i in 0..inputs.specs.len() {
                if busy(Slot::Metric(i)) || r.due_at(i).is_none_or(|t| t > now) {
                    continue;
                }
                // Taken before measuring, so that nothing that comes in meanwhile is missed.
                let change = r
                    .may_park(i)
                    .then(|| watch(&inputs, providers.as_ref(), i))
                    .flatten();
                match start_measuring(&inputs, &providers, i) {
                    Ok(observed) => {
                        let done = Done::Measured(i, clock.now(), Box::new(observed));
                        fold(done, &inputs, &mut r, &reports, clock);
                        answered = true;
                        if let Some(change) = change
                            && r.park(i)
                        {
                            parked.push((i, change));
                        }
                    }
                    Err(measuring) => {
                        let handle = tasks.spawn(async move {
                            let observed = measuring.await;
                            Done::Measured(i, clock.now(), Box::new(observed))
                        });
                        started.push((handle.id(), Slot::Metric(i)));
                    }
                }
            }
            if let Some(judge) = &r.judge
                && !busy(Slot::Judge)
                && r.judge_due_at().is_some_and(|t| t <= now)
            {
                let wanted = judge
                    .wanted()
                    .into_iter()
                    .filter_map(|i| Some((i, judge.plan.metrics.get(i)?.clone())))
                    .collect();
                let sampling = sample(
                    Arc::clone(&providers),
                    wanted,
                    Arc::clone(&inputs.canary),
                    inputs.baseline.clone(),
                );
                let handle = tasks.spawn(async move { Done::Sampled(sampling.await) });
                started.push((handle.id(), Slot::Judge));
            }
            in_flight.extend(started);
            if answered {
                None
            } else {
                let idle = |slot: Slot| !in_flight.values().any(|s| *s == slot);
                let next = (0..inputs.specs.len())
                    .filter(|i| idle(Slot::Metric(*i)))
                    .filter_map(|i| r.due_at(i))
                    .chain(r.judge_due_at().filter(|_| idle(Slot::Judge)))
                    .min();
                Some(next)
            }
        };
        let Some(next) = next else {
            // What was folded may have ended the run or made a metric due again: look again,
            // yielding to the runtime whenever this task has used its share.
            tokio::task::coop::consume_budget().await;
            continue;
        };
        tokio::select! {
            _ = &mut stop => {
                tasks.abort_all();
                return;
            }
            () = conclude.notified() => lock().conclude(clock.now()),
            k = poll_fn(|cx| first_ready(&mut parked, cx)), if !parked.is_empty() => {
                let (i, _) = parked.swap_remove(k);
                lock().resume(i, clock.now());
            }
            Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let (id, done) = match done {
                    Ok((id, d)) => (id, Ok(d)),
                    Err(e) => (e.id(), Err(e)),
                };
                let Some(slot) = in_flight.remove(&id) else { continue };
                let done = match (slot, done) {
                    (_, Ok(done)) => done,
                    // A measurement task only ends without a measurement if a provider
                    // panicked: that is an error like any other, retried up to the limit.
                    (Slot::Metric(i), Err(e)) => {
                        let failed = panicked(&e.to_string());
                        Done::Measured(i, clock.now(), Box::new(failed))
                    }
                    // Sampling catches its providers' panics itself: its task ends without
                    // samples only when it is aborted, and then there is nothing to record.
                    (Slot::Judge, Err(_)) => continue,
                };
                fold(done, &inputs, &mut lock(), &reports, clock);
            }
            _ = sleep_until(next.map_or_else(Instant::now, |t| clock.instant(t))), if next.is_some() => {}
        }
    }
}

/// The index in `parked` of a metric whose change came.
fn first_ready(parked: &mut [(usize, Change)], cx: &mut Context<'_>) -> Poll<usize> {
    for (k, (_, change)) in parked.iter_mut().enumerate() {
        if change.as_mut().poll(cx).is_ready() {
            return Poll::Ready(k);
        }
    }
    Poll::Pending
}

/// What metric `index` waits for once it finds too little data: a change for the canary, or
/// for either revision when its conditions compare with the baseline. `None` when a provider
/// cannot tell.
fn watch(inputs: &Inputs, providers: &dyn MetricProvider, index: usize) -> Option<Change> {
    let provider = &inputs.specs[index].provider;
    let canary = providers.watch(provider, &inputs.canary)?;
    if !inputs.conditions[index].needs_baseline() {
        return Some(canary);
    }
    let baseline = providers.watch(provider, inputs.baseline.as_deref()?)?;
    Some(Box::pin(async move {
        tokio::select! {
            () = canary => {}
            () = baseline => {}
        }
    }))
}

/// A measurement of metric `index` under way.
type Measuring = Pin<Box<dyn Future<Output = Observed> + Send>>;

/// Starts measuring metric `index`: its observation when the providers answered at once,
/// otherwise the measurement to wait for.
fn start_measuring(
    inputs: &Inputs,
    providers: &Arc<dyn MetricProvider>,
    index: usize,
) -> Result<Observed, Measuring> {
    let spec = &inputs.specs[index];
    let mut measuring: Measuring = Box::pin(measure(
        Arc::clone(providers),
        Arc::clone(spec),
        inputs.conditions[index].needs_baseline(),
        Arc::clone(&inputs.canary),
        inputs.baseline.clone(),
    ));
    // A future polled again by its task registers that task's waker: this first poll's
    // waker is never needed.
    let mut cx = Context::from_waker(Waker::noop());
    match catch_unwind(AssertUnwindSafe(|| measuring.as_mut().poll(&mut cx))) {
        Ok(Poll::Ready(observed)) => Ok(observed),
        Ok(Poll::Pending) => Err(measuring),
        Err(payload) => {
            let why = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_owned());
            Ok(panicked(&why))
        }
    }
}

/// The observation of a provider that panicked: an error like any other, retried up to the
/// limit.
fn panicked(why: &str) -> Observed {
    Observed::Failed {
        role: Role::Canary,
        error: format!("the provider panicked ({why})"),
    }
}

/// Reports what a task produced and folds it into the run: a measurement as it is, and the
/// judgement once an interval's samples complete the judge.
fn fold(
    done: Done,
    inputs: &Inputs,
    r: &mut Run,
    reports: &mpsc::UnboundedSender<Report>,
    clock: Clock,
) {
    let request = &inputs.request;
    match done {
        Done::Measured(index, at, observed) => {
            let Some(conditions) = inputs.conditions.get(index) else {
                return;
            };
            if let Some(m) = r.observe(index, conditions, at, *observed) {
                let _ = reports.send(Report::Measured {
                    service: request.service.clone(),
                    run: request.run,
                    measurement: Box::new(m),
                });
            }
        }
        Done::Sampled(samples) => {
            let decided = |r: &Run| r.judge.as_ref().is_some_and(|j| j.judgement.is_some());
            let before = decided(r);
            r.record_judge(samples);
            let judgement = r.judge.as_ref().and_then(|j| j.judgement.clone());
            if let Some(judgement) = judgement.filter(|_| !before) {
                let _ = reports.send(Report::Judged {
                    service: request.service.clone(),
                    run: request.run,
                    at: clock.now(),
                    judgement: Box::new(judgement),
                });
            }
        }
    }
}
