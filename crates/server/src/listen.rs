//! Accepting connections and serving HTTP/1.1 on them, under the [`Limits`] every client is
//! held to: a client that sends nothing, or a request head slowly, is cut off; a bounded
//! number of connections are served at once.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::tls::Tls;

/// What the server allows each client.
#[derive(Clone, Debug)]
pub struct Limits {
    /// How long a client has to send a request's head once the server waits for one: the
    /// first after connecting, or the next on a kept-alive connection, so it is also how
    /// long a connection may sit idle between requests.
    pub header_timeout: Duration,
    /// How many connections each listener serves at once. Past it, new connections wait in
    /// the listen queue until one closes.
    pub max_connections: usize,
    /// How many webhook deliveries are handled at once; past it a delivery is answered 503
    /// with `Retry-After`.
    pub max_webhooks: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            max_connections: 512,
            max_webhooks: 8,
        }
    }
}

/// Serves `app` on `listener` until `stop` is cancelled, then lets each connection finish the
/// request it is on and waits for them all.
pub(crate) async fn serve(
    listener: &TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<Tls>,
    stop: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let connections = TaskTracker::new();
    loop {
        // A slot is taken before accepting: past the limit, connections wait in the kernel's
        // queue, costing this process nothing, and are served in order as slots free.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = stop.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
            () = stop.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let (app, stop, timeout, tls) = (
            app.clone(),
            stop.clone(),
            limits.header_timeout,
            tls.clone(),
        );
        connections.spawn(async move {
            let _slot = slot;
            let Some(tls) = tls else {
                return connection(stream, peer, app, timeout, stop).await;
            };
            // The handshake is held to the same bound as a request head.
            match tokio::time::timeout(timeout, tls.0.accept(stream)).await {
                Ok(Ok(stream)) => connection(stream, peer, app, timeout, stop).await,
                Ok(Err(error)) => tracing::debug!(%peer, "TLS handshake failed: {error}"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
    connections.close();
    connections.wait().await;
}

/// A failed accept: a connection that went away before it was taken needs nothing; out of
/// file descriptors or memory, a pause lets connections close before trying again.
async fn accept_failed(error: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!("cannot accept a connection: {error}");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

async fn connection<S>(
    stream: S,
    peer: SocketAddr,
    app: Router,
    header_timeout: Duration,
    stop: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let mut app = app.clone();
        async move {
            let response: Result<Response, Infallible> =
                tower_service::Service::call(&mut app, request).await;
            response
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let mut served = pin!(builder.serve_connection(TokioIo::new(stream), service));
    tokio::select! {
        result = served.as_mut() => finished(peer, result),
        () = stop.cancelled() => {
            served.as_mut().graceful_shutdown();
            finished(peer, served.await);
        }
    }
}

fn finished(peer: SocketAddr, result: hyper::Result<()>) {
    if let Err(error) = result {
        tracing::debug!(%peer, "connection ended: {error}");
    }
}
