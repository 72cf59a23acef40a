//! The control plane's HTTP API, served by `bellwether up`: one route per `ControlPlane`
//! method (the paths are `bellwether_api::paths`), JSON in and out, `ApiError` bodies on every
//! failure, `GET /v1/events` and `GET /v1/runs/events` as server-sent events, `GET .../logs` as streamed text and
//! `GET /metrics` for Prometheus.
//! Every route but the health check needs a bearer token whose role allows it, or (the
//! webhook) a signature; [`access`] guards and audits each one.

mod access;
mod dashboard;
mod error;
mod events;
mod extract;
mod gatekeeper;
mod listen;
mod logs;
mod metrics;
mod notifications;
mod pipelines;
mod routes;
mod runs;
mod standby;
mod tls;
mod tokens;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodRouter, get, post};
use bellwether_access::Permission;
use bellwether_api::paths;
use bellwether_controller::ControlPlane;
use bellwether_triggers::Pipelines;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, broadcast};
use tokio_util::sync::CancellationToken;

pub use access::{Access, Need, RouteRule};
pub use gatekeeper::PIPELINES;
pub use listen::Limits;
pub use runs::view::{run_list, run_view};
pub use standby::serve_standby;
pub use tls::{Tls, TlsError};

/// Where `bellwether up` listens unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7070";

/// What every handler sees.
#[derive(Clone)]
struct AppState {
    control: ControlPlane,
    access: Arc<Access>,
    /// Webhooks, dispatch and runs; `None` answers them 404.
    pipelines: Option<Pipelines>,
    /// The number of each run the pipelines' store records a change of.
    run_changes: Arc<broadcast::Sender<u64>>,
    /// Cancelled when the server shuts down, so that endless responses (the event stream,
    /// followed logs) end and the graceful shutdown does not wait for them forever.
    shutdown: CancellationToken,
    /// A permit per webhook delivery being handled.
    webhooks: Arc<Semaphore>,
}

/// The largest request body taken by any route but the webhook (which takes
/// [`runs::WEBHOOK_LIMIT`], checked as it arrives): the API's bodies are small JSON
/// documents, the largest a project file for `apply`.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Where and how the API is served.
pub struct Serving {
    pub listener: TcpListener,
    /// Serves the webhook route alone, which `listener` then does not serve.
    pub webhook_listener: Option<TcpListener>,
    pub limits: Limits,
    /// `listener` and `webhook_listener` speak TLS with this, if given.
    pub tls: Option<Tls>,
    /// Serves the API in plain HTTP, for clients of this process's own that speak no TLS
    /// (the deploy steps of its pipelines): bind it on loopback.
    pub plain_loopback: Option<TcpListener>,
}

/// Serves the API on `listener` until `shutdown` completes, then lets requests in flight
/// finish and ends every stream.
pub async fn serve(
    listener: TcpListener,
    control: ControlPlane,
    access: Arc<Access>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, control, None, access, shutdown).await
}

/// [`serve`], with the pipeline routes answered by `pipelines`.
pub async fn serve_with(
    listener: TcpListener,
    control: ControlPlane,
    pipelines: Option<Pipelines>,
    access: Arc<Access>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let serving = Serving {
        listener,
        webhook_listener: None,
        limits: Limits::default(),
        tls: None,
        plain_loopback: None,
    };
    serve_on(serving, control, pipelines, access, shutdown).await
}

/// Serves the API as `serving` says until `shutdown` completes, then lets requests in flight
/// finish and ends every stream.
pub async fn serve_on(
    serving: Serving,
    control: ControlPlane,
    pipelines: Option<Pipelines>,
    access: Arc<Access>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let token = CancellationToken::new();
    // Bounded: a watcher that falls this far behind is told it lagged.
    let run_changes = Arc::new(broadcast::channel(256).0);
    if let Some(pipelines) = &pipelines {
        // The store keeps the watcher only while this server does.
        let changes = Arc::downgrade(&run_changes);
        pipelines.store().watch(Box::new(move |number| {
            changes.upgrade().is_some_and(|changes| {
                let _ = changes.send(number);
                true
            })
        }));
    }
    let state = AppState {
        control,
        access: Arc::clone(&access),
        pipelines,
        run_changes,
        shutdown: token.clone(),
        webhooks: Arc::new(Semaphore::new(serving.limits.max_webhooks.max(1))),
    };
    let app = |serves: fn(&str) -> bool| {
        declare(Building {
            router: Router::new(),
            access: Arc::clone(&access),
            serves,
        })
        .router
        .fallback(error::no_route)
        .method_not_allowed_fallback(error::wrong_method)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state.clone())
    };
    let stop = token.clone();
    tokio::spawn(async move {
        shutdown.await;
        stop.cancel();
    });
    let (limits, tls) = (serving.limits, serving.tls);
    let serves: fn(&str) -> bool = if serving.webhook_listener.is_some() {
        |path| path != paths::GITHUB_WEBHOOK
    } else {
        |_| true
    };
    let api = listen::serve(
        &serving.listener,
        app(serves),
        limits.clone(),
        tls.clone(),
        token.clone(),
    );
    let webhooks = async {
        if let Some(listener) = &serving.webhook_listener {
            let app = app(|path| path == paths::GITHUB_WEBHOOK);
            listen::serve(listener, app, limits.clone(), tls, token.clone()).await;
        }
    };
    let plain = async {
        if let Some(listener) = &serving.plain_loopback {
            let app = app(|path| path != paths::GITHUB_WEBHOOK);
            listen::serve(listener, app, limits.clone(), None, token.clone()).await;
        }
    };
    tokio::join!(api, webhooks, plain);
    Ok(())
}

/// Every route of the API with what it needs: what the guard enforces, for listings and for
/// the test that tries each one without a credential.
pub fn route_table() -> Vec<RouteRule> {
    declare(Table(Vec::new())).0
}

/// Where routes are declared to: the server's router, or the table of rules.
trait Routes: Sized {
    fn add(
        self,
        method: Method,
        path: &str,
        need: Need,
        action: &'static str,
        handler: MethodRouter<AppState>,
    ) -> Self;
}

struct Building {
    router: Router<AppState>,
    access: Arc<Access>,
    /// Whether this router serves the route at a path.
    serves: fn(&str) -> bool,
}

impl Routes for Building {
    fn add(
        mut self,
        _: Method,
        path: &str,
        need: Need,
        action: &'static str,
        handler: MethodRouter<AppState>,
    ) -> Self {
        if !(self.serves)(path) {
            return self;
        }
        let guard = access::Guard {
            access: Arc::clone(&self.access),
            need,
            action,
        };
        let handler = handler.route_layer(from_fn_with_state(guard, access::guard));
        self.router = self.router.route(path, handler);
        self
    }
}

struct Table(Vec<RouteRule>);

impl Routes for Table {
    fn add(
        mut self,
        method: Method,
        path: &str,
        need: Need,
        action: &'static str,
        _: MethodRouter<AppState>,
    ) -> Self {
        self.0.push(RouteRule {
            method,
            path: path.to_owned(),
            need,
            action,
        });
        self
    }
}

fn declare<R: Routes>(r: R) -> R {
    use Method as M;
    use Need::{Public, Signed, Token};
    use Permission::*;
    let service = "{service}";
    r.add(M::GET, paths::HEALTH, Public, "health", get(routes::health))
        .add(
            M::GET,
            paths::SERVICES,
            Token(Read),
            "list",
            get(routes::list),
        )
        .add(
            M::GET,
            &paths::service(service),
            Token(Read),
            "get",
            get(routes::get),
        )
        .add(
            M::POST,
            &paths::deploy(service),
            Token(Deploy),
            "deploy",
            post(routes::deploy),
        )
        .add(
            M::POST,
            &paths::commands(service),
            Token(Operate),
            "command",
            post(routes::command),
        )
        .add(
            M::POST,
            &paths::undo(service),
            Token(Operate),
            "undo",
            post(routes::undo),
        )
        .add(
            M::GET,
            &paths::history(service),
            Token(Read),
            "history",
            get(routes::history),
        )
        .add(
            M::GET,
            &paths::revisions(service),
            Token(Read),
            "revisions",
            get(routes::revisions),
        )
        .add(
            M::GET,
            &paths::logs(service),
            Token(Read),
            "logs",
            get(logs::logs),
        )
        .add(
            M::POST,
            paths::APPLY,
            Token(Apply),
            "apply",
            post(routes::apply),
        )
        .add(
            M::POST,
            paths::ROLLBACK_ALL,
            Token(RollbackAll),
            "rollback all",
            post(routes::rollback_all),
        )
        .add(
            M::GET,
            paths::EVENTS,
            Token(Read),
            "events",
            get(events::events),
        )
        .add(
            M::POST,
            paths::GITHUB_WEBHOOK,
            Signed,
            "webhook",
            // Reads its body as it arrives, under its own limit.
            post(runs::github),
        )
        .add(
            M::POST,
            &paths::dispatch("{pipeline}"),
            Token(Dispatch),
            "dispatch",
            post(runs::dispatch),
        )
        .add(M::GET, paths::RUNS, Token(Read), "runs", get(runs::list))
        .add(
            M::GET,
            paths::RUN_EVENTS,
            Token(Read),
            "run events",
            get(runs::events),
        )
        .add(
            M::GET,
            &paths::run_logs("{number}"),
            Token(Read),
            "run logs",
            get(runs::logs),
        )
        .add(
            M::GET,
            &paths::run("{number}"),
            Token(Read),
            "run",
            get(runs::get),
        )
        .add(
            M::POST,
            &paths::reviews("{number}"),
            Token(Approve),
            "review",
            post(runs::review),
        )
        .add(
            M::GET,
            paths::TOKENS,
            Token(ManageTokens),
            "token list",
            get(tokens::list),
        )
        .add(
            M::POST,
            paths::TOKENS,
            Token(ManageTokens),
            "token create",
            post(tokens::create),
        )
        .add(
            M::POST,
            &paths::revoke_token("{name}"),
            Token(ManageTokens),
            "token revoke",
            post(tokens::revoke),
        )
        // Prometheus presents a bearer token like any client (`authorization: credentials:`
        // in its scrape config): a viewer's is enough, since the metrics show nothing a viewer
        // may not read through the other routes (the public ones, health and the dashboard's
        // files, hold no data).
        .add(
            M::GET,
            paths::METRICS,
            Token(Read),
            "metrics",
            get(metrics::metrics),
        )
        .add(M::GET, paths::DORA, Token(Read), "dora", get(routes::dora))
        .add(
            M::GET,
            paths::PIPELINES,
            Token(Read),
            "pipelines",
            get(pipelines::list),
        )
        .add(
            M::GET,
            paths::NOTIFICATIONS,
            Token(Read),
            "notifications",
            get(notifications::list),
        )
        .add(
            M::GET,
            paths::AUDIT,
            Token(Read),
            "audit",
            get(tokens::audit),
        )
        .add(
            M::GET,
            paths::WHOAMI,
            Token(Read),
            "whoami",
            get(dashboard::whoami),
        )
        .add(M::GET, "/", Public, "dashboard", get(dashboard::index))
        .add(
            M::GET,
            "/assets/app.js",
            Public,
            "dashboard script",
            get(dashboard::script),
        )
        .add(
            M::GET,
            "/assets/app.css",
            Public,
            "dashboard style",
            get(dashboard::style),
        )
}
