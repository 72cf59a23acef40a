//! Proxying one request: pick the revision (header routes, then weights), pick a replica,
//! forward, retry once elsewhere when that is safe, and answer 502/503/504 naming the revision
//! when nothing can serve.

mod headers;
mod local;
mod response;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use response::{Finish, ResponseBody};

use crate::body::{RequestBody, mirror};
use crate::config::RouterConfig;
use crate::pool::SendError;
use crate::replica::{Replica, Revision};
use crate::signals::Outcome;
use crate::table::{Table, slot};
use crate::upstream::Outgoing;

/// The state every connection of one router shares.
#[derive(Debug)]
pub(crate) struct Proxy {
    pub(crate) table: ArcSwap<Table>,
    pub(crate) config: RouterConfig,
    /// A permit per client connection served.
    pub(crate) connections: Arc<Semaphore>,
    turns: AtomicU64,
    mirror_turns: AtomicU64,
}

impl Proxy {
    pub(crate) fn new(table: Table, config: RouterConfig) -> Self {
        Self {
            table: ArcSwap::from_pointee(table),
            connections: Arc::new(Semaphore::new(config.max_connections.max(1))),
            config,
            turns: AtomicU64::new(0),
            mirror_turns: AtomicU64::new(0),
        }
    }

    /// Serves one client request. `client` is the client's address as a header value.
    pub(crate) async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        client: HeaderValue,
    ) -> Response<ResponseBody> {
        if req.method() == Method::CONNECT {
            return local::response(
                StatusCode::METHOD_NOT_ALLOWED,
                "bellwether: CONNECT is not supported by a reverse proxy".into(),
            );
        }
        // The table is read once: the request is routed by one table from start to end, and
        // holds only its revision (not the table) while it is in flight.
        let (revision, mirror, service) = {
            let table = self.table.load();
            let revision = table
                .route(
                    req.headers(),
                    slot(self.turns.fetch_add(1, Ordering::Relaxed)),
                )
                .cloned();
            let mirror = match table.mirror(slot(self.mirror_turns.fetch_add(1, Ordering::Relaxed)))
            {
                Some(m) if revision.as_ref().is_some_and(|r| !Arc::ptr_eq(r, m)) => {
                    Some(Arc::clone(m))
                }
                _ => None,
            };
            let service = revision.is_none().then(|| table.service.clone());
            (revision, mirror, service)
        };
        let Some(revision) = revision else {
            let service = service.unwrap_or_default();
            return local::response(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "bellwether: service `{service}` has no revision for this request (no weight and no matching header route)"
                ),
            );
        };
        let (mut parts, incoming) = req.into_parts();
        headers::prepare_request(&mut parts, &client);
        let Some(mirror) = mirror else {
            let (body, bytes_in) = RequestBody::client(incoming);
            return self
                .forward(revision, Outgoing::new(&parts, body), bytes_in)
                .await;
        };
        let (tee, copy) = mirror::tee(incoming);
        let counter = Arc::new(AtomicU64::new(0));
        let out = Outgoing::new(&parts, RequestBody::Tee(tee, Arc::clone(&counter)));
        let copied = out.with_body(RequestBody::Mirror(copy));
        let proxy = Arc::clone(&self);
        tokio::spawn(async move {
            let response = proxy.forward(mirror, copied, None).await;
            // Reading the answer to its end lets the connection be reused.
            let _ = response.into_body().collect().await;
        });
        self.forward(revision, out, Some(counter)).await
    }

    /// Sends a prepared request to a replica of `revision`, retrying once on another replica
    /// if it is idempotent and the first could not even be connected to.
    async fn forward(
        &self,
        revision: Arc<Revision>,
        req: Outgoing,
        bytes_in: Option<Arc<AtomicU64>>,
    ) -> Response<ResponseBody> {
        let started = Instant::now();
        revision.signals.start();
        let mut abandoned = Abandoned(Some((Arc::clone(&revision), started)));
        let response = self.try_replicas(revision, req, started, bytes_in).await;
        // From here the outcome is recorded by `fail` or by the response body.
        abandoned.0 = None;
        response
    }

    async fn try_replicas(
        &self,
        revision: Arc<Revision>,
        req: Outgoing,
        started: Instant,
        bytes_in: Option<Arc<AtomicU64>>,
    ) -> Response<ResponseBody> {
        let Some(first) = revision.pick(None).cloned() else {
            return fail(
                &revision,
                started,
                StatusCode::SERVICE_UNAVAILABLE,
                "has no replicas",
            );
        };
        let idempotent = req.is_idempotent();
        let (error, req) = match self
            .attempt(&revision, &first, req, started, &bytes_in)
            .await
        {
            Ok(response) => return response,
            Err(Unsent { error, req }) => (error, req),
        };
        let retry = if idempotent {
            revision.pick(Some(&first)).cloned()
        } else {
            None
        };
        let Some(second) = retry else {
            let message = format!("failed: {error}");
            return fail(&revision, started, StatusCode::BAD_GATEWAY, &message);
        };
        // Boxed, like connecting: retries are rare and would double every request's future.
        match Box::pin(self.attempt(&revision, &second, req, started, &bytes_in)).await {
            Ok(response) => response,
            Err(Unsent { error: again, .. }) => {
                let message = format!("failed: {error}; retried: {again}");
                fail(&revision, started, StatusCode::BAD_GATEWAY, &message)
            }
        }
    }

    /// One try on one replica. A request that was never sent comes back for a retry; every
    /// other outcome is final and already recorded (or will be, when the body ends).
    async fn attempt(
        &self,
        revision: &Arc<Revision>,
        replica: &Arc<Replica>,
        req: Outgoing,
        started: Instant,
        bytes_in: &Option<Arc<AtomicU64>>,
    ) -> Result<Response<ResponseBody>, Unsent> {
        let in_flight = replica.begin();
        let timeout = self.config.response_timeout;
        let sent =
            tokio::time::timeout(timeout, replica.pool.send(req, self.config.connect_timeout))
                .await;
        let addr = replica.addr;
        match sent {
            Ok(Ok(response)) => {
                replica.succeeded();
                let (mut parts, incoming) = response.into_parts();
                headers::prepare_response(&mut parts);
                let finish = Finish {
                    revision: Arc::clone(revision),
                    in_flight,
                    started,
                    status: parts.status.as_u16(),
                    bytes_in: bytes_in.clone(),
                    bytes_out: 0,
                };
                Ok(Response::from_parts(
                    parts,
                    ResponseBody::proxied(incoming, finish, self.config.body_idle_timeout),
                ))
            }
            Ok(Err(SendError::Connect(error, req))) => {
                replica.failed();
                Err(Unsent {
                    error: format!("{addr}: {error}"),
                    req,
                })
            }
            Ok(Err(SendError::Failed(error))) => {
                replica.failed();
                let message = format!("failed: {addr} broke off before answering: {error}");
                Ok(fail(revision, started, StatusCode::BAD_GATEWAY, &message))
            }
            Err(_) => {
                replica.failed();
                let message = format!("timed out: {addr} did not answer within {timeout:?}");
                Ok(fail(
                    revision,
                    started,
                    StatusCode::GATEWAY_TIMEOUT,
                    &message,
                ))
            }
        }
    }
}

/// A request whose client went away before any answer (hyper drops the request's future): it
/// still ends, as a proxy error, so that no request stays in flight for ever in the signals.
struct Abandoned(Option<(Arc<Revision>, Instant)>);

impl Drop for Abandoned {
    fn drop(&mut self) {
        if let Some((revision, started)) = self.0.take() {
            let outcome = Outcome {
                status: None,
                latency: started.elapsed(),
                bytes_in: 0,
                bytes_out: 0,
            };
            revision.signals.finish(&outcome);
        }
    }
}

/// A request no replica received, with the reason.
struct Unsent {
    error: String,
    req: Outgoing,
}

/// The router's own answer for a request `revision` could not serve, counted as a proxy error.
fn fail(
    revision: &Revision,
    started: Instant,
    status: StatusCode,
    why: &str,
) -> Response<ResponseBody> {
    let message = format!(
        "bellwether: revision `{}` of service `{}` {why}",
        revision.name,
        revision.signals.service()
    );
    let response = local::response(status, message);
    let outcome = Outcome {
        status: None,
        latency: started.elapsed(),
        bytes_in: 0,
        bytes_out: 0,
    };
    revision.signals.finish(&outcome);
    response
}
