//! The rollout controller and the control plane it makes up with the platform, the routers and
//! the analysis engine. The public surface is [`ControlPlane`]: what `bellwether up` serves over
//! HTTP, one method per API route.
//!
//! Each service has a controller task (`actor`) that owns its rollout log: every input becomes
//! a core event, stored before anything acts on it, and the actions it leads to are performed
//! in an order that never drops a request (routing tables before scale-downs). The API reads
//! each service's `shared` state without waiting for its controller.
//!
//! The `conformance` feature brings the checks every [`Platform`] must pass (the
//! `conformance` module, run with `platform_conformance!`).

mod actor;
mod analyses;
mod applied;
mod clock;
#[cfg(feature = "conformance")]
pub mod conformance;
mod context;
mod dora;
mod history;
mod listener;
mod metrics;
mod order;
mod platform;
mod replicas;
mod seams;
mod service;
mod shared;
mod task;
mod template;
mod traffic;
mod view;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use bellwether_analysis::engine::Engine;
use bellwether_analysis::providers::Providers;
use bellwether_api::{
    ApplySummary, DeployRequest, DoraReport, EventView, HistoryEntry, RevisionRecord,
    RollbackResult, ServiceSummary, ServiceView,
};
use bellwether_core::dora::Window;
use bellwether_core::error::chain;
use bellwether_core::platform::{LogLine, LogQuery, SecretSource};
use bellwether_core::rollout::{Command, EMERGENCY_ROLLBACK, RevisionNumber};
use bellwether_core::spec::{EnvironmentSpec, Project, ServiceSpec};
use bellwether_core::time::human_duration;
use bellwether_platform_local::LocalPlatform;
use bellwether_router::{RouterError, Signals};
use bellwether_store::{SqliteStore, StoreError};
use tokio::sync::{AcquireError, broadcast, mpsc};
use tokio::task::JoinError;

use crate::actor::Request;
use crate::context::{Context, StoreThreads};
use crate::listener::Listeners;
use crate::service::ServiceEntry;
use crate::shared::lock;

pub use crate::analyses::ANALYSIS_STREAMS;
pub use crate::applied::ProjectOrigin;
pub use crate::clock::Clock;
pub use crate::platform::Platform;
pub use crate::seams::{Listen, Seams, TableObserver};
pub use crate::traffic::{Routing, TrafficError, TrafficRouter};

/// Stored events a slow subscriber may fall behind by before it misses some.
const EVENT_BACKLOG: usize = 1024;

/// How a control plane starts.
pub struct Options {
    /// Where the SQLite store, replica logs and state files live.
    pub data_dir: PathBuf,
    /// Commands and relative paths of services resolve against this directory.
    pub base_dir: PathBuf,
    /// What runs until an `apply` is stored; after one, the store's project runs instead
    /// ([`ControlPlane::origin`]).
    pub project: Project,
    /// Where replicas' secrets (`run.secrets`) are read; without one, a service that names
    /// secrets cannot be deployed.
    pub secrets: Option<Arc<dyn SecretSource>>,
}

/// Why a request failed; the HTTP status follows from the variant. A variant that wraps
/// another error keeps it as its `source`, out of its own message:
/// [`chain`](bellwether_core::error::chain) renders the whole for people.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// 404
    #[error("no service named `{0}`")]
    UnknownService(String),
    /// 409: the rollout's state does not allow it (e.g. promote during an abort).
    #[error(transparent)]
    Rejected(#[from] bellwether_core::rollout::Rejected),
    /// 400: the request itself is wrong (bad config text, unknown revision, empty version).
    #[error("{0}")]
    Invalid(String),
    /// 400: a service's `listen` or `previewListen` address cannot be bound.
    #[error("service `{service}`: {key}")]
    Listen {
        service: String,
        key: &'static str,
        source: RouterError,
    },
    /// 400: the address a listener was bound to cannot be read back.
    #[error("service `{service}`: {key}: cannot read the address bound for {at}")]
    ListenAddress {
        service: String,
        key: &'static str,
        at: SocketAddr,
        source: std::io::Error,
    },
    // 500 from here on: the store, the platform or the control plane itself failed.
    #[error("the store failed")]
    Store(#[from] StoreError),
    /// An event that must be stored before any other (an analysis verdict, an abort of a
    /// revision that cannot start) is still waiting for the store, which failed; it is retried.
    #[error("the store failed to record {0}, which goes before anything else; retrying")]
    Unstored(String),
    #[error("the store is closed")]
    StoreClosed(#[source] AcquireError),
    #[error("the store call did not finish")]
    StoreCall(#[source] JoinError),
    #[error("cannot create the data directory {}", path.display())]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the router of `{service}`")]
    Router {
        service: String,
        source: RouterError,
    },
    #[error("cannot encode the revision")]
    EncodeRevision(#[source] serde_json::Error),
    /// The controller's task ended before it had resumed the service's rollout.
    #[error("the controller of `{0}` stopped while starting")]
    NotStarted(String),
    #[error("the service's controller has stopped")]
    Stopped,
}

/// A running control plane. Cheap to clone; every clone drives the same services.
///
/// Dropping the last clone without [`ControlPlane::shutdown`] leaves the world as a crash
/// would: controllers and listeners stop at once, replicas keep running, and the next control
/// plane on the same data directory adopts them and resumes every rollout.
#[derive(Clone)]
pub struct ControlPlane {
    inner: Arc<Inner>,
}

struct Inner {
    context: Context,
    services: RwLock<BTreeMap<String, Arc<ServiceEntry>>>,
    /// The project running: services as applied, the environments and DORA targets they
    /// are judged by.
    project: RwLock<Project>,
    origin: ProjectOrigin,
    /// One `apply` at a time.
    applying: tokio::sync::Mutex<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.context.platform.abandon();
    }
}

/// The local platform, its replicas' files in the data directory.
fn local_platform(options: &Options) -> Arc<dyn Platform> {
    let mut local = bellwether_platform_local::Options::new(&options.data_dir, &options.base_dir);
    local.secrets.clone_from(&options.secrets);
    // `bellwether` in a command is the binary this control plane runs in, when it is one.
    local.own_program = std::env::current_exe().ok().filter(|exe| {
        exe.file_name()
            .is_some_and(|name| name == bellwether_platform_local::OWN_PROGRAM)
    });
    Arc::new(LocalPlatform::new(local))
}

impl ControlPlane {
    /// Opens the store, adopts the replicas a previous control plane left running, resumes
    /// every rollout where its last stored event left it, and starts the routers.
    pub async fn start(options: Options) -> Result<Self, ControlError> {
        let platform = local_platform(&options);
        Self::start_with(options, platform).await
    }

    /// [`ControlPlane::start`] with its state in `store` (a database server, say) instead of
    /// the SQLite file in the data directory.
    pub async fn start_storing(
        options: Options,
        store: Arc<dyn bellwether_store::Store>,
    ) -> Result<Self, ControlError> {
        let mut seams = Seams::new(local_platform(&options));
        seams.store = Some(store);
        Self::start_on(options, seams).await
    }

    /// [`ControlPlane::start`] on another platform than the local one.
    pub async fn start_with(
        options: Options,
        platform: Arc<dyn Platform>,
    ) -> Result<Self, ControlError> {
        Self::start_on(options, Seams::new(platform)).await
    }

    /// [`ControlPlane::start`] on other seams: another platform, another clock, an observer
    /// of routing tables.
    pub async fn start_on(options: Options, seams: Seams) -> Result<Self, ControlError> {
        let Seams {
            platform,
            clock,
            tables,
            store,
            traffic,
        } = seams;
        let Options {
            data_dir,
            project: given,
            secrets,
            ..
        } = options;
        std::fs::create_dir_all(&data_dir).map_err(|source| ControlError::DataDir {
            path: data_dir.clone(),
            source,
        })?;
        let store_threads = StoreThreads::new();
        let store = match store {
            Some(store) => store,
            None => {
                let path = data_dir.join("bellwether.db");
                let opened = store_threads.call(move || SqliteStore::open(&path)).await?;
                Arc::new(opened) as Arc<dyn bellwether_store::Store>
            }
        };
        let stored = Arc::clone(&store);
        let (origin, project) = match store_threads
            .call(move || applied::load(stored.as_ref()))
            .await?
        {
            None => (ProjectOrigin::Given, given),
            Some((origin, applied)) => (origin, applied.unwrap_or(given)),
        };
        let signals = Signals::new();
        let providers = Providers::new(
            Arc::new(signals.clone()),
            platform.clone(),
            Arc::new(platform::ReadyReplicas::new(platform.clone())),
        );
        let context = Context {
            store,
            platform,
            engine: Engine::new(Arc::new(providers)),
            signals,
            events: broadcast::Sender::new(EVENT_BACKLOG),
            store_threads,
            clock,
            tables,
            traffic,
            secrets,
            metrics: metrics::Metrics::new(),
        };
        context.routable(&project)?;
        let plane = Self {
            inner: Arc::new(Inner {
                context,
                services: RwLock::new(BTreeMap::new()),
                project: RwLock::new(project.clone()),
                origin,
                applying: tokio::sync::Mutex::new(()),
            }),
        };
        // Every listener is bound before any controller starts, so a taken port fails the
        // start before anything is done about replicas.
        let mut bound = Vec::new();
        for name in order::dependencies_first(&project.services) {
            let spec = project.services[&name].clone();
            let listeners = plane.listeners(&spec).await?;
            bound.push((spec, listeners));
        }
        for (spec, listeners) in bound {
            plane.add(spec, listeners).await?;
        }
        // Every controller has asked for its replicas: what is left over is nobody's.
        plane.inner.context.platform.reap_unclaimed();
        Ok(plane)
    }

    /// Binds a service's listeners; one without `listen` gets the port it had before, if it
    /// is free, and keeps whatever port it gets for next time.
    async fn listeners(&self, spec: &ServiceSpec) -> Result<Listeners, ControlError> {
        let context = &self.inner.context;
        if spec.listen.is_some() {
            return Listeners::open(spec, &context.signals, None).await;
        }
        let store = Arc::clone(&context.store);
        let name = spec.name.clone();
        let before = context
            .blocking(move || applied::port(store.as_ref(), &name))
            .await?;
        let listeners = Listeners::open(spec, &context.signals, before).await?;
        let (addr, _) = listeners.addrs();
        if before != Some(addr) {
            let store = Arc::clone(&context.store);
            let name = spec.name.clone();
            let at = context.clock.now().as_millis();
            context
                .blocking(move || applied::keep_port(store.as_ref(), at, &name, addr))
                .await?;
        }
        Ok(listeners)
    }

    async fn add(&self, spec: ServiceSpec, listeners: Listeners) -> Result<(), ControlError> {
        let name = spec.name.clone();
        let entry = ServiceEntry::start(&self.inner.context, spec, listeners).await?;
        self.write().insert(name, Arc::new(entry));
        Ok(())
    }

    /// Replaces the project with the one read from `file`: starts added services, applies
    /// changed ones (a changed replica count or strategy to the rollout in progress, a changed
    /// `run` to the next deploy, new listen addresses at once). Services the new project
    /// leaves out are kept as they are (`kept`), or with `prune` stopped with their replicas
    /// (`removed`). The result is stored before anything changes, and is the project the next
    /// control plane on this store starts from.
    pub async fn apply(
        &self,
        mut project: Project,
        file: &str,
        prune: bool,
    ) -> Result<ApplySummary, ControlError> {
        let _one_at_a_time = self.inner.applying.lock().await;
        let current = self.read().clone();
        let context = &self.inner.context;
        context.routable(&project)?;
        let mut summary = ApplySummary::default();
        if !prune {
            for (name, entry) in &current {
                if !project.services.contains_key(name) {
                    project.services.insert(name.clone(), entry.spec());
                    summary.kept.push(name.clone());
                }
            }
        }
        // Bind every new listener first: that is what can fail, and nothing has changed yet.
        let mut added = Vec::new();
        let mut changed = Vec::new();
        for name in order::dependencies_first(&project.services) {
            let spec = project.services[&name].clone();
            match current.get(&name) {
                None => added.push((spec.clone(), self.listeners(&spec).await?)),
                Some(_) if summary.kept.contains(&name) => {}
                Some(entry) if entry.spec() == spec => summary.unchanged.push(name),
                Some(entry) => {
                    let rebind = entry.prepare(&spec, context).await?;
                    changed.push((Arc::clone(entry), spec, rebind));
                }
            }
        }
        let store = Arc::clone(&context.store);
        let at = context.clock.now().as_millis();
        let (saved, file) = (project.clone(), file.to_owned());
        context
            .blocking(move || applied::save(store.as_ref(), at, &file, &saved))
            .await?;
        for (name, entry) in &current {
            if !project.services.contains_key(name) {
                self.write().remove(name);
                entry.stop(true).await;
                summary.removed.push(name.clone());
            }
        }
        for (entry, spec, rebind) in changed {
            let name = spec.name.clone();
            entry.respec(spec, rebind).await?;
            summary.changed.push(name);
        }
        for (spec, listeners) in added {
            let name = spec.name.clone();
            self.add(spec, listeners).await?;
            summary.added.push(name);
        }
        for list in [
            &mut summary.added,
            &mut summary.changed,
            &mut summary.unchanged,
            &mut summary.kept,
        ] {
            list.sort();
        }
        *self
            .inner
            .project
            .write()
            .unwrap_or_else(PoisonError::into_inner) = project;
        Ok(summary)
    }

    /// Stores a new revision of `service` and starts rolling it out.
    pub async fn deploy(
        &self,
        service: &str,
        request: DeployRequest,
    ) -> Result<ServiceView, ControlError> {
        let entry = self.entry(service)?;
        entry.ask(|reply| Request::Deploy(request, reply)).await?;
        self.get(service)
    }

    /// An operator command on the current rollout; a command the rollout's state does not
    /// allow is [`ControlError::Rejected`] and leaves no trace.
    pub async fn command(
        &self,
        service: &str,
        command: Command,
        by: &str,
    ) -> Result<ServiceView, ControlError> {
        let entry = self.entry(service)?;
        let by = by.to_owned();
        entry
            .ask(|reply| Request::Command(command, by, reply))
            .await?;
        self.get(service)
    }

    /// Goes back to revision `to`, or by default to the stable revision while a rollout is in
    /// progress (or aborted) and otherwise to the revision that was stable before it.
    pub async fn undo(
        &self,
        service: &str,
        to: Option<RevisionNumber>,
        by: &str,
    ) -> Result<ServiceView, ControlError> {
        let entry = self.entry(service)?;
        let by = by.to_owned();
        entry.ask(|reply| Request::Undo(to, by, reply)).await?;
        self.get(service)
    }

    /// Aborts every rollout in progress, services that depend on others before those they
    /// depend on. One result per rollout that was in progress.
    pub async fn rollback_all(&self, reason: Option<String>, by: &str) -> Vec<RollbackResult> {
        let entries = self.read().clone();
        let specs: BTreeMap<String, ServiceSpec> = entries
            .iter()
            .map(|(name, entry)| (name.clone(), entry.spec()))
            .collect();
        let mut results = Vec::new();
        for name in order::dependents_first(&specs) {
            let Some(entry) = entries.get(&name) else {
                continue;
            };
            if !lock(&entry.shared).rollout.in_progress() {
                continue;
            }
            let why = reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            let command = Command::Abort {
                reason: Some(format!("{EMERGENCY_ROLLBACK} by {by}{why}")),
            };
            let by = by.to_owned();
            let outcome = entry
                .ask(|reply| Request::Command(command, by, reply))
                .await;
            results.push(RollbackResult {
                service: name,
                error: outcome.err().map(|e| chain(&e)),
            });
        }
        results
    }

    /// One line per service, by name.
    pub fn list(&self) -> Vec<ServiceSummary> {
        self.read()
            .iter()
            .map(|(name, entry)| {
                let running = self.inner.context.platform.watch(name).borrow().clone();
                view::summary(&lock(&entry.shared), &running)
            })
            .collect()
    }

    pub fn get(&self, service: &str) -> Result<ServiceView, ControlError> {
        let entry = self.entry(service)?;
        let running = self.inner.context.platform.watch(service).borrow().clone();
        let shared = lock(&entry.shared);
        Ok(view::service(&shared, &running))
    }

    /// Every stored event of the service, with what it did.
    pub fn history(&self, service: &str) -> Result<Vec<HistoryEntry>, ControlError> {
        self.entry(service)?;
        history::entries(self.inner.context.store.as_ref(), service).map_err(ControlError::Store)
    }

    /// The DORA figures over the `since` before now, of `service` (else every service) and of
    /// `environment` (else every one), judged against the project's targets.
    pub async fn dora(
        &self,
        service: Option<&str>,
        environment: Option<&str>,
        since: Duration,
    ) -> Result<DoraReport, ControlError> {
        let entries: Vec<(String, Option<String>)> = match service {
            Some(name) => vec![(name.to_owned(), self.entry(name)?.spec().environments)],
            None => self
                .read()
                .iter()
                .map(|(name, entry)| (name.clone(), entry.spec().environments))
                .collect(),
        }
        .into_iter()
        .map(|(name, declared)| {
            let only = match declared.as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            };
            (name, only)
        })
        .collect();
        let store = Arc::clone(&self.inner.context.store);
        let facts = self
            .inner
            .context
            .blocking(move || {
                let mut facts = Vec::new();
                for (name, only) in &entries {
                    facts.extend(dora::facts(store.as_ref(), name, only.as_deref())?);
                }
                Ok(facts)
            })
            .await?;
        let window = Window {
            end: self.inner.context.clock.now(),
            length: since,
        };
        let targets = self
            .inner
            .project
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .dora
            .clone();
        let mut figures = bellwether_core::dora::figures(&facts, window, &targets);
        if let Some(environment) = environment {
            figures.retain(|f| f.environment.as_deref() == Some(environment));
        }
        Ok(DoraReport {
            start: window.start(),
            end: window.end,
            since: human_duration(since),
            figures,
        })
    }

    /// The revisions kept for `undo`, oldest first.
    pub fn revisions(&self, service: &str) -> Result<Vec<RevisionRecord>, ControlError> {
        let entry = self.entry(service)?;
        let shared = lock(&entry.shared);
        Ok(view::revision_records(&shared))
    }

    /// The rules of environment `name`, as the project declares them.
    pub fn environment(&self, name: &str) -> Option<EnvironmentSpec> {
        self.inner
            .project
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .environments
            .get(name)
            .cloned()
    }

    /// The project running: as given at start, or as the last `apply` left it.
    pub fn project(&self) -> Project {
        self.inner
            .project
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Where [`ControlPlane::project`] came from when the control plane started.
    pub fn origin(&self) -> &ProjectOrigin {
        &self.inner.origin
    }

    /// The environments `service` may be deployed to; empty allows any.
    pub fn service_environments(&self, service: &str) -> Result<Vec<String>, ControlError> {
        Ok(self.entry(service)?.spec().environments)
    }

    /// The store the control plane keeps its state in, for what lives beside the rollouts
    /// (tokens, the audit trail).
    pub fn store(&self) -> Arc<dyn bellwether_store::Store> {
        self.inner.context.store.clone()
    }

    /// Registers the controller's metrics in `registry`: the counters and histograms kept
    /// since the start, and every rollout's phase, step and weights as they are now.
    pub fn metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        let names: Vec<String> = self.read().keys().cloned().collect();
        // A service removed since the names were read is left out.
        let views = names.iter().filter_map(|n| self.get(n).ok()).collect();
        self.inner.context.metrics.register(registry, views);
    }

    /// Every stored event, as it is stored.
    pub fn subscribe(&self) -> broadcast::Receiver<EventView> {
        self.inner.context.events.subscribe()
    }

    /// The lines the service's replicas wrote, as [`Platform::logs`] reads them.
    pub fn logs(
        &self,
        service: &str,
        query: LogQuery,
        stop: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Result<mpsc::Receiver<Vec<LogLine>>, ControlError> {
        self.entry(service)?;
        Ok(self.inner.context.platform.logs(service, query, stop))
    }

    /// Stops the routers and the controller; replicas keep running for the next control plane
    /// unless `stop_replicas`.
    pub async fn shutdown(self, stop_replicas: bool) {
        let entries = std::mem::take(&mut *self.write());
        for entry in entries.values() {
            entry.stop(false).await;
        }
        drop(entries);
        let platform = &self.inner.context.platform;
        if stop_replicas {
            platform.shutdown().await;
        } else {
            platform.abandon();
        }
    }

    fn entry(&self, service: &str) -> Result<Arc<ServiceEntry>, ControlError> {
        self.read()
            .get(service)
            .cloned()
            .ok_or_else(|| ControlError::UnknownService(service.to_owned()))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<ServiceEntry>>> {
        self.inner
            .services
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<ServiceEntry>>> {
        self.inner
            .services
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
