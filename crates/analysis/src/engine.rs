//! Runs analysis runs on tokio: for each run, measures every metric when the pure [`Run`] says
//! it is due (metrics of one run are measured concurrently, so a slow Prometheus query never
//! holds back a builtin metric measured several times a second), folds the measurements in,
//! and reports each measurement and the final verdict.
//!
//! Time comes from tokio's clock, so tests run on a paused clock; instants are reported as
//! [`Timestamp`]s counted from the request's `started_at`.
//!
//! When the analysis asks for the judge, the run's judge samples every judged metric for the
//! canary and the baseline at the end of each interval (the metrics concurrently, each
//! revision's measurement beside the other's), and the judgement is reported as
//! [`Report::Judged`] before the run's verdict.
//!
//! For the rollout controller: on `Action::StartAnalysis` build a [`RunRequest`] (see
//! [`RunRequest::resolve`]) and call [`Engine::start`]; on `Action::StopAnalysis` call
//! [`RunHandle::stop`]. A [`Report::Completed`] becomes the `EventKind::AnalysisCompleted`
//! that [`Report::event`] returns.

mod measure;
mod sample;
mod task;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use bellwether_core::rollout::{EventKind, RevisionNumber, RunId, Verdict};
use bellwether_core::spec::{AnalysisRef, MetricSpec, ServiceSpec};
use bellwether_core::time::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::judge::Judgement;
use crate::measurement::Measurement;
use crate::providers::MetricProvider;
use crate::run::{JudgePlan, Mode, Run};

/// Starts analysis runs; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    providers: Arc<dyn MetricProvider>,
}

/// What to judge: the service's metrics, the judge, the revision, and the baseline to compare
/// with.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRequest {
    pub service: String,
    pub run: RunId,
    pub metrics: Vec<MetricSpec>,
    /// The canary-versus-baseline judge, when the analysis asks for it.
    pub judge: Option<JudgePlan>,
    pub revision: RevisionNumber,
    pub baseline: Option<RevisionNumber>,
    /// Values for `{{args.NAME}}` placeholders.
    pub args: BTreeMap<String, String>,
    /// The instant the run starts, on the caller's clock; reported instants count from it.
    pub started_at: Timestamp,
}

/// An analysis the service cannot run. Validation of `bellwether.yaml` rules both out; a spec
/// built another way may still have them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("service `{service}` has no metric `{metric}`")]
    UnknownMetric { service: String, metric: String },
    #[error("the analysis asks for the judge, and service `{service}` declares no `judge`")]
    NoJudge { service: String },
    #[error("service `{service}` has no suite of checks `{suite}`")]
    UnknownSuite { service: String, suite: String },
}

impl RunRequest {
    /// The request for a `StartAnalysis` action: the analysis's metrics (all of the service's
    /// when it names no metric, suite or judge), a metric per suite of checks, and the judge.
    pub fn resolve(
        service: &ServiceSpec,
        run: RunId,
        analysis: &AnalysisRef,
        revision: RevisionNumber,
        baseline: Option<RevisionNumber>,
        started_at: Timestamp,
    ) -> Result<Self, ResolveError> {
        let lookup = |name: &String| {
            service
                .metric(name)
                .cloned()
                .ok_or_else(|| ResolveError::UnknownMetric {
                    service: service.name.clone(),
                    metric: name.clone(),
                })
        };
        let mut metrics = if analysis.is_all() {
            service.metrics.clone()
        } else {
            analysis
                .metrics
                .iter()
                .map(lookup)
                .collect::<Result<Vec<_>, _>>()?
        };
        for name in &analysis.verify {
            let suite = service
                .suite(name)
                .ok_or_else(|| ResolveError::UnknownSuite {
                    service: service.name.clone(),
                    suite: name.clone(),
                })?;
            metrics.push(MetricSpec::verify(suite));
        }
        let judge = match (&service.judge, analysis.judge) {
            (_, false) => None,
            (None, true) => {
                return Err(ResolveError::NoJudge {
                    service: service.name.clone(),
                });
            }
            (Some(spec), true) => {
                let judged = spec
                    .metrics
                    .iter()
                    .map(|m| lookup(&m.metric))
                    .collect::<Result<_, _>>()?;
                Some(JudgePlan::new(spec, judged))
            }
        };
        Ok(Self {
            service: service.name.clone(),
            run,
            metrics,
            judge,
            revision,
            baseline,
            args: analysis.args.clone(),
            started_at,
        })
    }
}

/// What the engine tells the rollout controller, the store and the dashboard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "report")]
pub enum Report {
    /// A measurement was taken, whatever its verdict.
    Measured {
        service: String,
        run: RunId,
        measurement: Box<Measurement>,
    },
    /// The judge decided: its judgement, every metric's classification and numbers included.
    /// The run's verdict follows.
    Judged {
        service: String,
        run: RunId,
        /// When the judge decided, on the engine's clock.
        at: Timestamp,
        judgement: Box<Judgement>,
    },
    /// The run reached its verdict and stopped measuring.
    Completed {
        service: String,
        run: RunId,
        verdict: Verdict,
        message: String,
    },
}

impl Report {
    /// The rollout event this report becomes, if any.
    pub fn event(&self) -> Option<EventKind> {
        match self {
            Report::Completed {
                run,
                verdict,
                message,
                ..
            } => Some(EventKind::AnalysisCompleted {
                run: *run,
                verdict: *verdict,
                message: message.clone(),
            }),
            Report::Measured { .. } | Report::Judged { .. } => None,
        }
    }
}

/// A run in progress. Dropping it stops the run, like [`RunHandle::stop`].
pub struct RunHandle {
    stop: oneshot::Sender<()>,
    conclude: Arc<Notify>,
    task: JoinHandle<()>,
    run: Arc<Mutex<Run>>,
}

impl RunHandle {
    /// The run as it stands: every metric's phase, counters and recent measurements.
    pub fn snapshot(&self) -> Run {
        self.run
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Asks the run for its verdict on the evidence so far ([`Run::conclude`]), which it
    /// reports as [`Report::Completed`] like any other.
    pub fn conclude(&self) {
        self.conclude.notify_one();
    }

    /// Stops measuring (in-flight measurements are dropped, job processes killed) and returns
    /// the run as it stood. Nothing more is reported for it.
    pub async fn stop(self) -> Run {
        let RunHandle {
            stop, task, run, ..
        } = self;
        let _ = stop.send(());
        let _ = task.await;
        let run = run.lock().unwrap_or_else(PoisonError::into_inner);
        run.clone()
    }

    /// Waits until the run ends by itself and returns it.
    pub async fn finished(self) -> Run {
        let RunHandle {
            stop, task, run, ..
        } = self;
        let _ = task.await;
        drop(stop);
        let run = run.lock().unwrap_or_else(PoisonError::into_inner);
        run.clone()
    }
}

impl Engine {
    pub fn new(providers: Arc<dyn MetricProvider>) -> Self {
        Self { providers }
    }

    /// Starts a run on the current tokio runtime; reports go to `reports` until it completes or
    /// is stopped. A closed `reports` channel does not stop the run.
    pub fn start(
        &self,
        mut request: RunRequest,
        reports: mpsc::UnboundedSender<Report>,
    ) -> RunHandle {
        let mode = Mode::of(request.run.kind);
        // One copy of each spec, shared by the run and the task that measures it.
        let specs: Vec<Arc<MetricSpec>> = std::mem::take(&mut request.metrics)
            .into_iter()
            .map(Arc::new)
            .collect();
        let mut run = Run::shared(specs.clone(), mode, request.started_at);
        if let Some(plan) = &request.judge {
            run = run.with_judge(plan.clone());
        }
        let run = Arc::new(Mutex::new(run));
        let (stop, stopped) = oneshot::channel();
        let conclude = Arc::new(Notify::new());
        let task = tokio::spawn(task::drive(
            request,
            specs,
            Arc::clone(&self.providers),
            reports,
            stopped,
            Arc::clone(&conclude),
            Arc::clone(&run),
        ));
        RunHandle {
            stop,
            conclude,
            task,
            run,
        }
    }
}

#[cfg(test)]
mod tests;
