//! Keep-alive HTTP/1.1 connections to one replica. A connection returns to the pool only once
//! its response body has been read to the end, and a request that a pooled connection could
//! not take (the backend had closed it) moves on to another connection, unsent.

use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use tokio::net::TcpStream;

use crate::proxy::RequestBody;
use crate::socket::BackendIo;

type Sender = SendRequest<RequestBody>;

/// Idle lists per replica: one per router thread, up to this many threads.
const SHARDS: usize = 16;

#[derive(Debug)]
pub(crate) struct Pool {
    addr: SocketAddr,
    max_idle: usize,
    /// Idle connections by worker thread (see [`crate::server::worker`]), allocated with the
    /// first request: a control plane keeps thousands of replicas in its tables, most idle.
    idle: OnceLock<Box<[Mutex<Vec<Sender>>]>>,
}

/// Why a request did not get a response from the replica.
#[derive(Debug)]
pub(crate) enum SendError {
    /// No connection could be made; the request was not sent and is handed back.
    Connect(ConnectError, Box<Request<RequestBody>>),
    /// The connection failed after the request (or part of it) went out.
    Failed(hyper::Error),
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("cannot connect: {0}")]
    Io(std::io::Error),
    #[error("cannot connect within {0:?}")]
    Timeout(Duration),
    #[error("the new connection closed before the request was sent: {0}")]
    Closed(hyper::Error),
}

/// A connection lent to one request; give it back with [`Pool::put`] when its response body
/// has ended.
pub(crate) type Lent = Sender;

impl Pool {
    pub(crate) fn new(addr: SocketAddr, max_idle: usize) -> Self {
        Self {
            addr,
            max_idle,
            idle: OnceLock::new(),
        }
    }

    /// Sends `req` on an idle connection or a new one.
    pub(crate) async fn send(
        &self,
        mut req: Request<RequestBody>,
        connect_timeout: Duration,
    ) -> Result<(Response<Incoming>, Lent), SendError> {
        while let Some(mut sender) = self.take() {
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(req).await {
                Ok(response) => return Ok((response, sender)),
                Err(mut e) => match e.take_message() {
                    Some(unsent) => req = unsent,
                    None => return Err(SendError::Failed(e.into_error())),
                },
            }
        }
        // Boxed: connecting is rare once the pool is warm, and its state would otherwise make
        // every request's future (moved on each poll set-up) several times larger.
        let mut sender = match Box::pin(self.connect(connect_timeout)).await {
            Ok(sender) => sender,
            Err(e) => return Err(SendError::Connect(e, Box::new(req))),
        };
        match sender.try_send_request(req).await {
            Ok(response) => Ok((response, sender)),
            Err(mut e) => match e.take_message() {
                Some(unsent) => Err(SendError::Connect(
                    ConnectError::Closed(e.into_error()),
                    Box::new(unsent),
                )),
                None => Err(SendError::Failed(e.into_error())),
            },
        }
    }

    /// Returns a connection whose response has been read to its end.
    pub(crate) fn put(&self, sender: Lent) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.shard().lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.max_idle {
            idle.push(sender);
        }
    }

    fn take(&self) -> Option<Sender> {
        self.shard()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    /// The idle list of the thread running this task. A connection's task runs on the thread
    /// that opened it, so reusing it from the same thread avoids waking another one.
    fn shard(&self) -> &Mutex<Vec<Sender>> {
        let idle = self
            .idle
            .get_or_init(|| (0..SHARDS).map(|_| Mutex::new(Vec::new())).collect());
        &idle[crate::server::worker() % SHARDS]
    }

    async fn connect(&self, timeout: Duration) -> Result<Sender, ConnectError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(self.addr))
            .await
            .map_err(|_| ConnectError::Timeout(timeout))?
            .map_err(ConnectError::Io)?;
        // Requests and responses are small and latency matters more than packet count.
        stream.set_nodelay(true).map_err(ConnectError::Io)?;
        let (sender, connection) = http1::Builder::new()
            .writev(false)
            .handshake(BackendIo::new(stream))
            .await
            .map_err(ConnectError::Closed)?;
        // The connection's task ends when the backend closes it or every sender is dropped;
        // its error, if any, reaches the request that was using it.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }
}
