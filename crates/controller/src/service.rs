//! A service as the control plane holds it: its controller task, the state it shares, and
//! its listeners.

use std::sync::{Arc, Mutex};

use bellwether_core::spec::ServiceSpec;
use tokio::sync::{mpsc, oneshot};

use crate::ControlError;
use crate::actor::{Actor, Reply, Request};
use crate::context::Context;
use crate::listener::{Listeners, Rebind};
use crate::shared::{Shared, lock};
use crate::task::Task;

/// Requests queued for one controller before callers wait.
const INBOX: usize = 64;

pub(crate) struct ServiceEntry {
    pub(crate) shared: Arc<Mutex<Shared>>,
    /// Requests are boxed: a channel allocates room for 32 of what it carries up front.
    inbox: mpsc::Sender<Box<Request>>,
    listeners: tokio::sync::Mutex<Listeners>,
    _controller: Task,
}

impl ServiceEntry {
    /// Starts the controller of `spec` on listeners already bound, once it has re-established
    /// what the store says the service's rollout wants.
    pub(crate) async fn start(
        context: &Context,
        spec: ServiceSpec,
        listeners: Listeners,
    ) -> Result<Self, ControlError> {
        let name = spec.name.clone();
        let (actor, shared) = Actor::load(context.clone(), spec, &listeners).await?;
        let (inbox, requests) = mpsc::channel(INBOX);
        let (started, resynced) = oneshot::channel();
        let controller = Task::spawn(Box::new(actor).run(requests, started));
        resynced.await.map_err(|_| ControlError::NotStarted(name))?;
        Ok(Self {
            shared,
            inbox,
            listeners: tokio::sync::Mutex::new(listeners),
            _controller: controller,
        })
    }

    pub(crate) fn spec(&self) -> ServiceSpec {
        ServiceSpec::clone(&lock(&self.shared).spec)
    }

    /// Sends a request to the controller and waits for its outcome.
    pub(crate) async fn ask(
        &self,
        request: impl FnOnce(Reply) -> Request,
    ) -> Result<(), ControlError> {
        let (reply, outcome) = oneshot::channel();
        self.inbox
            .send(Box::new(request(reply)))
            .await
            .map_err(|_| ControlError::Stopped)?;
        outcome.await.map_err(|_| ControlError::Stopped)?
    }

    /// Binds what a new spec needs; nothing changes yet.
    pub(crate) async fn prepare(
        &self,
        spec: &ServiceSpec,
        context: &Context,
    ) -> Result<Rebind, ControlError> {
        let old = self.spec();
        self.listeners
            .lock()
            .await
            .prepare(&old, spec, &context.signals)
            .await
    }

    /// Serves the new spec on the listeners `prepare` bound.
    pub(crate) async fn respec(
        &self,
        spec: ServiceSpec,
        rebind: Rebind,
    ) -> Result<(), ControlError> {
        let routers = {
            let mut listeners = self.listeners.lock().await;
            listeners.swap(rebind);
            let (listen, preview_listen) = listeners.addrs();
            let mut shared = lock(&self.shared);
            shared.listen = listen;
            shared.preview_listen = preview_listen;
            listeners.routers()
        };
        self.ask(|reply| Request::Respec(Box::new(spec), routers, reply))
            .await
    }

    /// Stops the controller (and the service's replicas when `scale_to_zero`); the listeners
    /// close when the entry is dropped.
    pub(crate) async fn stop(&self, scale_to_zero: bool) {
        let (done, stopped) = oneshot::channel();
        let request = Box::new(Request::Stop {
            scale_to_zero,
            done,
        });
        if self.inbox.send(request).await.is_ok() {
            let _ = stopped.await;
        }
    }
}
