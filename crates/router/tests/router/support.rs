//! Test backends, clients and a router on ephemeral loopback ports.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bellwether_core::spec::Weight;
use bellwether_router::{Balance, RevisionSpec, Router, RouterConfig, Signals, TableSpec};
use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// Every test must end well within this.
pub(crate) const LIMIT: Duration = Duration::from_secs(60);

/// A backend that answers 200 with its name in `x-backend` and the body, and remembers what it
/// received.
pub(crate) struct Backend {
    pub(crate) addr: SocketAddr,
    pub(crate) seen: Arc<Mutex<Vec<Seen>>>,
}

/// One request a backend received.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) uri: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Backend {
    pub(crate) async fn start(name: &'static str) -> Self {
        Self::start_with(name, None).await
    }

    /// Like [`Backend::start`], but each request waits for `gate` before being answered and
    /// announces its arrival on `arrived`.
    pub(crate) async fn start_with(
        name: &'static str,
        gate: Option<(Arc<Notify>, Arc<Notify>)>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let record = Arc::clone(&record);
                let gate = gate.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let record = Arc::clone(&record);
                        let gate = gate.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            record.lock().unwrap().push(Seen {
                                method: parts.method.to_string(),
                                uri: parts.uri.to_string(),
                                headers: parts.headers,
                                body,
                            });
                            if let Some((arrived, release)) = gate {
                                arrived.notify_one();
                                release.notified().await;
                            }
                            let response = Response::builder()
                                .header("x-backend", name)
                                .body(Full::new(Bytes::from_static(name.as_bytes())))
                                .unwrap();
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, seen }
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A raw TCP backend: each connection reads one request head and runs `answer` on the socket.
pub(crate) async fn raw_backend<F, Fut>(answer: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let answer = Arc::clone(&answer);
            tokio::spawn(async move {
                read_head(&mut stream).await;
                answer(stream).await;
            });
        }
    });
    addr
}

/// Reads until the end of a request head (or the connection ends).
pub(crate) async fn read_head(stream: &mut TcpStream) -> Vec<u8> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&byte[..n]),
        }
    }
    head
}

/// An address where nothing listens.
pub(crate) async fn dead_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

pub(crate) fn revision(
    name: &str,
    number: u64,
    replicas: &[SocketAddr],
    weight_bp: u16,
) -> RevisionSpec {
    RevisionSpec {
        name: name.into(),
        number,
        replicas: replicas.to_vec(),
        weight: Weight::from_basis_points(weight_bp).unwrap(),
        balance: Balance::default(),
    }
}

pub(crate) fn table(revisions: Vec<RevisionSpec>) -> TableSpec {
    TableSpec {
        service: "api".into(),
        revisions,
        header_routes: vec![],
        mirror: None,
    }
}

/// A running router and where it listens.
pub(crate) struct Running {
    pub(crate) router: Arc<Router>,
    pub(crate) addr: SocketAddr,
}

pub(crate) async fn start_router(spec: TableSpec, config: RouterConfig) -> Running {
    let router = Arc::new(Router::new(spec, config, Signals::new()).unwrap());
    let listener = Router::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(Arc::clone(&router).serve(listener));
    Running { router, addr }
}

/// A router whose one revision, `stable`, takes every request to `backend`.
pub(crate) async fn start_stable(backend: SocketAddr, config: RouterConfig) -> Running {
    start_router(
        table(vec![revision("stable", 1, &[backend], 10_000)]),
        config,
    )
    .await
}

/// A keep-alive HTTP/1.1 client connection.
pub(crate) struct Client {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

/// A response read to its end: status, headers and body, or the error that cut it.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Result<Bytes, String>,
}

impl Answer {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(self.body.as_ref().map(|b| b.as_ref()).unwrap_or(b"")).into_owned()
    }

    pub(crate) fn backend(&self) -> &str {
        self.headers
            .get("x-backend")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

impl Client {
    pub(crate) async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        Self { sender }
    }

    pub(crate) async fn get(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Answer, hyper::Error> {
        self.send("GET", path, headers, Bytes::new()).await
    }

    pub(crate) async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Answer, hyper::Error> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "api.test");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.sender.ready().await?;
        let response = self
            .sender
            .send_request(req.body(Full::new(body)).unwrap())
            .await?;
        Ok(read(response).await)
    }
}

pub(crate) async fn read(response: Response<Incoming>) -> Answer {
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .map_err(|e| e.to_string());
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// One request on a fresh connection.
pub(crate) async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    Client::connect(addr)
        .await
        .get(path, headers)
        .await
        .unwrap()
}

/// Writes raw bytes and reads what comes back until the router closes the connection.
pub(crate) async fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Counts by backend name.
pub(crate) fn tally<'a>(names: impl IntoIterator<Item = &'a str>) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for n in names {
        *counts.entry(n.to_owned()).or_default() += 1;
    }
    counts
}

/// An HTTP/2 (h2c, prior knowledge) GET.
pub(crate) async fn get_h2(addr: SocketAddr, path: &str) -> Answer {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let req = Request::builder()
        .uri(format!("http://api.test{path}"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    read(sender.send_request(req).await.unwrap()).await
}
