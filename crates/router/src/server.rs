//! A router: one listener for one service, its current table, and the connections it serves
//! (HTTP/1.1 with keep-alive, or HTTP/2 over cleartext when a client opens with the preface).

mod io;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::BytesMut;
use http::HeaderValue;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::config::RouterConfig;
use crate::error::RouterError;
use crate::proxy::Proxy;
use crate::signals::Signals;
use crate::spec::TableSpec;
use crate::table::Table;
use crate::worker;
use io::ClientIo;

/// A listener that shares its port with the other router threads' listeners.
fn reuse_port_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// The first bytes an HTTP/2 client without TLS sends (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// One service's router. Share it in an `Arc`: [`Router::serve`] runs on one clone while
/// others change its table.
#[derive(Debug)]
pub struct Router {
    proxy: Arc<Proxy>,
    /// The table as data, changed under this lock so that concurrent changes apply in order.
    spec: Mutex<TableSpec>,
    signals: Signals,
}

impl Router {
    /// A router for `spec`; its signals go to `signals`.
    pub fn new(
        spec: TableSpec,
        config: RouterConfig,
        signals: Signals,
    ) -> Result<Self, RouterError> {
        let table = Table::compile(&spec, &Table::empty(&spec.service), &signals, &config)?;
        Ok(Self {
            proxy: Arc::new(Proxy::new(table, config)),
            spec: Mutex::new(spec),
            signals,
        })
    }

    /// The table now in force.
    pub fn spec(&self) -> TableSpec {
        self.lock().clone()
    }

    pub fn signals(&self) -> &Signals {
        &self.signals
    }

    /// Replaces the whole table at once. Requests already routed finish on the revision they
    /// started on; a revision no longer in the table receives no new requests and its
    /// connections close once their last request is done.
    pub fn apply(&self, spec: TableSpec) -> Result<(), RouterError> {
        self.update(|current| {
            *current = spec;
            Ok(())
        })
        .map(drop)
    }

    /// Changes the table in place (e.g. [`TableSpec::set_weights`]); nothing changes if
    /// `change` or the new table is refused. Returns the table now in force.
    pub fn update(
        &self,
        change: impl FnOnce(&mut TableSpec) -> Result<(), RouterError>,
    ) -> Result<TableSpec, RouterError> {
        let mut current = self.lock();
        let mut next = current.clone();
        change(&mut next)?;
        let table = Table::compile(
            &next,
            &self.proxy.table.load(),
            &self.signals,
            &self.proxy.config,
        )?;
        self.proxy.table.store(Arc::new(table));
        *current = next;
        Ok(current.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TableSpec> {
        self.spec.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Binds a listener for [`Router::serve`], naming the address if that fails.
    pub async fn bind(addr: SocketAddr) -> Result<TcpListener, RouterError> {
        TcpListener::bind(addr)
            .await
            .map_err(|source| RouterError::Bind { addr, source })
    }

    /// Serves `addr` on `threads` threads of its own, each with a single-threaded runtime and
    /// its own listener on the same port (`SO_REUSEPORT`), so a request is handled from accept
    /// to response on one thread and its backend connections stay on that thread too: on a
    /// busy machine this is much faster than one work-stealing runtime. Returns the address
    /// bound (useful with port 0); the threads run for the rest of the process.
    pub fn serve_threads(
        self: Arc<Self>,
        addr: SocketAddr,
        threads: usize,
    ) -> Result<SocketAddr, RouterError> {
        let mut bound = addr;
        for index in 1..=threads.max(1) {
            let router = Arc::clone(&self);
            let (tx, rx) = std::sync::mpsc::channel();
            let at = bound;
            let thread = std::thread::Builder::new()
                .name(format!("router-{index}"))
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    let runtime = match runtime {
                        Ok(runtime) => runtime,
                        Err(e) => return drop(tx.send(Err(e))),
                    };
                    worker::set_index(index);
                    runtime.block_on(async move {
                        match reuse_port_listener(at) {
                            Ok(listener) => {
                                let _ = tx.send(listener.local_addr());
                                router.serve(listener).await;
                            }
                            Err(e) => drop(tx.send(Err(e))),
                        }
                    });
                });
            let started = thread.map_err(|source| RouterError::Bind { addr, source })?;
            drop(started);
            bound = rx
                .recv()
                .unwrap_or_else(|_| Err(std::io::Error::other("the router thread stopped")))
                .map_err(|source| RouterError::Bind { addr, source })?;
        }
        Ok(bound)
    }

    /// Accepts and serves connections for as long as the future runs, at most
    /// `max_connections` at once.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        let slots = Arc::clone(&self.proxy.connections);
        loop {
            // A slot is taken before accepting: past the cap, connections wait in the listen
            // queue (costing the router nothing) and are served in order as others close,
            // rather than being refused while the router may free a slot in a moment.
            let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                return;
            };
            match listener.accept().await {
                Ok((stream, peer)) => {
                    let proxy = Arc::clone(&self.proxy);
                    tokio::spawn(async move {
                        proxy.connection(stream, peer).await;
                        drop(slot);
                    });
                }
                // Out of file descriptors, most likely: pause rather than spin, and go on.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }
}

impl Proxy {
    async fn connection(self: Arc<Self>, mut stream: TcpStream, peer: SocketAddr) {
        let _ = stream.set_nodelay(true);
        let timeout = self.config.header_read_timeout;
        let mut prefix = BytesMut::with_capacity(H2_PREFACE.len());
        let http2 = match tokio::time::timeout(timeout, sniff(&mut stream, &mut prefix)).await {
            Ok(Ok(http2)) => http2,
            Ok(Err(_)) => return,
            Err(_) => {
                let started = !prefix.is_empty();
                let (_, shared) = ClientIo::new(stream, prefix.freeze());
                if started {
                    shared.request_timeout().await;
                }
                return;
            }
        };
        let (io, shared) = ClientIo::new(stream, prefix.freeze());
        let client = HeaderValue::from_str(&peer.ip().to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("unknown"));
        let proxy = Arc::clone(&self);
        let service = service_fn(move |req| {
            let proxy = Arc::clone(&proxy);
            let client = client.clone();
            async move { Ok::<_, Infallible>(proxy.handle(req, client).await) }
        });
        if http2 {
            let served = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .max_concurrent_streams(1024)
                .serve_connection(io, service);
            let mut served = std::pin::pin!(served);
            let idle = self.config.idle_timeout;
            let mut seen = shared.activity();
            loop {
                tokio::select! {
                    _ = served.as_mut() => return,
                    () = tokio::time::sleep(idle) => {
                        let now = shared.activity();
                        if now == seen {
                            // GOAWAY: streams still open finish, no new one starts.
                            served.as_mut().graceful_shutdown();
                            let _ = served.await;
                            return;
                        }
                        seen = now;
                    }
                }
            }
        }
        let served = hyper::server::conn::http1::Builder::new()
            .writev(false)
            .timer(TokioTimer::new())
            .keep_alive(true)
            .header_read_timeout(timeout)
            .max_buf_size(self.config.max_header_bytes.max(8192))
            .serve_connection(io, service)
            .await;
        if let Err(e) = served
            && e.is_timeout()
            && shared.has_unanswered_request()
        {
            shared.request_timeout().await;
        }
    }
}

/// Reads into `read` until its bytes either are or cannot be the HTTP/2 preface; says which.
async fn sniff(stream: &mut TcpStream, read: &mut BytesMut) -> std::io::Result<bool> {
    while read.len() < H2_PREFACE.len() {
        if stream.read_buf(read).await? == 0 {
            break;
        }
        if !H2_PREFACE.starts_with(&read[..read.len().min(H2_PREFACE.len())]) {
            return Ok(false);
        }
    }
    Ok(read.starts_with(H2_PREFACE))
}
