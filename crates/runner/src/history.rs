//! A run's history as it happens: an [`Observer`] that turns each change of the run (a job
//! or instance that moved, a gate reached or decided, a note) into rows of the store, and
//! [`StoreReviews`], which answers the run's gates from the reviews people stored.
//!
//! The observer only compares and queues; a thread of its own writes whatever has queued up
//! in one transaction at a time, so a thousand-job run costs a few dozen commits, not
//! thousands, and the run never waits for the disk.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bellwether_core::time::Timestamp;
use bellwether_pipeline_core::gate::Review;
use bellwether_pipeline_core::mask::Masker;
use bellwether_pipeline_core::run::{
    Conclusion, Instance, InstanceId, InstanceStatus, JobPhase, JobState, Run, StepStatus,
};
use bellwether_store::{Change, GateRow, InstanceRow, JobRow, RunHistory, RunStatus, StoreError};

use crate::clock::now_ms;
use crate::driver::instance_log_dir;
use crate::gates::Reviews;
use crate::observer::Observer;

/// Records one attempt of one run.
pub struct History {
    attempt: u32,
    /// The wall-clock time, in ms since the epoch, of the run's `Timestamp(0)`.
    epoch_ms: u64,
    logs: PathBuf,
    masker: Arc<Masker>,
    seen: Mutex<Seen>,
    queue: Mutex<Option<Sender<Change>>>,
    writer: Mutex<Option<JoinHandle<Result<(), StoreError>>>>,
}

/// What, of an instance, changes its row: status, steps, attempt, whether its last step runs.
type InstanceSignature = (InstanceStatus, usize, u32, usize);

#[derive(Default)]
struct Seen {
    jobs: Vec<(JobPhase, usize)>,
    job_ids: Vec<String>,
    /// Each job's instances' signatures, by job position then instance index: looked up for
    /// every instance at every update, so by index rather than in a map.
    instances: Vec<Vec<Option<InstanceSignature>>>,
    /// Gated instances and when their gate was reached.
    gated: BTreeMap<InstanceId, (String, u64)>,
    status: Option<RunStatus>,
}

impl History {
    /// Starts recording attempt `attempt` of run `number`, whose driver started at `epoch_ms`
    /// and writes step logs under `logs`.
    pub fn start(
        store: Arc<dyn RunHistory>,
        number: u64,
        attempt: u32,
        epoch_ms: u64,
        logs: PathBuf,
        masker: Arc<Masker>,
    ) -> History {
        let (tx, rx) = channel();
        let writer = std::thread::spawn(move || write(store.as_ref(), number, &rx));
        History {
            attempt,
            epoch_ms,
            logs,
            masker,
            seen: Mutex::new(Seen::default()),
            queue: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
        }
    }

    /// Writes what is queued and stops; the first error the writer met, if any.
    pub fn finish(&self) -> Result<(), StoreError> {
        if let Ok(mut queue) = self.queue.lock() {
            queue.take();
        }
        let writer = self.writer.lock().ok().and_then(|mut w| w.take());
        match writer.map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) | None => Ok(()),
        }
    }

    fn send(&self, changes: Vec<Change>) {
        if let Ok(queue) = self.queue.lock()
            && let Some(tx) = queue.as_ref()
        {
            for change in changes {
                let _ = tx.send(change);
            }
        }
    }

    fn ms(&self, at: Timestamp) -> u64 {
        self.epoch_ms + at.as_millis()
    }

    fn mask(&self, text: &str) -> String {
        self.masker.mask_str(text).into_owned()
    }

    fn job_row(&self, position: usize, job: &JobState) -> JobRow {
        JobRow {
            job: job.id.clone(),
            position: u32::try_from(position).unwrap_or(u32::MAX),
            name: self.mask(&job.name),
            conclusion: job.conclusion().map(|c| c.as_str().to_owned()),
            message: job.message.as_deref().map(|m| self.mask(m)),
            // An output that holds a secret is kept masked: history never holds a secret.
            outputs: job
                .outputs
                .iter()
                .map(|(k, v)| (k.clone(), self.mask(v)))
                .collect(),
            reused_from: job.reused_from,
        }
    }

    fn instance_row(&self, run: &Run, id: InstanceId, instance: &Instance) -> InstanceRow {
        let steps = instance
            .steps
            .iter()
            .map(|s| {
                serde_json::json!({
                    "name": self.mask(&s.name),
                    "id": s.id,
                    "status": match s.status {
                        StepStatus::Running => "running",
                        StepStatus::Done { conclusion, .. } => conclusion.as_str(),
                    },
                    "exit": s.exit.as_ref().map(|e| self.mask(&e.to_string())),
                    "started_ms": s.started_at.map(|t| self.ms(t)),
                    "finished_ms": s.finished_at.map(|t| self.ms(t)),
                })
            })
            .collect();
        let job = &run.jobs()[id.job];
        InstanceRow {
            job: job.id.clone(),
            index: u32::try_from(id.index).unwrap_or(u32::MAX),
            position: u32::try_from(id.job).unwrap_or(u32::MAX),
            name: self.mask(&instance.name),
            status: status_text(instance.status).to_owned(),
            job_attempt: instance.attempt,
            started_ms: instance.started_at.map(|t| self.ms(t)),
            finished_ms: instance.finished_at.map(|t| self.ms(t)),
            message: instance.message.as_deref().map(|m| self.mask(m)),
            steps: serde_json::Value::Array(steps),
            logs: Some(instance_log_dir(&self.logs, run, id).display().to_string()),
        }
    }
}

impl Observer for History {
    fn update(&self, run: &Run, at: Timestamp) {
        let at_ms = self.ms(at);
        let attempt = self.attempt;
        let mut changes = Vec::new();
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        if seen.job_ids.is_empty() {
            seen.job_ids = run.jobs().iter().map(|j| j.id.clone()).collect();
        }
        seen.jobs
            .resize(run.jobs().len(), (JobPhase::Waiting, usize::MAX));
        seen.instances.resize_with(run.jobs().len(), Vec::new);
        for (position, job) in run.jobs().iter().enumerate() {
            let signature = (job.phase, job.instances.len());
            if seen.jobs[position] != signature {
                seen.jobs[position] = signature;
                changes.push(Change::Job {
                    attempt,
                    row: self.job_row(position, job),
                    at_ms,
                });
            }
            for (index, instance) in job.instances.iter().enumerate() {
                let id = InstanceId {
                    job: position,
                    index,
                };
                let last_step = instance
                    .steps
                    .last()
                    .map_or(0, |s| usize::from(s.status == StepStatus::Running));
                let signature = (
                    instance.status,
                    instance.steps.len(),
                    instance.attempt,
                    last_step,
                );
                let known = &mut seen.instances[position];
                if known.len() <= index {
                    known.resize(index + 1, None);
                }
                if known[index] != Some(signature) {
                    known[index] = Some(signature);
                    changes.push(Change::Instance {
                        attempt,
                        row: self.instance_row(run, id, instance),
                    });
                }
                gate_change(&mut seen, id, job, instance, attempt, at_ms, &mut changes);
            }
        }
        let status = match run.conclusion() {
            Some(Conclusion::Success) => RunStatus::Success,
            Some(Conclusion::Cancelled) => RunStatus::Cancelled,
            Some(_) => RunStatus::Failure,
            None if seen.gated.is_empty() => RunStatus::Running,
            None => RunStatus::Waiting,
        };
        if seen.status != Some(status) {
            seen.status = Some(status);
            changes.push(Change::Status {
                attempt,
                status,
                at_ms,
            });
        }
        drop(seen);
        self.send(changes);
    }

    fn line(&self, _: InstanceId, _: &[u8]) {}

    fn note(&self, instance: Option<InstanceId>, text: &str) {
        let job = instance.and_then(|i| {
            self.seen
                .lock()
                .ok()
                .and_then(|s| s.job_ids.get(i.job).cloned())
        });
        self.send(vec![Change::Note {
            attempt: self.attempt,
            job,
            text: self.mask(text),
            at_ms: now_ms(),
        }]);
    }
}

/// A gate reached, or left: with the verdict its instance's new status shows.
fn gate_change(
    seen: &mut Seen,
    id: InstanceId,
    job: &JobState,
    instance: &Instance,
    attempt: u32,
    at_ms: u64,
    changes: &mut Vec<Change>,
) {
    let gated = instance.status == InstanceStatus::Gated;
    let row = |environment: String, since_ms, state: &str, decided_ms| GateRow {
        job: job.id.clone(),
        index: u32::try_from(id.index).unwrap_or(u32::MAX),
        environment,
        since_ms,
        state: state.to_owned(),
        decided_ms,
    };
    match (gated, seen.gated.get(&id).cloned()) {
        (true, None) => {
            let environment = instance.environment.clone().unwrap_or_default();
            seen.gated.insert(id, (environment.clone(), at_ms));
            changes.push(Change::Gate {
                attempt,
                row: row(environment, at_ms, "waiting", None),
                at_ms,
            });
        }
        (false, Some((environment, since_ms))) => {
            seen.gated.remove(&id);
            let state = match instance.status {
                InstanceStatus::Done {
                    outcome: Conclusion::Cancelled,
                    ..
                } => "cancelled",
                InstanceStatus::Done {
                    outcome: Conclusion::Failure,
                    ..
                } => "refused",
                _ => "open",
            };
            changes.push(Change::Gate {
                attempt,
                row: row(environment, since_ms, state, Some(at_ms)),
                at_ms,
            });
        }
        _ => {}
    }
}

fn status_text(status: InstanceStatus) -> &'static str {
    match status {
        InstanceStatus::Pending => "pending",
        InstanceStatus::Gated => "gated",
        InstanceStatus::Queued => "queued",
        InstanceStatus::Running => "running",
        InstanceStatus::Done { conclusion, .. } => conclusion.as_str(),
    }
}

/// Writes what the observer queues, a batch per transaction, until the queue closes.
fn write(store: &dyn RunHistory, number: u64, rx: &Receiver<Change>) -> Result<(), StoreError> {
    let mut first_error = None;
    while let Ok(change) = rx.recv() {
        let mut batch = vec![change];
        batch.extend(rx.try_iter());
        if let Err(e) = store.record(number, &batch)
            && first_error.is_none()
        {
            first_error = Some(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// The reviews of one attempt of a run, from the store.
pub struct StoreReviews {
    pub store: Arc<dyn RunHistory>,
    pub run: u64,
    pub attempt: u32,
}

impl Reviews for StoreReviews {
    fn reviews(&self, environment: &str) -> Result<Vec<Review>, StoreError> {
        let rows = self
            .store
            .reviews(self.run, self.attempt, Some(environment))?;
        Ok(rows
            .into_iter()
            .map(|r| Review {
                by: r.by,
                approved: r.approved,
                comment: r.comment,
            })
            .collect())
    }
}
