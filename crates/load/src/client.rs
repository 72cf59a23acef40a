//! Each VU's HTTP/1.1 client: one keep-alive connection per host it talks to, made again when
//! the server closes it. How a connection is made is a seam ([`Connect`]), so tests can serve
//! the engine in memory, where tokio's paused clock governs every wait.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, Sleep};

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

/// hyper's side of a connection, which reads and writes when polled.
type Driven = Pin<Box<Connection<TokioIo<Box<dyn Io>>, Full<Bytes>>>>;

/// A connection as hyper's client makes it: the handle requests are sent through, and the
/// connection itself, which does the reading and writing when polled.
struct Link {
    authority: String,
    sender: SendRequest<Full<Bytes>>,
    connection: Driven,
    /// The connection ended (closed, or failed).
    ended: bool,
}

/// One VU's connections.
pub(crate) struct Client {
    connector: Arc<dyn Connect>,
    /// Few: a VU usually talks to one host.
    links: Vec<Link>,
    /// The timeout of the request in flight: one timer, moved later for each request, which
    /// costs an atomic store where a new timer would take the timer wheel's lock twice.
    deadline: Pin<Box<Sleep>>,
}

impl Client {
    pub(crate) fn new(connector: Arc<dyn Connect>) -> Self {
        Self {
            connector,
            links: Vec::new(),
            deadline: Box::pin(tokio::time::sleep(Duration::ZERO)),
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
        self.deadline.as_mut().reset(Instant::now() + timeout);
        let work = send(
            &*self.connector,
            &mut self.links,
            authority,
            request,
            keep_body,
        );
        tokio::select! {
            biased;
            answer = work => answer,
            () = self.deadline.as_mut() => {
                self.links.retain(|l| l.authority != authority);
                Err(format!("no answer within {timeout:?}"))
            }
        }
    }
}

/// Sends on the link to `authority`, made if there is none; a link that failed is dropped.
async fn send(
    connector: &dyn Connect,
    links: &mut Vec<Link>,
    authority: &str,
    request: Request<Full<Bytes>>,
    keep_body: bool,
) -> Result<Answer, String> {
    let found = links.iter().position(|l| l.authority == authority);
    let at = match found {
        Some(at) => at,
        None => {
            let link = connect(connector, authority).await?;
            links.push(link);
            links.len() - 1
        }
    };
    // A keep-alive connection the server closed while idle is made again, once.
    if !links[at].ready().await {
        links[at] = connect(connector, authority).await?;
    }
    let result = links[at].exchange(request, keep_body).await;
    if result.is_err() {
        links.swap_remove(at);
    }
    result
}

/// Makes a connection to `authority`.
async fn connect(connector: &dyn Connect, authority: &str) -> Result<Link, String> {
    let io = connector
        .connect(authority)
        .await
        .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| e.to_string())?;
    Ok(Link {
        authority: authority.to_owned(),
        sender,
        connection: Box::pin(connection),
        ended: false,
    })
}

impl Link {
    /// Whether it can take a request.
    async fn ready(&mut self) -> bool {
        let Link {
            sender,
            connection,
            ended,
            ..
        } = self;
        driving(connection, ended, sender.ready()).await.is_ok()
    }

    async fn exchange(
        &mut self,
        request: Request<Full<Bytes>>,
        keep_body: bool,
    ) -> Result<Answer, String> {
        let Link {
            sender,
            connection,
            ended,
            ..
        } = self;
        let work = async {
            let response = sender
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
        };
        driving(connection, ended, work).await
    }
}

/// Runs `work` while polling the connection, in the VU's own task: a connection task of its
/// own would cost each request two wake-ups across threads.
async fn driving<F: Future>(connection: &mut Driven, ended: &mut bool, work: F) -> F::Output {
    let mut work = pin!(work);
    poll_fn(|cx| {
        if let Poll::Ready(out) = work.as_mut().poll(cx) {
            return Poll::Ready(out);
        }
        if !*ended && connection.as_mut().poll(cx).is_ready() {
            // Ended: what waited on it now fails, or has just been answered.
            *ended = true;
            return work.as_mut().poll(cx);
        }
        Poll::Pending
    })
    .await
}
