//! Keep-alive HTTP/1.1 connections to one replica. A connection returns to the pool only once
//! its response body has been read to the end, one the backend has closed is dropped when
//! taken, and a request that a pooled connection could not take moves on to another
//! connection, unsent.

use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use http::Response;
use tokio::net::TcpStream;

use crate::upstream::{Broken, Conn, Outgoing, UpstreamBody, UpstreamError};

/// Idle lists per replica: one per router thread, up to this many threads.
const SHARDS: usize = 16;

#[derive(Debug)]
pub(crate) struct Pool {
    addr: SocketAddr,
    max_idle: usize,
    /// Idle connections by worker thread (see [`crate::worker`]), allocated with the first
    /// request: a control plane keeps thousands of replicas in its tables, most idle.
    idle: OnceLock<Box<[Mutex<Vec<Conn>>]>>,
}

/// Why a request did not get a response from the replica.
#[derive(Debug)]
pub(crate) enum SendError {
    /// No connection could be made; the request was not sent and is handed back.
    Connect(ConnectError, Outgoing),
    /// The connection failed after the request (or part of it) went out; `answered` if any
    /// byte of a response had arrived.
    Failed {
        error: UpstreamError,
        answered: bool,
    },
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("cannot connect: {0}")]
    Io(std::io::Error),
    #[error("cannot connect within {0:?}")]
    Timeout(Duration),
    #[error("the new connection failed before the request was sent: {0}")]
    Closed(UpstreamError),
}

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
        mut req: Outgoing,
        connect_timeout: Duration,
    ) -> Result<Response<UpstreamBody>, SendError> {
        while let Some(conn) = self.take() {
            if !conn.is_open() {
                continue;
            }
            match conn.exchange(req).await {
                Ok(response) => return Ok(response),
                Err(Broken {
                    unsent: Some(unsent),
                    ..
                }) => req = unsent,
                Err(Broken {
                    error, answered, ..
                }) => return Err(SendError::Failed { error, answered }),
            }
        }
        // Boxed: connecting is rare once the pool is warm, and its state would otherwise make
        // every request's future (moved on each poll set-up) several times larger.
        let conn = match Box::pin(self.connect(connect_timeout)).await {
            Ok(conn) => conn,
            Err(e) => return Err(SendError::Connect(e, req)),
        };
        match conn.exchange(req).await {
            Ok(response) => Ok(response),
            Err(Broken {
                error,
                unsent: Some(unsent),
                ..
            }) => Err(SendError::Connect(ConnectError::Closed(error), unsent)),
            Err(Broken {
                error, answered, ..
            }) => Err(SendError::Failed { error, answered }),
        }
    }

    /// Returns a connection whose response has been read to its end.
    pub(crate) fn put(&self, conn: Conn) {
        let mut idle = self.shard().lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.max_idle {
            idle.push(conn);
        }
    }

    fn take(&self) -> Option<Conn> {
        self.shard()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    /// The idle list of the thread running this task: a socket stays registered with the
    /// runtime of the thread that opened it, so reusing it from the same thread avoids
    /// waking another one.
    fn shard(&self) -> &Mutex<Vec<Conn>> {
        let idle = self
            .idle
            .get_or_init(|| (0..SHARDS).map(|_| Mutex::new(Vec::new())).collect());
        &idle[crate::worker::index() % SHARDS]
    }

    async fn connect(&self, timeout: Duration) -> Result<Conn, ConnectError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(self.addr))
            .await
            .map_err(|_| ConnectError::Timeout(timeout))?
            .map_err(ConnectError::Io)?;
        // Requests and responses are small and latency matters more than packet count.
        stream.set_nodelay(true).map_err(ConnectError::Io)?;
        Ok(Conn::new(stream))
    }
}
