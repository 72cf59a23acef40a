//! One service's controller: a task that owns the service's rollout log. Every input (an API
//! call, a readiness change, an analysis verdict, a timer) becomes a core event; the event is
//! stored first, then the actions it leads to are performed, so a control plane killed at any
//! moment resumes from the last stored event.
//!
//! A store error never switches a rollout's safety off. An append that conflicts (another
//! writer, or an earlier append that landed although the store answered with an error) reads
//! the events it missed, performs their actions, and decides its event again. The events that
//! take traffic from a failing revision, analysis verdicts and the abort of a revision that
//! cannot start, are kept until stored, retried with a doubling back-off, and nothing else is
//! recorded before them.

mod inputs;
mod perform;
mod requests;
mod synthetic;

use std::collections::{BTreeSet, VecDeque};
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bellwether_analysis::engine::Report;
use bellwether_api::{DeployRequest, EventView};
use bellwether_core::error::chain;
use bellwether_core::platform::ServiceState;
use bellwether_core::rollout::{Action, Command, Event, EventKind, RevisionNumber};
use bellwether_core::spec::ServiceSpec;
use bellwether_core::time::Timestamp;
use bellwether_store::{RolloutLog, StoreError, kind_of};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep_until};

use crate::context::Context;
use crate::listener::{Listeners, Routers};
use crate::metrics::Measured;
use crate::shared::{Shared, lock};
use crate::template::KeptRevision;
use crate::traffic::Routing;
use crate::{ControlError, analyses, history};

/// How long the listeners of a restarted control plane wait for the replicas the rollout counts
/// on to be ready again (adopted replicas are probed before they take traffic).
const SETTLE_LIMIT: Duration = Duration::from_secs(10);

/// How long an event that must be stored waits after the store first fails it; each failure
/// after that doubles the wait, up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// How often an event is decided again after its append conflicted: more conflicts in a row
/// mean another writer keeps racing this one, and the caller hears of it.
const CONFLICT_RETRIES: usize = 3;

pub(crate) type Reply = oneshot::Sender<Result<(), ControlError>>;

/// What the rest of the control plane asks of a service's controller.
pub(crate) enum Request {
    Deploy(DeployRequest, Reply),
    Command(Command, String, Reply),
    Undo(Option<RevisionNumber>, String, Reply),
    /// The service's spec changed (`apply`); the routers may be new too.
    Respec(Box<ServiceSpec>, Routers, Reply),
    /// Stop the controller (and the service's replicas when `scale_to_zero`).
    Stop {
        scale_to_zero: bool,
        done: oneshot::Sender<()>,
    },
}

pub(crate) struct Actor {
    service: String,
    /// Shared with the API's view of the service.
    spec: Arc<ServiceSpec>,
    log: RolloutLog,
    shared: Arc<Mutex<Shared>>,
    context: Context,
    routers: Routers,
    /// Opens the service's listeners; see [`Actor::open_when_settled`].
    gate: watch::Sender<bool>,
    platform: watch::Receiver<ServiceState>,
    /// The service's revisions as the platform last published them.
    replicas: ServiceState,
    /// Replicas seen ready since this controller started, by revision and index.
    ever_ready: BTreeSet<(RevisionNumber, u32)>,
    /// Analysis reports, on a channel made when the service's first analysis starts: a channel
    /// allocates room for 32 messages up front, which thousands of services would pay for
    /// nothing.
    reports: Option<mpsc::UnboundedReceiver<Report>>,
    reports_tx: Option<mpsc::UnboundedSender<Report>>,
    /// Events that performing actions gave rise to, recorded next.
    pending: VecDeque<Event>,
    /// Events that must be stored before any other, oldest first.
    unstored: VecDeque<Event>,
    /// When the store, having failed an event that must be stored or a readiness report, is
    /// asked again; and the wait before that, doubled at each failure in a row.
    retry_due: Option<Instant>,
    retry_wait: Duration,
    /// The instant of a timer event that left its deadline where it was.
    stalled_tick: Option<Timestamp>,
    /// The canary's synthetic traffic, while its strategy asks for it.
    synthetic: synthetic::Synthetic,
    measured: Measured,
    /// The routing last written as the cluster's objects, when the cluster routes the service.
    cluster_routed: Option<Routing>,
    /// Actions waiting until the cluster routes as the rollout stands, oldest first.
    held: Vec<Action>,
    /// Why the cluster does not route as the rollout stands, while its write fails.
    routing_pending: Option<String>,
}

impl Actor {
    /// Loads the service's rollout, revisions and finished analyses from the store.
    pub(crate) async fn load(
        context: Context,
        spec: ServiceSpec,
        listeners: &Listeners,
    ) -> Result<(Self, Arc<Mutex<Shared>>), ControlError> {
        let (listen, preview_listen) = listeners.addrs();
        let store = Arc::clone(&context.store);
        let name = spec.name.clone();
        let (log, revisions, finished) = context
            .blocking(move || {
                let log = RolloutLog::load(store.as_ref(), &name)?;
                let revisions = bellwether_store::Store::revisions(store.as_ref(), &name)?
                    .into_iter()
                    .map(KeptRevision::from)
                    .collect();
                let finished = analyses::load(store.as_ref(), &name, log.rollout.attempt)?;
                Ok((log, revisions, finished))
            })
            .await?;
        let spec = Arc::new(spec);
        let shared = Arc::new(Mutex::new(Shared {
            spec: Arc::clone(&spec),
            rollout: log.rollout.clone(),
            revisions,
            runs: Vec::new(),
            finished,
            listen,
            preview_listen,
            routing_pending: None,
        }));
        let actor = Self {
            service: spec.name.clone(),
            platform: context.platform.watch(&spec.name),
            spec,
            log,
            shared: Arc::clone(&shared),
            context,
            routers: listeners.routers(),
            gate: listeners.gate(),
            replicas: ServiceState::new(),
            ever_ready: BTreeSet::new(),
            reports: None,
            reports_tx: None,
            pending: VecDeque::new(),
            unstored: VecDeque::new(),
            retry_due: None,
            retry_wait: Duration::ZERO,
            stalled_tick: None,
            synthetic: synthetic::Synthetic::new(),
            measured: Measured::default(),
            cluster_routed: None,
            held: Vec::new(),
            routing_pending: None,
        };
        Ok((actor, shared))
    }

    /// Re-establishes what the stored rollout asks for (adopting the replicas a previous
    /// control plane left running), says so on `started`, then serves inputs until stopped.
    ///
    /// Memory per service is what makes thousands of them cheap or not. The actor is boxed (an
    /// async fn keeps its arguments twice), and so is each handler, since handling an input
    /// takes a much larger future than waiting for one: it is allocated while an input is
    /// handled, not for the whole life of the service.
    pub(crate) async fn run(
        mut self: Box<Self>,
        mut inbox: mpsc::Receiver<Box<Request>>,
        started: oneshot::Sender<()>,
    ) {
        Box::pin(self.resync()).await;
        let _ = started.send(());
        Box::pin(self.on_platform()).await;
        let settle_limit = Instant::now() + SETTLE_LIMIT;
        loop {
            let timer = self.next_tick();
            let wake = self.context.clock.instant_of(timer.unwrap_or_default());
            let settling = !*self.gate.borrow();
            let retry = self.retry_due;
            tokio::select! {
                request = inbox.recv() => {
                    let Some(request) = request else { return };
                    if Box::pin(self.handle(*request)).await.is_break() {
                        return;
                    }
                }
                Ok(()) = self.platform.changed() => Box::pin(self.on_platform()).await,
                Some(report) = next_report(&mut self.reports) => {
                    Box::pin(self.on_report(report)).await;
                }
                // The rollout's own progress waits while actions wait for the cluster's
                // routing: no step is entered on top of traffic the cluster has not taken.
                () = sleep_until(wake), if timer.is_some() && self.held.is_empty() => {
                    Box::pin(self.on_tick(timer.unwrap_or_default())).await;
                }
                () = sleep_until(retry.unwrap_or(settle_limit)), if retry.is_some() => {
                    Box::pin(self.retry()).await;
                }
                () = sleep_until(settle_limit), if settling => {
                    tracing::warn!(service = %self.service, "replicas the rollout counts on are not ready again after {SETTLE_LIMIT:?}; serving anyway");
                    self.gate.send_replace(true);
                }
            }
        }
    }

    async fn resync(&mut self) {
        let resync = self.log.rollout.resync();
        self.perform(resync).await;
        self.flush().await;
    }

    /// Records an event happening now, then performs what it leads to.
    async fn submit(&mut self, kind: EventKind) -> Result<(), ControlError> {
        self.submit_at(self.context.clock.now(), kind).await
    }

    async fn submit_at(&mut self, at: Timestamp, kind: EventKind) -> Result<(), ControlError> {
        if !self.flush().await {
            let waiting = self.unstored.front().map(kind_of).unwrap_or_default();
            return Err(ControlError::Unstored(format!("a `{waiting}` event")));
        }
        let recorded = self.record(Event::new(at, kind)).await;
        self.flush().await;
        recorded
    }

    /// Records an event that must not be lost (it takes traffic from a failing revision): it
    /// is retried until stored, and nothing else is recorded before it.
    async fn insist(&mut self, kind: EventKind) {
        if !self.unstored.iter().any(|e| e.kind == kind) {
            let event = Event::new(self.context.clock.now(), kind);
            self.unstored.push_back(event);
        }
        self.flush().await;
    }

    /// Records the events that performing actions gave rise to and those the store failed,
    /// oldest first; whether none is left waiting.
    async fn flush(&mut self) -> bool {
        loop {
            self.unstored.extend(self.pending.drain(..));
            let Some(first) = self.unstored.front() else {
                return true;
            };
            if !self.awaits(&first.kind) {
                self.unstored.pop_front();
                continue;
            }
            // It happens when it is stored: the delays that follow an abort count from then.
            let at = self.context.clock.now().max(first.at);
            let (event, kind) = (Event::new(at, first.kind.clone()), kind_of(first));
            match self.record(event).await {
                // An abort of a rollout already over is done with too.
                Ok(()) | Err(ControlError::Rejected(_)) => {
                    self.unstored.pop_front();
                }
                Err(e) => {
                    let wait = self.back_off();
                    tracing::error!(service = %self.service, "cannot record a `{kind}` event, retrying in {wait:?}: {}", chain(&e));
                    return false;
                }
            }
        }
    }

    /// Asks the store or the cluster again after a failure, a little later each time in a row.
    fn back_off(&mut self) -> Duration {
        self.retry_wait = if self.retry_wait.is_zero() {
            RETRY_FIRST
        } else {
            (self.retry_wait * 2).min(RETRY_MAX)
        };
        self.retry_due = Some(Instant::now() + self.retry_wait);
        self.retry_wait
    }

    /// Retries what the cluster's routing or the store failed: the actions waiting for the
    /// routing, the events waiting for the store; once all is done, reports what the platform
    /// runs, which was not recorded meanwhile.
    async fn retry(&mut self) {
        self.retry_due = None;
        let performed = self.perform(Vec::new()).await;
        if self.flush().await && self.report_readiness().await && performed {
            self.retry_wait = Duration::ZERO;
        }
    }

    /// Stores `event` if the rollout accepts it, then performs its actions. A rejected event is
    /// not stored; on a store error nothing is performed and the rollout stays as it was. An
    /// append that conflicts performs the events it missed, then decides `event` again.
    async fn record(&mut self, event: Event) -> Result<(), ControlError> {
        let mut conflicts = 0;
        loop {
            match self.record_once(event.clone()).await {
                Err(ControlError::Store(StoreError::Conflict { .. }))
                    if conflicts < CONFLICT_RETRIES =>
                {
                    conflicts += 1;
                    self.catch_up().await?;
                    if !self.awaits(&event.kind) {
                        return Ok(());
                    }
                }
                recorded => return recorded,
            }
        }
    }

    /// Whether the rollout still waits for an event like `kind`: a verdict of a run it no
    /// longer waits for (stored already, or the rollout moved on) changes nothing, and is not
    /// stored again.
    fn awaits(&self, kind: &EventKind) -> bool {
        match kind {
            EventKind::AnalysisCompleted { run, .. } => {
                self.log.rollout.analyses.iter().any(|a| a.run == *run)
            }
            _ => true,
        }
    }

    async fn record_once(&mut self, event: Event) -> Result<(), ControlError> {
        let store = Arc::clone(&self.context.store);
        let metrics = self.context.metrics.clone();
        let mut log = self.log.clone();
        let (log, outcome) = self
            .context
            .store_threads
            .run(move || {
                let started = std::time::Instant::now();
                let outcome = log.record(store.as_ref(), &event);
                // A rejected event or a failed append commits nothing.
                if matches!(outcome, Ok(Ok(_))) {
                    metrics.committed(started.elapsed());
                }
                (log, outcome.map(|o| (o, event)))
            })
            .await?;
        let (outcome, event) = outcome?;
        let actions = outcome?;
        self.log = log;
        self.acted(&event, actions).await;
        Ok(())
    }

    /// Folds in the events stored since this controller's last, performing their actions as
    /// if it had recorded them.
    async fn catch_up(&mut self) -> Result<(), ControlError> {
        let store = Arc::clone(&self.context.store);
        let log = self.log.clone();
        let missed = self
            .context
            .blocking(move || log.unseen(store.as_ref()))
            .await?;
        tracing::warn!(service = %self.service, "the rollout's stream moved on by {} events this controller did not record; following them", missed.len());
        for (seq, event) in missed {
            let actions = self.log.follow(seq, &event);
            self.acted(&event, actions).await;
        }
        Ok(())
    }

    /// Performs the actions of `event`, now stored, and tells the event stream.
    async fn acted(&mut self, event: &Event, actions: Vec<Action>) {
        let view = EventView {
            service: self.service.clone(),
            seq: self.log.seq,
            at: event.at,
            kind: kind_of(event).to_owned(),
            notes: history::notes(&actions),
            phase: self.log.rollout.phase(),
            weights: self.log.rollout.traffic.weights.clone(),
        };
        self.perform(actions).await;
        // Nobody listening is fine: the event is in the store.
        let _ = self.context.events.send(view);
    }

    /// Makes the rollout as now stored visible to the API.
    fn publish(&self) {
        let mut shared = lock(&self.shared);
        shared.rollout = self.log.rollout.clone();
        shared.routing_pending.clone_from(&self.routing_pending);
    }

    async fn handle(&mut self, request: Request) -> ControlFlow<()> {
        let (outcome, reply) = match request {
            Request::Deploy(request, reply) => (self.deploy(request).await, reply),
            Request::Command(command, by, reply) => (self.command(command, by).await, reply),
            Request::Undo(to, by, reply) => (self.undo(to, by).await, reply),
            Request::Respec(spec, routers, reply) => (self.respec(*spec, routers).await, reply),
            Request::Stop {
                scale_to_zero,
                done,
            } => {
                self.stop(scale_to_zero).await;
                let _ = done.send(());
                return ControlFlow::Break(());
            }
        };
        // The caller may have given up waiting; the outcome is in the store either way.
        let _ = reply.send(outcome);
        ControlFlow::Continue(())
    }
}

/// The next analysis report; none before the first analysis.
async fn next_report(reports: &mut Option<mpsc::UnboundedReceiver<Report>>) -> Option<Report> {
    match reports {
        Some(reports) => reports.recv().await,
        None => std::future::pending().await,
    }
}
