//! The control plane's HTTP API, served by `bellwether up`: one route per `ControlPlane`
//! method (the paths are `bellwether_api::paths`), JSON in and out, `ApiError` bodies on every
//! failure, `GET /v1/events` as server-sent events and `GET .../logs` as streamed text.

mod error;
mod events;
mod extract;
mod logs;
mod routes;
mod runs;

use std::future::Future;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use bellwether_api::paths;
use bellwether_controller::ControlPlane;
use bellwether_triggers::Pipelines;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Where `bellwether up` listens unless told otherwise: loopback only, since the API has no
/// authentication.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7070";

/// What every handler sees.
#[derive(Clone)]
struct AppState {
    control: ControlPlane,
    /// Webhooks, dispatch and runs; `None` answers them 404.
    pipelines: Option<Pipelines>,
    /// Cancelled when the server shuts down, so that endless responses (the event stream,
    /// followed logs) end and the graceful shutdown does not wait for them forever.
    shutdown: CancellationToken,
}

/// Serves the API on `listener` until `shutdown` completes, then lets requests in flight
/// finish and ends every stream.
pub async fn serve(
    listener: TcpListener,
    control: ControlPlane,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, control, None, shutdown).await
}

/// [`serve`], with the pipeline routes answered by `pipelines`.
pub async fn serve_with(
    listener: TcpListener,
    control: ControlPlane,
    pipelines: Option<Pipelines>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let token = CancellationToken::new();
    let app = app(AppState {
        control,
        pipelines,
        shutdown: token.clone(),
    });
    let stop = token.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            stop.cancel();
        })
        .await
}

fn app(state: AppState) -> Router {
    let service = "{service}";
    Router::new()
        .route(paths::HEALTH, get(routes::health))
        .route(paths::SERVICES, get(routes::list))
        .route(&paths::service(service), get(routes::get))
        .route(&paths::deploy(service), post(routes::deploy))
        .route(&paths::commands(service), post(routes::command))
        .route(&paths::undo(service), post(routes::undo))
        .route(&paths::history(service), get(routes::history))
        .route(&paths::revisions(service), get(routes::revisions))
        .route(&paths::logs(service), get(logs::logs))
        .route(paths::APPLY, post(routes::apply))
        .route(paths::ROLLBACK_ALL, post(routes::rollback_all))
        .route(paths::EVENTS, get(events::events))
        .route(
            paths::GITHUB_WEBHOOK,
            post(runs::github).layer(DefaultBodyLimit::max(runs::WEBHOOK_LIMIT)),
        )
        .route(&paths::dispatch("{pipeline}"), post(runs::dispatch))
        .route(paths::RUNS, get(runs::list))
        .route(&paths::run("{number}"), get(runs::get))
        .fallback(error::no_route)
        .method_not_allowed_fallback(error::wrong_method)
        .with_state(state)
}
