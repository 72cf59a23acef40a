//! Drives one run: feeds the state machine its events, with the time they happened, and
//! carries out the actions it returns: steps start as tasks on the executor, cancellations
//! reach them, gates are answered, and observers see every change and every log line.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use bellwether_core::time::Timestamp;
use bellwether_pipeline_core::executor::Executor;
use bellwether_pipeline_core::mask::Masker;
use bellwether_pipeline_core::run::{
    Action, Conclusion, Event, InstanceId, Run, StepId, StepOutcome,
};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

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

/// How environment gates are answered in a local run.
#[derive(Clone, Debug, Default)]
pub struct Gates {
    /// Environments approved for this run by whoever started it (`--approve`).
    pub approved: Vec<String>,
}

pub struct Driver<E> {
    pub executor: Arc<E>,
    /// `<run>/logs`: one file per step.
    pub logs: PathBuf,
    pub masker: Arc<Masker>,
    pub observer: Arc<dyn Observer>,
    pub gates: Gates,
}

impl<E: Executor + 'static> Driver<E> {
    /// Plays `run` to its end; `control` may cancel it meanwhile.
    pub async fn drive(self, mut run: Run, mut control: mpsc::Receiver<Control>) -> Conclusion {
        let start = Instant::now();
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(StepId, StepOutcome)>();
        let mut cancels: BTreeMap<InstanceId, oneshot::Sender<()>> = BTreeMap::new();
        let mut events = VecDeque::from([Event::Start]);
        let mut control_open = true;
        loop {
            while let Some(event) = events.pop_front() {
                let at = Timestamp(u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX));
                let actions = run.apply(at, event, self.executor.as_ref());
                // Observers learn of new instances before their steps start printing.
                self.observer.update(&run, at);
                for action in actions {
                    self.act(&run, action, &mut cancels, &mut events, &done_tx);
                }
            }
            if let Some(conclusion) = run.conclusion() {
                return conclusion;
            }
            tokio::select! {
                Some((step, outcome)) = done_rx.recv() => {
                    cancels.remove(&step.instance);
                    events.push_back(Event::StepFinished { step, outcome });
                }
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
        events: &mut VecDeque<Event>,
        done: &mpsc::UnboundedSender<(StepId, StepOutcome)>,
    ) {
        match action {
            Action::RunStep(request) => {
                let (tx, rx) = oneshot::channel::<()>();
                cancels.insert(request.id.instance, tx);
                let log = StepLog::new(
                    &self.log_path(run, request.id, &request.name),
                    Arc::clone(&self.masker),
                    Arc::clone(&self.observer),
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
            Action::Gate {
                instance,
                environment,
            } => {
                let name = environment.name.clone();
                let rules = describe_rules(environment.approvals, environment.wait);
                events.push_back(if self.gates.approved.contains(&name) {
                    Event::GateOpened {
                        instance,
                        note: format!("environment `{name}` ({rules}): approved for this local run with --approve {name}; approvals through the API come with the control plane"),
                    }
                } else {
                    Event::GateRefused {
                        instance,
                        reason: format!("environment `{name}` needs {rules} (approve it for this local run with --approve {name})"),
                    }
                });
            }
            Action::Log { instance, text } => {
                self.observer.note(instance, &self.masker.mask_str(&text))
            }
            Action::Finished { .. } => {}
        }
    }

    /// `<logs>/<job>[-<n>]/<attempt>-<step>-<name>.log`
    fn log_path(&self, run: &Run, id: StepId, name: &str) -> PathBuf {
        let job = run
            .jobs()
            .get(id.instance.job)
            .map_or("job", |j| j.id.as_str());
        let instances = run
            .jobs()
            .get(id.instance.job)
            .map_or(1, |j| j.instances.len());
        let dir = if instances > 1 {
            format!("{job}-{}", id.instance.index + 1)
        } else {
            job.to_owned()
        };
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
        self.logs.join(dir).join(format!(
            "{}-{:02}-{}.log",
            id.attempt,
            id.step + 1,
            slug.trim_matches('-')
        ))
    }
}

fn describe_rules(approvals: u32, wait: std::time::Duration) -> String {
    let mut rules = Vec::new();
    if approvals > 0 {
        rules.push(format!(
            "{approvals} approval{}",
            if approvals == 1 { "" } else { "s" }
        ));
    }
    if !wait.is_zero() {
        rules.push(format!(
            "a {} wait timer",
            bellwether_core::time::human_duration(wait)
        ));
    }
    rules.join(" and ")
}
