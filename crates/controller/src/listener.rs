//! A service's routers and the listeners that serve them: the main one at `listen`, and the
//! blue-green preview at `previewListen` when the service sets it.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use bellwether_core::error::chain;
use bellwether_core::spec::ServiceSpec;
use bellwether_router::{Router, RouterConfig, Signals, TableSpec};
use tokio::sync::watch;

use crate::ControlError;
use crate::task::Task;

/// The routers a service's controller keeps in line with its rollout.
#[derive(Clone)]
pub(crate) struct Routers {
    pub(crate) main: Arc<Router>,
    pub(crate) preview: Option<Arc<Router>>,
}

/// A table that routes nothing: what a router serves before any revision runs.
pub(crate) fn empty_table(service: &str) -> TableSpec {
    TableSpec {
        service: service.to_owned(),
        revisions: Vec::new(),
        header_routes: Vec::new(),
        mirror: None,
    }
}

fn new_router(service: &str, signals: &Signals) -> Result<Arc<Router>, ControlError> {
    Router::new(
        empty_table(service),
        RouterConfig::default(),
        signals.clone(),
    )
    .map(Arc::new)
    .map_err(|source| ControlError::Router {
        service: service.to_owned(),
        source,
    })
}

/// One router served on one address.
struct Listener {
    addr: SocketAddr,
    router: Arc<Router>,
    _serving: Task,
}

impl Listener {
    /// Binds `at` at once (so a taken port is an error now) and serves once `gate` opens.
    async fn open(
        service: &str,
        key: &'static str,
        at: Option<SocketAddr>,
        router: Arc<Router>,
        mut gate: watch::Receiver<bool>,
    ) -> Result<Self, ControlError> {
        let at = at.unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        let listener = Router::bind(at)
            .await
            .map_err(|source| ControlError::Listen {
                service: service.to_owned(),
                key,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ControlError::ListenAddress {
                service: service.to_owned(),
                key,
                at,
                source,
            })?;
        let serving = Task::spawn({
            let router = Arc::clone(&router);
            async move {
                // Connections wait in the listen backlog meanwhile: slower, never refused.
                if gate.wait_for(|open| *open).await.is_ok() {
                    router.serve(listener).await;
                }
            }
        });
        Ok(Self {
            addr,
            router,
            _serving: serving,
        })
    }
}

pub(crate) struct Listeners {
    main: Listener,
    preview: Option<Listener>,
    /// Opened by the service's controller once the routing table is right: after a restart,
    /// once the replicas the rollout counts on are ready again.
    gate: watch::Sender<bool>,
}

/// Listeners bound for a changed spec, not yet in use: binding them is all that can fail.
pub(crate) struct Rebind {
    main: Option<Listener>,
    /// `Some(None)` closes the preview listener.
    preview: Option<Option<Listener>>,
}

impl Listeners {
    /// Binds `spec`'s addresses; without `listen`, `before` if it is free, else any port.
    pub(crate) async fn open(
        spec: &ServiceSpec,
        signals: &Signals,
        before: Option<SocketAddr>,
    ) -> Result<Self, ControlError> {
        let gate = watch::Sender::new(false);
        let router = new_router(&spec.name, signals)?;
        let name = &spec.name;
        let main = match (spec.listen, before) {
            (None, Some(before)) => {
                let kept = Listener::open(
                    name,
                    "listen",
                    Some(before),
                    router.clone(),
                    gate.subscribe(),
                );
                match kept.await {
                    Ok(listener) => listener,
                    Err(error) => {
                        tracing::warn!(
                            service = %name,
                            "the router's port of before, {before}, is taken ({}); another is picked",
                            chain(&error)
                        );
                        Listener::open(name, "listen", None, router, gate.subscribe()).await?
                    }
                }
            }
            (at, _) => Listener::open(name, "listen", at, router, gate.subscribe()).await?,
        };
        let preview = match spec.preview_listen {
            Some(at) => {
                let router = new_router(&spec.name, signals)?;
                let key = "previewListen";
                Some(Listener::open(&spec.name, key, Some(at), router, gate.subscribe()).await?)
            }
            None => None,
        };
        Ok(Self {
            main,
            preview,
            gate,
        })
    }

    /// Binds what `new` asks for that `old` did not.
    pub(crate) async fn prepare(
        &self,
        old: &ServiceSpec,
        new: &ServiceSpec,
        signals: &Signals,
    ) -> Result<Rebind, ControlError> {
        let main = if new.listen != old.listen {
            let router = Arc::clone(&self.main.router);
            let gate = self.gate.subscribe();
            Some(Listener::open(&new.name, "listen", new.listen, router, gate).await?)
        } else {
            None
        };
        let preview = match (new.preview_listen, new.preview_listen != old.preview_listen) {
            (_, false) => None,
            (None, true) => Some(None),
            (Some(at), true) => {
                let router = match &self.preview {
                    Some(p) => Arc::clone(&p.router),
                    None => new_router(&new.name, signals)?,
                };
                let gate = self.gate.subscribe();
                Some(Some(
                    Listener::open(&new.name, "previewListen", Some(at), router, gate).await?,
                ))
            }
        };
        Ok(Rebind { main, preview })
    }

    /// Serves on the listeners of `rebind` instead of the ones they replace.
    pub(crate) fn swap(&mut self, rebind: Rebind) {
        if let Some(main) = rebind.main {
            self.main = main;
        }
        if let Some(preview) = rebind.preview {
            self.preview = preview;
        }
    }

    pub(crate) fn routers(&self) -> Routers {
        Routers {
            main: Arc::clone(&self.main.router),
            preview: self.preview.as_ref().map(|p| Arc::clone(&p.router)),
        }
    }

    pub(crate) fn gate(&self) -> watch::Sender<bool> {
        self.gate.clone()
    }

    pub(crate) fn addrs(&self) -> (SocketAddr, Option<SocketAddr>) {
        (self.main.addr, self.preview.as_ref().map(|p| p.addr))
    }
}
