//! The loop that drives one run: start due measurements and judge samples, wait for the first
//! of a finished one, the next due instant, a stop or a call to conclude, fold in, repeat until
//! the run has a verdict.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

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

pub(super) async fn drive(
    request: RunRequest,
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
    let conditions: Vec<Arc<Conditions>> = request
        .metrics
        .iter()
        .map(|m| Arc::new(Conditions::new(m)))
        .collect();
    let target = |revision, role| Target {
        service: request.service.clone(),
        revision,
        role,
        canary: request.revision,
        stable: request.baseline,
        args: request.args.clone(),
    };
    let canary = target(request.revision, Role::Canary);
    let baseline = request.baseline.map(|b| target(b, Role::Baseline));
    let lock = || run.lock().unwrap_or_else(PoisonError::into_inner);
    let mut in_flight: HashMap<tokio::task::Id, Slot> = HashMap::new();
    let mut tasks: JoinSet<Done> = JoinSet::new();
    loop {
        let next = {
            let r = lock();
            if let Some(verdict) = r.phase.verdict() {
                let _ = reports.send(Report::Completed {
                    service: request.service.clone(),
                    run: request.run,
                    verdict,
                    message: r.message.clone(),
                });
                return;
            }
            let now = clock.now();
            let busy = |slot: Slot| in_flight.values().any(|s| *s == slot);
            let mut started = Vec::new();
            for (i, spec) in request.metrics.iter().enumerate() {
                if busy(Slot::Metric(i)) || r.due_at(i).is_none_or(|t| t > now) {
                    continue;
                }
                let measuring = measure(
                    Arc::clone(&providers),
                    spec.clone(),
                    conditions[i].needs_baseline(),
                    canary.clone(),
                    baseline.clone(),
                );
                let handle = tasks.spawn(async move {
                    let observed = measuring.await;
                    Done::Measured(i, clock.now(), Box::new(observed))
                });
                started.push((handle.id(), Slot::Metric(i)));
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
                    canary.clone(),
                    baseline.clone(),
                );
                let handle = tasks.spawn(async move { Done::Sampled(sampling.await) });
                started.push((handle.id(), Slot::Judge));
            }
            in_flight.extend(started);
            let idle = |slot: Slot| !in_flight.values().any(|s| *s == slot);
            (0..request.metrics.len())
                .filter(|i| idle(Slot::Metric(*i)))
                .filter_map(|i| r.due_at(i))
                .chain(r.judge_due_at().filter(|_| idle(Slot::Judge)))
                .min()
        };
        tokio::select! {
            _ = &mut stop => {
                tasks.abort_all();
                return;
            }
            () = conclude.notified() => lock().conclude(clock.now()),
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
                        let error = format!("the provider panicked ({e})");
                        let failed = Observed::Failed { role: Role::Canary, error };
                        Done::Measured(i, clock.now(), Box::new(failed))
                    }
                    // Sampling catches its providers' panics itself: its task ends without
                    // samples only when it is aborted, and then there is nothing to record.
                    (Slot::Judge, Err(_)) => continue,
                };
                fold(done, &request, &conditions, &run, &reports, clock);
            }
            _ = sleep_until(next.map_or_else(Instant::now, |t| clock.instant(t))), if next.is_some() => {}
        }
    }
}

/// Reports what a task produced and folds it into the run: a measurement as it is, and the
/// judgement once an interval's samples complete the judge.
fn fold(
    done: Done,
    request: &RunRequest,
    conditions: &[Arc<Conditions>],
    run: &Mutex<Run>,
    reports: &mpsc::UnboundedSender<Report>,
    clock: Clock,
) {
    let mut r = run.lock().unwrap_or_else(PoisonError::into_inner);
    match done {
        Done::Measured(index, at, observed) => {
            let Some(conditions) = conditions.get(index) else {
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
            let before = decided(&r);
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
