//! Drives one run: feeds the state machine its events, with the time they happened, and
//! carries out the actions it returns: steps start as tasks on the executor, cancellations
//! reach them, gates wait for their rules to pass, and observers see every change and every
//! log line.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bellwether_core::error::chain;
use bellwether_core::time::Timestamp;
use bellwether_pipeline_core::executor::Executor;
use bellwether_pipeline_core::mask::Masker;
use bellwether_pipeline_core::run::{
    Action, Conclusion, Event, ExitStatus, InstanceId, Run, StepId, StepOutcome,
};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::concurrency::{Group, GroupHold, POLL};
use crate::gates::Gates;
use crate::observer::{Fanout, Observer};
use crate::sink::StepLog;
use crate::workspace::Instances;

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
    /// The data directory and this run's number, for job concurrency groups that hold across
    /// runs; `None` keeps them within the run.
    pub across_runs: Option<(PathBuf, u64)>,
    /// The pipeline's concurrency group, held for the whole run: a newer run's request to
    /// stop cancels it.
    pub run_group: Option<GroupHold>,
    /// Each instance's own workspace, made before its first step (again for each of its
    /// attempts) and removed when it ends; `None` when every instance shares one.
    pub workspaces: Option<Arc<Instances>>,
}

/// An instance's workspace to make before its step runs, and the name it goes by.
type Fresh = Option<(Arc<Instances>, String)>;

/// A job's concurrency group held across runs, by the instance it belongs to.
type Holds = BTreeMap<InstanceId, GroupHold>;

impl<E> Driver<E> {
    fn update(&self, run: &Run, at: Timestamp) {
        self.observers.iter().for_each(|o| o.update(run, at));
    }

    fn note(&self, instance: Option<InstanceId>, text: &str) {
        self.observers.iter().for_each(|o| o.note(instance, text));
    }
}

impl<E: Executor + 'static> Driver<E> {
    /// Plays `run` to its end; `control` may cancel it meanwhile.
    pub async fn drive(mut self, mut run: Run, mut control: mpsc::Receiver<Control>) -> Conclusion {
        let start = Instant::now();
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(StepId, StepOutcome)>();
        let (gate_tx, mut gate_rx) = mpsc::unbounded_channel::<Event>();
        let mut gates = JoinSet::new();
        let mut cancels: BTreeMap<InstanceId, oneshot::Sender<()>> = BTreeMap::new();
        let mut events = VecDeque::from([Event::Start]);
        let mut control_open = true;
        let (hold_tx, mut hold_rx) = mpsc::unbounded_channel::<(InstanceId, GroupHold)>();
        let mut holds = Holds::new();
        let mut claimed = BTreeSet::new();
        // The instances whose workspace is made, with the attempt it was made for.
        let mut made: BTreeMap<InstanceId, u32> = BTreeMap::new();
        let mut removals = JoinSet::new();
        let mut probe = tokio::time::interval(POLL);
        loop {
            while let Some(event) = events.pop_front() {
                let at = Timestamp(u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX));
                let actions = run.apply(at, event, self.executor.as_ref());
                let going_on = |id: &InstanceId| run.instance(*id).is_some_and(|i| !i.is_done());
                holds.retain(|id, _| going_on(id));
                claimed.retain(going_on);
                if let Some(workspaces) = &self.workspaces {
                    made.retain(|id, _| {
                        let keep = going_on(id);
                        if !keep {
                            let workspaces = Arc::clone(workspaces);
                            let name = run.instance_name(*id);
                            removals.spawn_blocking(move || workspaces.remove(&name));
                        }
                        keep
                    });
                }
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
                        other => {
                            let claim = self.claim(&run, &other, &mut claimed, &hold_tx);
                            let fresh = self.fresh(&run, &other, &mut made);
                            self.act(&run, other, claim, fresh, &mut cancels, &done_tx);
                        }
                    }
                }
            }
            if let Some(conclusion) = run.conclusion() {
                // Gates still waiting belong to instances that were cancelled meanwhile.
                gates.abort_all();
                while removals.join_next().await.is_some() {}
                return conclusion;
            }
            tokio::select! {
                Some((step, outcome)) = done_rx.recv() => {
                    cancels.remove(&step.instance);
                    events.push_back(Event::StepFinished { step, outcome });
                }
                Some(event) = gate_rx.recv() => events.push_back(event),
                Some((instance, hold)) = hold_rx.recv() => {
                    if run.instance(instance).is_some_and(|i| !i.is_done()) {
                        holds.insert(instance, hold);
                    }
                }
                _ = probe.tick(), if !holds.is_empty() || self.run_group.is_some() => {
                    let held = self.run_group.iter().chain(holds.values());
                    if let Some(reason) = held.clone().find_map(GroupHold::cancel_requested) {
                        // Asked once is enough: the run is cancelled from here on.
                        holds.clear();
                        self.run_group = None;
                        events.push_back(Event::Cancel { reason });
                    }
                }
                message = control.recv(), if control_open => match message {
                    Some(Control::Cancel(reason)) => events.push_back(Event::Cancel { reason }),
                    None => control_open = false,
                },
            }
        }
    }

    /// For the first step of an instance whose job has a concurrency group: the group across
    /// runs, to enter before the step starts (the core keeps it to one instance per run).
    fn claim(
        &self,
        run: &Run,
        action: &Action,
        claimed: &mut BTreeSet<InstanceId>,
        hold_tx: &mpsc::UnboundedSender<(InstanceId, GroupHold)>,
    ) -> Option<Claim> {
        let (Action::RunStep(request), Some((data, number))) = (action, &self.across_runs) else {
            return None;
        };
        let id = request.id.instance;
        let name = run.instance(id)?.group()?;
        if !claimed.insert(id) {
            return None;
        }
        let cancel_in_progress = run.spec().jobs[id.job]
            .concurrency
            .as_ref()
            .is_some_and(|c| c.cancel_in_progress);
        Some(Claim {
            instance: id,
            group: Group::new(data, name),
            run: *number,
            cancel_in_progress,
            granted: hold_tx.clone(),
        })
    }

    /// For a step of an instance (or of an attempt of it) whose workspace is not made yet:
    /// the workspace to make first.
    fn fresh(&self, run: &Run, action: &Action, made: &mut BTreeMap<InstanceId, u32>) -> Fresh {
        let (Action::RunStep(request), Some(workspaces)) = (action, &self.workspaces) else {
            return None;
        };
        let id = request.id;
        (made.insert(id.instance, id.attempt) != Some(id.attempt))
            .then(|| (Arc::clone(workspaces), run.instance_name(id.instance)))
    }

    fn act(
        &self,
        run: &Run,
        action: Action,
        claim: Option<Claim>,
        fresh: Fresh,
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
                let observer = Fanout(self.observers.clone());
                tokio::spawn(async move {
                    let id = request.id;
                    // A dropped sender means the step finished first; only a send cancels.
                    let mut cancel = Box::pin(async move {
                        if rx.await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    });
                    if let Some(claim) = claim {
                        let entered = tokio::select! {
                            entered = claim.enter(&observer) => entered,
                            () = &mut cancel => Err(None),
                        };
                        if let Err(why) = entered {
                            if let Some(why) = why {
                                observer.note(Some(id.instance), &why);
                            }
                            let cancelled = StepOutcome::status(ExitStatus::Cancelled);
                            let _ = done.send((id, cancelled));
                            return;
                        }
                    }
                    if let Some((workspaces, name)) = fresh {
                        let made = tokio::task::spawn_blocking(move || workspaces.make(&name))
                            .await
                            .map_err(|e| e.to_string())
                            .and_then(|made| made.map_err(|e| chain(&e)));
                        if let Err(why) = made {
                            let why = format!("cannot prepare its workspace: {why}");
                            observer.note(Some(id.instance), &why);
                            let failed = StepOutcome::status(ExitStatus::Error(why));
                            let _ = done.send((id, failed));
                            return;
                        }
                    }
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

/// A job's concurrency group to enter across runs before its first step.
struct Claim {
    instance: InstanceId,
    group: Group,
    run: u64,
    cancel_in_progress: bool,
    granted: mpsc::UnboundedSender<(InstanceId, GroupHold)>,
}

impl Claim {
    /// Waits for the group; `Err` with why when a newer run took this one's place.
    async fn enter(self, observer: &dyn Observer) -> Result<(), Option<String>> {
        let instance = Some(self.instance);
        let waiting = |note: &str| observer.note(instance, note);
        let hold = self
            .group
            .join(self.run, self.cancel_in_progress, waiting)
            .await
            .map_err(Some)?;
        let _ = self.granted.send((self.instance, hold));
        Ok(())
    }
}

/// Where the step logs of `instance` go under `logs`: `<job>`, or `<job>-<n>` for the n-th
/// combination of a matrix.
pub fn instance_log_dir(logs: &Path, run: &Run, instance: InstanceId) -> PathBuf {
    logs.join(run.instance_name(instance))
}
