//! The loop that drives one run: start due measurements, wait for the first of a finished
//! measurement, the next due instant or a stop, fold in, repeat until the run has a verdict.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};

use super::measure::{Clock, measure};
use super::{Report, RunRequest};
use crate::condition::Conditions;
use crate::measurement::Measurement;
use crate::providers::{MetricProvider, Target};
use crate::run::Run;
use crate::value::Role;

pub(super) async fn drive(
    request: RunRequest,
    providers: Arc<dyn MetricProvider>,
    reports: mpsc::UnboundedSender<Report>,
    mut stop: oneshot::Receiver<()>,
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
        args: request.args.clone(),
    };
    let canary = target(request.revision, Role::Canary);
    let baseline = request.baseline.map(|b| target(b, Role::Baseline));
    let lock = || run.lock().unwrap_or_else(PoisonError::into_inner);
    let mut in_flight: HashMap<tokio::task::Id, usize> = HashMap::new();
    let mut tasks: JoinSet<Measurement> = JoinSet::new();
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
            for (i, spec) in request.metrics.iter().enumerate() {
                let busy = in_flight.values().any(|&j| j == i);
                if busy || r.due_at(i).is_none_or(|t| t > now) {
                    continue;
                }
                let handle = tasks.spawn(measure(
                    Arc::clone(&providers),
                    spec.clone(),
                    Arc::clone(&conditions[i]),
                    canary.clone(),
                    baseline.clone(),
                    clock,
                ));
                in_flight.insert(handle.id(), i);
            }
            (0..request.metrics.len())
                .filter(|i| !in_flight.values().any(|j| j == i))
                .filter_map(|i| r.due_at(i))
                .min()
        };
        tokio::select! {
            _ = &mut stop => {
                tasks.abort_all();
                return;
            }
            Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let (id, measurement) = match done {
                    Ok((id, m)) => (id, Ok(m)),
                    Err(e) => (e.id(), Err(e)),
                };
                let Some(index) = in_flight.remove(&id) else { continue };
                // A measurement task only ends without a measurement if a provider panicked:
                // that is an error like any other, retried up to the limit.
                let m = measurement.unwrap_or_else(|e| {
                    let why = format!("the provider panicked ({e})");
                    Measurement::failed(&request.metrics[index], clock.now(), Role::Canary, &why)
                });
                let _ = reports.send(Report::Measured {
                    service: request.service.clone(),
                    run: request.run,
                    measurement: Box::new(m.clone()),
                });
                lock().record(index, m);
            }
            _ = sleep_until(next.map_or_else(Instant::now, |t| clock.instant(t))), if next.is_some() => {}
        }
    }
}
