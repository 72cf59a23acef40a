//! Drives one run: feeds the state machine its events, with the time they happened, and
//! carries out the actions it returns: steps start as tasks on the executor, cancellations
//! reach them, gates wait for their rules to pass, and observers see every change and every
//! log line.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bellwether_core::time::Timestamp;
use bellwether_pipeline_core::executor::Executor;
use bellwether_pipeline_core::mask::Masker;
use bellwether_pipeline_core::run::{
    Action, Conclusion, Event, InstanceId, Run, StepId, StepOutcome,
};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::gates::Gates;
use crate::sink::StepLog;

/// Who watches a run: the terminal, a test.
pub trait Observer: Send + Sync {
    /// The run changed: a job started or ended, a step began.
    fn update(&self, run: &Run, at: Timestamp);
    /// One line of a step's output, already masked.
    fn line(&self, instance: InstanceId, line: &[u8]);
    /// A line about the run, already masked: skips, retries, gates, failures.
    fn note(&self, instance: Option<InstanceId>, text: &str);
}

/// What can be asked of a run from outside while it goes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    Cancel(String),
}

pub struct Driver<E> {
    pub executor: Arc<E>,
    /// `<run>/logs`: one file per step.
    pub logs: PathBuf,
    pub masker: Arc<Masker>,
    /// Each sees everything, in this order.
    pub observers: Vec<Arc<dyn Observer>>,
    pub gates: Gates,
}

impl<E> Driver<E> {
    fn update(&self, run: &Run, at: Timestamp) {
        self.observers.iter().for_each(|o| o.update(run, at));
    }

    fn note(&self, instance: Option<InstanceId>, text: &str) {
        self.observers.iter().for_each(|o| o.note(instance, text));
    }
}

/// Hands every observation to each of several observers.
struct Fanout(Vec<Arc<dyn Observer>>);

impl Observer for Fanout {
    fn update(&self, run: &Run, at: Timestamp) {
        self.0.iter().for_each(|o| o.update(run, at));
    }

    fn line(&self, instance: InstanceId, line: &[u8]) {
        self.0.iter().for_each(|o| o.line(instance, line));
    }

    fn note(&self, instance: Option<InstanceId>, text: &str) {
        self.0.iter().for_each(|o| o.note(instance, text));
    }
}

impl<E: Executor + 'static> Driver<E> {
    /// Plays `run` to its end; `control` may cancel it meanwhile.
    pub async fn drive(self, mut run: Run, mut control: mpsc::Receiver<Control>) -> Conclusion {
        let start = Instant::now();
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(StepId, StepOutcome)>();
        let (gate_tx, mut gate_rx) = mpsc::unbounded_channel::<Event>();
        let mut gates = JoinSet::new();
        let mut cancels: BTreeMap<InstanceId, oneshot::Sender<()>> = BTreeMap::new();
        let mut events = VecDeque::from([Event::Start]);
        let mut control_open = true;
        loop {
            while let Some(event) = events.pop_front() {
                let at = Timestamp(u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX));
                let actions = run.apply(at, event, self.executor.as_ref());
                // Observers learn of new instances before their steps start printing.
                self.update(&run, at);
                for action in actions {
                    match action {
                        Action::Gate {
                            instance,
                            environment,
                        } => {
                            let waiter = self.gates.waiter(instance, environment);
                            let tx = gate_tx.clone();
                            let observer: Arc<dyn Observer> =
                                Arc::new(Fanout(self.observers.clone()));
                            gates.spawn(async move {
                                let event = waiter.wait(observer.as_ref()).await;
                                let _ = tx.send(event);
                            });
                        }
                        other => self.act(&run, other, &mut cancels, &done_tx),
                    }
                }
            }
            if let Some(conclusion) = run.conclusion() {
                // Gates still waiting belong to instances that were cancelled meanwhile.
                gates.abort_all();
                return conclusion;
            }
            tokio::select! {
                Some((step, outcome)) = done_rx.recv() => {
                    cancels.remove(&step.instance);
                    events.push_back(Event::StepFinished { step, outcome });
                }
                Some(event) = gate_rx.recv() => events.push_back(event),
                message = control.recv(), if control_open => match message {
                    Some(Control::Cancel(reason)) => events.push_back(Event::Cancel { reason }),
                    None => control_open = false,
                },
            }
        }
    }

    fn act(
        &self,
        run: &Run,
        action: Action,
        cancels: &mut BTreeMap<InstanceId, oneshot::Sender<()>>,
        done: &mpsc::UnboundedSender<(StepId, StepOutcome)>,
    ) {
        match action {
            Action::RunStep(request) => {
                let (tx, rx) = oneshot::channel::<()>();
                cancels.insert(request.id.instance, tx);
                let log = StepLog::new(
                    &self.log_path(run, request.id, &request.name),
                    Arc::clone(&self.masker),
                    Arc::new(Fanout(self.observers.clone())),
                    request.id.instance,
                );
                let executor = Arc::clone(&self.executor);
                let done = done.clone();
                tokio::spawn(async move {
                    let id = request.id;
                    // A dropped sender means the step finished first; only a send cancels.
                    let cancel = Box::pin(async move {
                        if rx.await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    });
                    let outcome = executor.run_step(request, Box::new(log), cancel).await;
                    let _ = done.send((id, outcome));
                });
            }
            Action::CancelStep { instance } => {
                if let Some(tx) = cancels.remove(&instance) {
                    let _ = tx.send(());
                }
            }
            Action::Log { instance, text } => self.note(instance, &self.masker.mask_str(&text)),
            Action::Gate { .. } | Action::Finished { .. } => {}
        }
    }

    /// `<logs>/<job>[-<n>]/<attempt>-<step>-<name>.log`
    fn log_path(&self, run: &Run, id: StepId, name: &str) -> PathBuf {
        // A name may hold a secret (`name: deploy ${{ secrets.X }}`): file names are masked too.
        let slug: String = self
            .masker
            .mask_str(name)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .take(40)
            .collect();
        instance_log_dir(&self.logs, run, id.instance).join(format!(
            "{}-{:02}-{}.log",
            id.attempt,
            id.step + 1,
            slug.trim_matches('-')
        ))
    }
}

/// Where the step logs of `instance` go under `logs`: `<job>`, or `<job>-<n>` for the n-th
/// combination of a matrix.
pub fn instance_log_dir(logs: &Path, run: &Run, instance: InstanceId) -> PathBuf {
    let job = run.jobs().get(instance.job);
    let id = job.map_or("job", |j| j.id.as_str());
    if job.map_or(1, |j| j.instances.len()) > 1 {
        logs.join(format!("{id}-{}", instance.index + 1))
    } else {
        logs.join(id)
    }
}
