//! What every service's controller shares: the store, the platform, the analysis engine, the
//! routers' signals, the stream of stored events and the metrics.

use std::sync::Arc;

use bellwether_analysis::engine::Engine;
use bellwether_api::EventView;
use bellwether_core::platform::SecretSource;
use bellwether_core::spec::Project;
use bellwether_router::Signals;
use bellwether_store::{Store, StoreError};
use tokio::sync::{Semaphore, broadcast};

use crate::ControlError;
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::platform::Platform;
use crate::seams::TableObserver;
use crate::traffic::TrafficRouter;

#[derive(Clone)]
pub(crate) struct Context {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) platform: Arc<dyn Platform>,
    pub(crate) engine: Engine,
    pub(crate) signals: Signals,
    pub(crate) events: broadcast::Sender<EventView>,
    pub(crate) store_threads: StoreThreads,
    pub(crate) clock: Clock,
    pub(crate) tables: Option<Arc<dyn TableObserver>>,
    pub(crate) traffic: Option<Arc<dyn TrafficRouter>>,
    /// Where replicas' secrets are read, to refuse a deploy that names one not set.
    pub(crate) secrets: Option<Arc<dyn SecretSource>>,
    pub(crate) metrics: Metrics,
}

impl Context {
    /// Refuses a project with a service routed by the cluster when this control plane has no
    /// cluster traffic router (the local platform).
    pub(crate) fn routable(&self, project: &Project) -> Result<(), ControlError> {
        if self.traffic.is_some() {
            return Ok(());
        }
        match project.services.values().find(|s| !s.traffic.is_embedded()) {
            Some(service) => Err(ControlError::Invalid(format!(
                "service `{}` routes its traffic with {} (`trafficRouting`), which only the kubernetes platform writes (expected `up --platform kubernetes`, or no trafficRouting to use bellwether's router)",
                service.name,
                service.traffic.describe()
            ))),
            None => Ok(()),
        }
    }

    /// A store call, off the async threads.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ControlError> {
        self.store_threads.call(call).await
    }
}

/// Threads that may wait on the store at once. The store commits the appends waiting together
/// in one transaction (group commit), so up to this many services' events share one flush to
/// disk; thousands of services waiting in a thread each would cost memory and context switches
/// for little more.
const STORE_THREADS: usize = 64;

/// Runs store calls off the async threads, since SQLite waits for the disk on every commit,
/// and a few at a time.
#[derive(Clone)]
pub(crate) struct StoreThreads(Arc<Semaphore>);

impl StoreThreads {
    pub(crate) fn new() -> Self {
        Self(Arc::new(Semaphore::new(STORE_THREADS)))
    }

    pub(crate) async fn run<T: Send + 'static>(
        &self,
        call: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ControlError> {
        let _turn = self.0.acquire().await.map_err(ControlError::StoreClosed)?;
        tokio::task::spawn_blocking(call)
            .await
            .map_err(ControlError::StoreCall)
    }

    pub(crate) async fn call<T: Send + 'static>(
        &self,
        call: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ControlError> {
        self.run(call).await?.map_err(ControlError::Store)
    }
}
