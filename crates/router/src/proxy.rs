//! Proxying one request: pick the revision (header routes, then weights), pick a replica,
//! forward, retry once elsewhere when that is safe, and answer 502/503/504 naming the revision
//! when nothing can serve.
//!
//! A request that no replica of its revision received goes to the table's stable revision
//! instead (see `Table::fallback`): one that could not be connected or written to any
//! replica, or found no replica at all, and one without a body (or with an empty one) whose
//! method is idempotent that a replica broke off before any byte of an answer. It still
//! counts as a proxy error of the revision it was routed to, so analysis sees a crashing
//! canary at once, while its client never does. A request with a body that was written, one answered in part, and one
//! that timed out waiting for its answer were received: they fail where they went.

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
        let (revision, fallback, mirror, service) = {
            let table = self.table.load();
            let revision = table
                .route(
                    req.headers(),
                    slot(self.turns.fetch_add(1, Ordering::Relaxed)),
                )
                .cloned();
            let fallback = revision.as_ref().and_then(|r| table.fallback(r)).cloned();
            let mirror = match table.mirror(slot(self.mirror_turns.fetch_add(1, Ordering::Relaxed)))
            {
                Some(m) if revision.as_ref().is_some_and(|r| !Arc::ptr_eq(r, m)) => {
                    Some(Arc::clone(m))
                }
                _ => None,
            };
            let service = revision.is_none().then(|| table.service.clone());
            (revision, fallback, mirror, service)
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
                .forward(revision, fallback, Outgoing::new(&parts, body), bytes_in)
                .await;
        };
        let (tee, copy) = mirror::tee(incoming);
        let counter = Arc::new(AtomicU64::new(0));
        let out = Outgoing::new(&parts, RequestBody::Tee(tee, Arc::clone(&counter)));
        let copied = out.with_body(RequestBody::Mirror(copy));
        let proxy = Arc::clone(&self);
        tokio::spawn(async move {
            let response = proxy.forward(mirror, None, copied, None).await;
            // Reading the answer to its end lets the connection be reused.
            let _ = response.into_body().collect().await;
        });
        self.forward(revision, fallback, out, Some(counter)).await
    }

    /// Sends a prepared request to a replica of `revision`, retrying once on another replica
    /// if it is idempotent and the first could not even be connected to; a request no replica
    /// received goes to `fallback`, counted as failed for `revision`.
    async fn forward(
        &self,
        revision: Arc<Revision>,
        fallback: Option<Arc<Revision>>,
        req: Outgoing,
        bytes_in: Option<Arc<AtomicU64>>,
    ) -> Response<ResponseBody> {
        let started = Instant::now();
        revision.signals.start();
        let mut abandoned = Abandoned(Some((Arc::clone(&revision), started)));
        let replay = fallback.is_some();
        let unreached = self
            .try_replicas(&revision, req, started, &bytes_in, replay)
            .await;
        // From here the outcome is recorded by `fail`, `failed` or by the response body.
        abandoned.0 = None;
        let Unreached { req, status, why } = match unreached {
            Ok(response) => return response,
            Err(unreached) => unreached,
        };
        let Some(stable) = fallback else {
            return fail(&revision, started, status, &why);
        };
        failed(&revision, started);
        // Boxed: a fallback is rare, and its future would double every request's.
        Box::pin(self.forward(stable, None, req, bytes_in)).await
    }

    /// Tries a replica of `revision`, and another when that is safe; the request comes back
    /// when none received it (with `replay`, also when it has no body, is idempotent and a
    /// replica broke off before answering).
    async fn try_replicas(
        &self,
        revision: &Arc<Revision>,
        req: Outgoing,
        started: Instant,
        bytes_in: &Option<Arc<AtomicU64>>,
        replay: bool,
    ) -> Result<Response<ResponseBody>, Unreached> {
        let Some(first) = revision.pick(None).cloned() else {
            return Err(Unreached {
                req,
                status: StatusCode::SERVICE_UNAVAILABLE,
                why: "has no replicas".to_owned(),
            });
        };
        let idempotent = req.is_idempotent();
        let Unsent {
            error,
            req,
            written,
        } = match self
            .attempt(revision, &first, req, started, bytes_in, replay)
            .await
        {
            Ok(response) => return Ok(response),
            Err(unsent) => unsent,
        };
        let retry = if idempotent && !written {
            revision.pick(Some(&first)).cloned()
        } else {
            None
        };
        let Some(second) = retry else {
            return Err(Unreached {
                req,
                status: StatusCode::BAD_GATEWAY,
                why: format!("failed: {error}"),
            });
        };
        // Boxed, like connecting: retries are rare and would double every request's future.
        match Box::pin(self.attempt(revision, &second, req, started, bytes_in, replay)).await {
            Ok(response) => Ok(response),
            Err(Unsent {
                error: again, req, ..
            }) => Err(Unreached {
                req,
                status: StatusCode::BAD_GATEWAY,
                why: format!("failed: {error}; retried: {again}"),
            }),
        }
    }

    /// One try on one replica. A request that was never sent comes back for a retry, and with
    /// `replay` one without a body that the replica broke off before answering; every other
    /// outcome is final and already recorded (or will be, when the body ends).
    async fn attempt(
        &self,
        revision: &Arc<Revision>,
        replica: &Arc<Replica>,
        req: Outgoing,
        started: Instant,
        bytes_in: &Option<Arc<AtomicU64>>,
        replay: bool,
    ) -> Result<Response<ResponseBody>, Unsent> {
        let copy = if replay { req.replay() } else { None };
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
                    written: false,
                })
            }
            Ok(Err(SendError::Failed { error, answered })) => {
                replica.failed();
                let error = format!("{addr} broke off before answering: {error}");
                match copy {
                    Some(req) if !answered => Err(Unsent {
                        error,
                        req,
                        written: true,
                    }),
                    _ => Ok(fail(
                        revision,
                        started,
                        StatusCode::BAD_GATEWAY,
                        &format!("failed: {error}"),
                    )),
                }
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

/// A request one replica did not receive, with the reason: never written, or (`written`)
/// written without a body and broken off before any answer.
struct Unsent {
    error: String,
    req: Outgoing,
    written: bool,
}

/// A request no replica of its revision received, and the answer it gets if it goes nowhere
/// else.
struct Unreached {
    req: Outgoing,
    status: StatusCode,
    why: String,
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
    failed(revision, started);
    local::response(status, message)
}

/// Counts a request `revision` could not serve as a proxy error.
fn failed(revision: &Revision, started: Instant) {
    let outcome = Outcome {
        status: None,
        latency: started.elapsed(),
        bytes_in: 0,
        bytes_out: 0,
    };
    revision.signals.finish(&outcome);
}
