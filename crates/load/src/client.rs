//! Each VU's HTTP/1.1 client: one keep-alive connection per host it talks to, made again when
//! the server closes it. A request goes out as bytes made once (`engine/vu.rs`), in one write;
//! the answer is read into the connection's buffer and framed by `bellwether-http1`, with no
//! connection task, no channel and no header map in between, so the CPU a request costs here
//! is close to the bare system calls'. How a connection is made is a seam ([`Connect`]), so
//! tests can serve the engine in memory, where tokio's paused clock governs every wait.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Waker};
use std::time::Duration;

use bellwether_http1::{BodyLength, Chunked, Decoded, Malformed};
use bytes::{Buf, Bytes, BytesMut};
use http::Method;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
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

/// The largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// What a connection's buffer reads at once.
const READ_SIZE: usize = 16 * 1024;

/// What came back.
pub(crate) struct Answer {
    pub(crate) status: u16,
    /// The body, when it was asked for (a check reads it); otherwise it was skipped.
    pub(crate) body: Option<Bytes>,
}

/// A request as it goes on the wire.
pub(crate) struct Outgoing<'a> {
    pub(crate) method: &'a Method,
    /// The head and the body, in one piece.
    pub(crate) wire: &'a [u8],
    /// A check reads the body.
    pub(crate) keep_body: bool,
}

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("invalid response: {0}")]
    Malformed(#[from] Malformed),
    #[error("the connection closed before a response")]
    ClosedBeforeHead,
    #[error("the connection closed in the middle of the response")]
    ClosedInAnswer,
    #[error("the response head is larger than {} KiB", MAX_HEAD / 1024)]
    HeadTooLarge,
}

/// One keep-alive connection and the bytes read from it but not yet used.
struct Link {
    authority: String,
    io: Box<dyn Io>,
    read: BytesMut,
    /// It has carried a request before.
    reused: bool,
    /// Some of the answer to the request in flight has arrived.
    heard: bool,
}

/// One VU's connections.
pub(crate) struct Client {
    connector: std::sync::Arc<dyn Connect>,
    /// Few: a VU usually talks to one host.
    links: Vec<Link>,
    /// The timeout of the request in flight: one timer, moved later for each request, which
    /// costs an atomic store where a new timer would take the timer wheel's lock twice.
    deadline: Pin<Box<Sleep>>,
}

impl Client {
    pub(crate) fn new(connector: std::sync::Arc<dyn Connect>) -> Self {
        Self {
            connector,
            links: Vec::new(),
            deadline: Box::pin(tokio::time::sleep(Duration::ZERO)),
        }
    }

    /// Sends `request` to `authority` on this VU's connection there (made if need be) and
    /// reads the whole answer within `timeout`. A connection that failed or timed out is
    /// closed.
    pub(crate) async fn send(
        &mut self,
        authority: &str,
        request: Outgoing<'_>,
        timeout: Duration,
    ) -> Result<Answer, String> {
        self.deadline.as_mut().reset(Instant::now() + timeout);
        let work = send(&*self.connector, &mut self.links, authority, &request);
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

/// Sends on the link to `authority`, made if there is none or the server closed it while it
/// was idle. A link that fails is dropped; a request that a reused link failed before any of
/// the answer arrived goes once more on a new one if repeating it is safe, as browsers and
/// Go's client do, since the server may have closed the link as the request went out.
async fn send(
    connector: &dyn Connect,
    links: &mut Vec<Link>,
    authority: &str,
    request: &Outgoing<'_>,
) -> Result<Answer, String> {
    let found = links.iter().position(|l| l.authority == authority);
    let at = match found {
        Some(at) if links[at].usable() => at,
        Some(at) => {
            links[at] = connect(connector, authority).await?;
            at
        }
        None => {
            links.push(connect(connector, authority).await?);
            links.len() - 1
        }
    };
    let first = links[at].exchange(request).await;
    let result = match first {
        Err(_) if links[at].reused && !links[at].heard && idempotent(request.method) => {
            links[at] = connect(connector, authority).await?;
            links[at].exchange(request).await
        }
        other => other,
    };
    match result {
        Ok((answer, true)) => {
            links[at].reused = true;
            Ok(answer)
        }
        Ok((answer, false)) => {
            links.swap_remove(at);
            Ok(answer)
        }
        Err(e) => {
            links.swap_remove(at);
            Err(e.to_string())
        }
    }
}

/// Methods a client may repeat on its own (RFC 9110 §9.2.2).
fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// Makes a connection to `authority`.
async fn connect(connector: &dyn Connect, authority: &str) -> Result<Link, String> {
    let io = connector
        .connect(authority)
        .await
        .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
    Ok(Link {
        authority: authority.to_owned(),
        io,
        read: BytesMut::new(),
        reused: false,
        heard: false,
    })
}

impl Link {
    /// Whether the idle connection can take a request: the server has neither closed it nor
    /// sent anything unasked. Looks without waiting: a read that would wait means neither.
    fn usable(&mut self) -> bool {
        let mut probe = [0u8; 1];
        let mut probe = ReadBuf::new(&mut probe);
        let mut cx = Context::from_waker(Waker::noop());
        Pin::new(&mut self.io)
            .poll_read(&mut cx, &mut probe)
            .is_pending()
    }

    /// Writes the request and reads its whole answer; says whether the connection can carry
    /// another request.
    async fn exchange(&mut self, request: &Outgoing<'_>) -> Result<(Answer, bool), Failure> {
        self.heard = false;
        self.io.write_all(request.wire).await?;
        let framing = loop {
            if let Some(framing) =
                bellwether_http1::take_response_framing(&mut self.read, request.method)?
            {
                break framing;
            }
            if self.read.len() >= MAX_HEAD {
                return Err(Failure::HeadTooLarge);
            }
            if self.fill().await? == 0 {
                return Err(if self.read.is_empty() {
                    Failure::ClosedBeforeHead
                } else {
                    Failure::ClosedInAnswer
                });
            }
        };
        let mut kept = request.keep_body.then(BytesMut::new);
        let ended = match framing.body {
            BodyLength::Sized(length) => self.sized(length, kept.as_mut()).await?,
            BodyLength::Chunked => self.chunked(kept.as_mut()).await?,
            BodyLength::UntilClose => self.until_close(kept.as_mut()).await?,
        };
        let answer = Answer {
            status: framing.status.as_u16(),
            body: kept.map(BytesMut::freeze),
        };
        // Bytes after the answer were not asked for: the connection is not trusted further.
        Ok((answer, framing.keep_alive && ended && self.read.is_empty()))
    }

    /// Reads what the connection has into the buffer; 0 at its end.
    async fn fill(&mut self) -> io::Result<usize> {
        self.read.reserve(READ_SIZE);
        let n = self.io.read_buf(&mut self.read).await?;
        self.heard |= n > 0;
        Ok(n)
    }

    async fn sized(
        &mut self,
        mut left: u64,
        mut kept: Option<&mut BytesMut>,
    ) -> Result<bool, Failure> {
        loop {
            let n = usize::try_from(left)
                .unwrap_or(usize::MAX)
                .min(self.read.len());
            take(&mut self.read, n, kept.as_deref_mut());
            left -= n as u64;
            if left == 0 {
                return Ok(true);
            }
            if self.fill().await? == 0 {
                return Err(Failure::ClosedInAnswer);
            }
        }
    }

    async fn chunked(&mut self, mut kept: Option<&mut BytesMut>) -> Result<bool, Failure> {
        let mut decoder = Chunked::Size;
        loop {
            match decoder.decode(&mut self.read)? {
                Some(Decoded::Data(data)) => {
                    if let Some(kept) = kept.as_deref_mut() {
                        kept.extend_from_slice(&data);
                    }
                }
                Some(Decoded::End) => return Ok(true),
                None => {
                    if self.fill().await? == 0 {
                        return Err(Failure::ClosedInAnswer);
                    }
                }
            }
        }
    }

    /// A body that ends with the connection: read to the end; the connection is done.
    async fn until_close(&mut self, mut kept: Option<&mut BytesMut>) -> Result<bool, Failure> {
        loop {
            let n = self.read.len();
            take(&mut self.read, n, kept.as_deref_mut());
            if self.fill().await? == 0 {
                return Ok(false);
            }
        }
    }
}

/// Takes `n` bytes off the front of `read`, into `kept` if the body is kept.
fn take(read: &mut BytesMut, n: usize, kept: Option<&mut BytesMut>) {
    if let Some(kept) = kept {
        kept.extend_from_slice(&read[..n]);
    }
    read.advance(n);
}
