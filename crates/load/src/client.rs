//! Each VU's HTTP/1.1 client: one keep-alive connection per host it talks to, made again when
//! the server closes it. How a connection is made is a seam ([`Connect`]), so tests can serve
//! the engine in memory, where tokio's paused clock governs every wait.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

/// A byte stream to a server.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A connection being made.
pub type Connecting<'a> = Pin<Box<dyn Future<Output = io::Result<Box<dyn Io>>> + Send + 'a>>;

/// Makes connections to `host:port`.
pub trait Connect: Send + Sync + 'static {
    fn connect<'a>(&'a self, authority: &'a str) -> Connecting<'a>;
}

/// TCP, with Nagle's algorithm off, as every load generator does.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tcp;

impl Connect for Tcp {
    fn connect<'a>(&'a self, authority: &'a str) -> Connecting<'a> {
        Box::pin(async move {
            let stream = tokio::net::TcpStream::connect(authority).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as Box<dyn Io>)
        })
    }
}

/// What came back.
pub(crate) struct Answer {
    pub(crate) status: u16,
    /// The body, when it was asked for (a check reads it); otherwise it was drained.
    pub(crate) body: Option<Bytes>,
}

/// One VU's connections.
pub(crate) struct Client {
    connector: Arc<dyn Connect>,
    /// Few: a VU usually talks to one host.
    connections: Vec<(String, SendRequest<Full<Bytes>>)>,
}

impl Client {
    pub(crate) fn new(connector: Arc<dyn Connect>) -> Self {
        Self {
            connector,
            connections: Vec::new(),
        }
    }

    /// Sends `request` to `authority` on this VU's connection there (made if need be) and
    /// reads the whole answer within `timeout`; keeps the body only if `keep_body`. A
    /// connection that failed or timed out is closed.
    pub(crate) async fn send(
        &mut self,
        authority: &str,
        request: Request<Full<Bytes>>,
        keep_body: bool,
        timeout: Duration,
    ) -> Result<Answer, String> {
        match tokio::time::timeout(timeout, self.try_send(authority, request, keep_body)).await {
            Ok(answer) => answer,
            Err(_) => {
                self.connections.retain(|(a, _)| a != authority);
                Err(format!("no answer within {timeout:?}"))
            }
        }
    }

    async fn try_send(
        &mut self,
        authority: &str,
        request: Request<Full<Bytes>>,
        keep_body: bool,
    ) -> Result<Answer, String> {
        let at = match self.connections.iter().position(|(a, _)| a == authority) {
            Some(at) => at,
            None => {
                self.connections
                    .push((authority.to_owned(), self.connect(authority).await?));
                self.connections.len() - 1
            }
        };
        // A keep-alive connection the server closed while idle is made again, once.
        if self.connections[at].1.ready().await.is_err() {
            self.connections[at].1 = self.connect(authority).await?;
        }
        let result = self.exchange(at, request, keep_body).await;
        if result.is_err() {
            self.connections.swap_remove(at);
        }
        result
    }

    async fn exchange(
        &mut self,
        at: usize,
        request: Request<Full<Bytes>>,
        keep_body: bool,
    ) -> Result<Answer, String> {
        let response = self.connections[at]
            .1
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let kept = if keep_body {
            Some(body.collect().await.map_err(|e| e.to_string())?.to_bytes())
        } else {
            while let Some(frame) = body.frame().await {
                frame.map_err(|e| e.to_string())?;
            }
            None
        };
        Ok(Answer { status, body: kept })
    }

    async fn connect(&self, authority: &str) -> Result<SendRequest<Full<Bytes>>, String> {
        let io = self
            .connector
            .connect(authority)
            .await
            .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        Ok(sender)
    }
}
