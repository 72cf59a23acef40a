//! What a standby control plane serves while another leads: the health check, saying which
//! control plane leads, and for every other request a 503 naming the leader's API, so that a
//! client (or the load balancer in front) goes there. Nothing is read or changed here: a
//! standby holds no rollout.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bellwether_api::{ApiError, Health, paths};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::listen::{self, Limits};
use crate::tls::Tls;

/// Serves the standby's answers on `listener` until `stop` is cancelled, then lets requests
/// in flight finish. `leader` is the leading control plane's API address, as it last said.
pub async fn serve_standby(
    listener: &TcpListener,
    leader: watch::Receiver<String>,
    limits: Limits,
    tls: Option<Tls>,
    stop: CancellationToken,
) {
    let app = Router::new()
        .route(paths::HEALTH, get(health))
        .fallback(refuse)
        .with_state(leader);
    listen::serve(listener, app, limits, tls, stop).await;
}

async fn health(State(leader): State<watch::Receiver<String>>) -> Json<Health> {
    Json(Health {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        standby_of: Some(leader.borrow().clone()),
    })
}

async fn refuse(State(leader): State<watch::Receiver<String>>) -> Response {
    let error = format!(
        "this control plane is a standby: the one that leads serves the API at {}",
        *leader.borrow()
    );
    (StatusCode::SERVICE_UNAVAILABLE, Json(ApiError { error })).into_response()
}
