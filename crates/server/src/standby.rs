//! What a standby control plane serves while another leads: the health check, saying which
//! control plane leads, and every other request passed on to the leader as it came (its token
//! included, which the leader checks), so that any of them answers reads and writes alike. A
//! standby holds no rollout: it reads and changes nothing itself.
//!
//! It passes a request on only over plain HTTP on both sides: a standby serving TLS never
//! sends on in the clear what its client sent encrypted, and reaching a leader that serves
//! TLS would need a trust of its certificate the standby does not have. Those requests, and
//! those made while the leader cannot be reached, are answered 503 with the leader's address.
//! The browser checks the leader would make of the `Host` and `Origin` are made here, against
//! this server's own address, since the leader sees the standby's.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bellwether_api::{ApiError, Health, paths};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::access::Hosts;
use crate::listen::{self, Limits};
use crate::tls::Tls;

/// Marks a request a standby passed on: a standby never passes one on twice, so an address
/// that leads back to a standby (a leader's wrong `--advertise`) cannot make a loop.
const PASSED_ON: &str = "x-bellwether-passed-on";

/// How long reaching the leader may take.
const CONNECT: Duration = Duration::from_secs(5);

/// Headers of one connection, not of the request: never passed on (RFC 9110, 7.6.1).
const HOP_BY_HOP: [header::HeaderName; 6] = [
    header::CONNECTION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
];

#[derive(Clone)]
struct Standby {
    /// The leader's API address, as it last said.
    leader: watch::Receiver<String>,
    hosts: std::sync::Arc<Hosts>,
    /// Whether this server speaks TLS.
    tls: bool,
}

/// Serves the standby's answers on `listener` until `stop` is cancelled, then lets requests
/// in flight finish. `leader` is the leading control plane's API address, as it last said;
/// `names` are the host names this server answers to besides IP addresses and `localhost`.
pub async fn serve_standby(
    listener: &TcpListener,
    leader: watch::Receiver<String>,
    names: Vec<String>,
    limits: Limits,
    tls: Option<Tls>,
    stop: CancellationToken,
) {
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let state = Standby {
        leader,
        hosts: std::sync::Arc::new(Hosts::new(port, names)),
        tls: tls.is_some(),
    };
    let app = Router::new()
        .route(paths::HEALTH, get(health))
        .fallback(pass_on)
        .with_state(state);
    listen::serve(listener, app, limits, tls, stop).await;
}

async fn health(State(standby): State<Standby>) -> Json<Health> {
    Json(Health {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        standby_of: Some(standby.leader.borrow().clone()),
    })
}

/// Sends `request` on to the leader and its answer back, or says why not.
async fn pass_on(State(standby): State<Standby>, request: Request) -> Response {
    if let Err(refused) = standby.hosts.admit(request.headers()) {
        return refused.into_response();
    }
    let leader = standby.leader.borrow().clone();
    if request.headers().contains_key(PASSED_ON) {
        return unavailable(&leader, "but that address leads to a standby");
    }
    let authority = match leader.strip_prefix("http://") {
        Some(authority) if !standby.tls => authority.to_owned(),
        _ => return unavailable(&leader, "so ask it"),
    };
    match send(&authority, request).await {
        Ok(response) => response,
        Err(why) => unavailable(&leader, &format!("which cannot be reached ({why})")),
    }
}

async fn send(authority: &str, request: Request) -> Result<Response, String> {
    let stream = tokio::time::timeout(CONNECT, TcpStream::connect(authority))
        .await
        .map_err(|_| "no connection within 5 s".to_owned())?
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    // The connection carries this one request, and ends when its answer has been read.
    tokio::spawn(connection);
    let (mut head, body) = request.into_parts();
    strip(&mut head.headers);
    // The standby checked the origin against its own address; the leader would against its.
    head.headers.remove(header::ORIGIN);
    let host = HeaderValue::from_str(authority).map_err(|e| e.to_string())?;
    head.headers.insert(header::HOST, host);
    head.headers
        .insert(PASSED_ON, HeaderValue::from_static("1"));
    head.uri = head
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .map_err(|e: axum::http::uri::InvalidUri| e.to_string())?;
    let answer = sender
        .send_request(Request::from_parts(head, body))
        .await
        .map_err(|e| e.to_string())?;
    let (mut head, body) = answer.into_parts();
    strip(&mut head.headers);
    Ok(Response::from_parts(head, Body::new(body)))
}

/// Removes the headers of one connection, and those its `Connection` header names.
fn strip(headers: &mut HeaderMap) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|n| n.trim().to_ascii_lowercase()))
        .collect();
    for name in HOP_BY_HOP
        .iter()
        .map(|h| h.as_str())
        .chain(named.iter().map(String::as_str))
    {
        headers.remove(name);
    }
    headers.remove("keep-alive");
}

fn unavailable(leader: &str, why: &str) -> Response {
    let error = match leader {
        "" => "this control plane is a standby, and which one leads is not known yet".to_owned(),
        _ => format!(
            "this control plane is a standby: the one that leads serves the API at {leader}, {why}"
        ),
    };
    (StatusCode::SERVICE_UNAVAILABLE, Json(ApiError { error })).into_response()
}
