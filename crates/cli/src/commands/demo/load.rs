//! The demo's clients: steady HTTP/1.1 load through a service's router, every answer sorted
//! by who gave it. A 5xx carrying the demo service's `x-demo-version` header is an error the
//! service itself returned (the injected ones); anything else that fails — the router's own
//! 502/503/504, a refused or reset connection — is a failure the rollout caused.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

/// What the clients saw of one version.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct VersionStats {
    /// Answers with a status below 500.
    pub(crate) served: u64,
    /// 5xx answers the service gave itself.
    pub(crate) errors: u64,
    #[serde(skip)]
    pub(crate) first_error: Option<SystemTime>,
    #[serde(skip)]
    pub(crate) last_answer: Option<SystemTime>,
}

/// Everything the clients saw.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct LoadStats {
    pub(crate) requests: u64,
    pub(crate) by_version: BTreeMap<String, VersionStats>,
    /// Requests that failed for any reason but the service's own errors.
    pub(crate) other_failures: u64,
    /// The first few of those, in words.
    pub(crate) failure_examples: Vec<String>,
}

const EXAMPLES: usize = 5;

impl LoadStats {
    fn answer(&mut self, version: Option<String>, status: u16, at: SystemTime) {
        self.requests += 1;
        match version {
            Some(version) => {
                let stats = self.by_version.entry(version).or_default();
                stats.last_answer = Some(at);
                if status >= 500 {
                    stats.errors += 1;
                    stats.first_error.get_or_insert(at);
                } else {
                    stats.served += 1;
                }
            }
            None => self.failure(format!("HTTP {status} from the router")),
        }
    }

    fn failure(&mut self, what: String) {
        self.other_failures += 1;
        if self.failure_examples.len() < EXAMPLES {
            self.failure_examples.push(what);
        }
    }
}

/// Clients sending `rate` requests per second over `connections` keep-alive connections,
/// until stopped.
pub(crate) struct Load {
    stats: Arc<Mutex<LoadStats>>,
    stop: watch::Sender<bool>,
    clients: JoinSet<()>,
}

impl Load {
    pub(crate) fn start(target: SocketAddr, rate: u32, connections: u32) -> Self {
        let stats = Arc::new(Mutex::new(LoadStats::default()));
        let (stop, stopped) = watch::channel(false);
        let period = Duration::from_secs_f64(f64::from(connections) / f64::from(rate.max(1)));
        let mut clients = JoinSet::new();
        for _ in 0..connections {
            clients.spawn(client(target, period, Arc::clone(&stats), stopped.clone()));
        }
        Self {
            stats,
            stop,
            clients,
        }
    }

    pub(crate) fn stats(&self) -> LoadStats {
        self.stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stops sending; waits for the answers of requests already sent.
    pub(crate) async fn stop(mut self) -> LoadStats {
        let _ = self.stop.send(true);
        while self.clients.join_next().await.is_some() {}
        self.stats()
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

async fn client(
    target: SocketAddr,
    period: Duration,
    stats: Arc<Mutex<LoadStats>>,
    mut stopped: watch::Receiver<bool>,
) {
    let record = |f: &mut dyn FnMut(&mut LoadStats)| {
        f(&mut stats.lock().unwrap_or_else(PoisonError::into_inner));
    };
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut sender: Option<Sender> = None;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        if sender.as_ref().is_none_or(|s| s.is_closed()) {
            match connect(target).await {
                Ok(s) => sender = Some(s),
                Err(e) => {
                    record(&mut |s| s.failure(format!("cannot connect to {target}: {e:#}")));
                    continue;
                }
            }
        }
        let Some(open) = sender.as_mut() else {
            continue;
        };
        match send(open, target).await {
            Ok((version, status)) => {
                let at = SystemTime::now();
                record(&mut |s| s.answer(version.clone(), status, at));
            }
            Err(e) => {
                sender = None;
                record(&mut |s| s.failure(format!("request failed: {e:#}")));
            }
        }
    }
}

async fn connect(target: SocketAddr) -> anyhow::Result<Sender> {
    let stream = TcpStream::connect(target).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

async fn send(sender: &mut Sender, target: SocketAddr) -> anyhow::Result<(Option<String>, u16)> {
    sender.ready().await?;
    let request = Request::get("/")
        .header(http::header::HOST, target.to_string())
        .body(Empty::new())?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let version = response
        .headers()
        .get("x-demo-version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    response.into_body().collect().await?;
    Ok((version, status))
}
