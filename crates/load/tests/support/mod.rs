//! Servers for the engine's tests: in memory (a hyper server on the other end of a duplex
//! pipe, so every wait is on tokio's clock and a paused clock runs a test in no time) and on
//! loopback TCP.

#![allow(dead_code, unreachable_pub)] // each test file uses its own part of the harness

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bellwether_load::client::{Connect, Connecting, Io};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::time::Instant;

/// How long the answer to a path takes, and its status.
type Answering = dyn Fn(&str) -> (Duration, u16) + Send + Sync;

/// How the server answers, and what it saw.
pub struct Server {
    /// Answer time and status, given the request's path.
    answer: Box<Answering>,
    /// Each request's path, `x-canary` header and arrival time.
    pub seen: Mutex<Vec<(String, Option<String>, Instant)>>,
    pub connections: std::sync::atomic::AtomicUsize,
}

impl Server {
    pub fn new(answer: impl Fn(&str) -> (Duration, u16) + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            answer: Box::new(answer),
            seen: Mutex::new(Vec::new()),
            connections: Default::default(),
        })
    }

    /// Answers 200 at once.
    pub fn instant() -> Arc<Self> {
        Self::new(|_| (Duration::ZERO, 200))
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn paths(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.0.clone())
            .collect()
    }

    async fn serve(self: Arc<Self>, io: impl Io) {
        self.connections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let service = service_fn(move |req: Request<Incoming>| {
            let server = Arc::clone(&self);
            async move {
                let path = req.uri().path().to_owned();
                let canary = req
                    .headers()
                    .get("x-canary")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                server
                    .seen
                    .lock()
                    .unwrap()
                    .push((path.clone(), canary, Instant::now()));
                let (after, status) = (server.answer)(&path);
                if !after.is_zero() {
                    tokio::time::sleep(after).await;
                }
                let mut response = Response::new(Full::new(Bytes::from(format!("hello {path}"))));
                *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
                Ok::<_, Infallible>(response)
            }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(io), service)
            .await;
    }
}

/// Connects to a [`Server`] in memory.
pub struct Memory(pub Arc<Server>);

impl Connect for Memory {
    fn connect<'a>(&'a self, _authority: &'a str) -> Connecting<'a> {
        Box::pin(async move {
            let (client, server) = tokio::io::duplex(64 * 1024);
            tokio::spawn(Arc::clone(&self.0).serve(server));
            Ok(Box::new(client) as Box<dyn Io>)
        })
    }
}

/// Serves `server` on a loopback port; returns the address.
pub async fn tcp(server: Arc<Server>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(Arc::clone(&server).serve(stream));
        }
    });
    addr
}
