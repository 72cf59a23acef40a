//! One service's controller: a task that owns the service's rollout log. Every input (an API
//! call, a readiness change, an analysis verdict, a timer) becomes a core event; the event is
//! stored first, then the actions it leads to are performed, so a control plane killed at any
//! moment resumes from the last stored event.

mod inputs;
mod perform;
mod requests;

use std::collections::{BTreeSet, VecDeque};
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bellwether_analysis::engine::Report;
use bellwether_api::{DeployRequest, EventView};
use bellwether_core::error::chain;
use bellwether_core::platform::ServiceState;
use bellwether_core::rollout::{Command, Event, EventKind, RevisionNumber};
use bellwether_core::spec::ServiceSpec;
use bellwether_core::time::Timestamp;
use bellwether_store::{RolloutLog, kind_of};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep_until};

use crate::context::Context;
use crate::listener::{Listeners, Routers};
use crate::shared::{Shared, lock};
use crate::template::KeptRevision;
use crate::{ControlError, analyses, history};

/// How long the listeners of a restarted control plane wait for the replicas the rollout counts
/// on to be ready again (adopted replicas are probed before they take traffic).
const SETTLE_LIMIT: Duration = Duration::from_secs(10);

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
    /// The instant of a timer event that left its deadline where it was.
    stalled_tick: Option<Timestamp>,
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
            stalled_tick: None,
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
                () = sleep_until(wake), if timer.is_some() => {
                    Box::pin(self.on_tick(timer.unwrap_or_default())).await;
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
        self.drain().await;
    }

    /// Records an event happening now, then performs what it leads to.
    async fn submit(&mut self, kind: EventKind) -> Result<(), ControlError> {
        self.submit_at(self.context.clock.now(), kind).await
    }

    async fn submit_at(&mut self, at: Timestamp, kind: EventKind) -> Result<(), ControlError> {
        let recorded = self.record(Event::new(at, kind)).await;
        self.drain().await;
        recorded
    }

    /// Records the events that performing actions gave rise to.
    async fn drain(&mut self) {
        while let Some(event) = self.pending.pop_front() {
            if let Err(e) = self.record(event).await {
                tracing::error!(service = %self.service, "cannot record an event: {}", chain(&e));
            }
        }
    }

    /// Stores `event` if the rollout accepts it, then performs its actions. A rejected event is
    /// not stored; on a store error nothing is performed and the rollout stays as it was.
    async fn record(&mut self, event: Event) -> Result<(), ControlError> {
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
        let view = EventView {
            service: self.service.clone(),
            seq: self.log.seq,
            at: event.at,
            kind: kind_of(&event).to_owned(),
            notes: history::notes(&actions),
            phase: self.log.rollout.phase(),
            weights: self.log.rollout.traffic.weights.clone(),
        };
        self.perform(actions).await;
        // Nobody listening is fine: the event is in the store.
        let _ = self.context.events.send(view);
        Ok(())
    }

    /// Makes the rollout as now stored visible to the API.
    fn publish(&self) {
        lock(&self.shared).rollout = self.log.rollout.clone();
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
