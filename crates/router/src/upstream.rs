//! The router's HTTP/1.1 client for backends, driven by the request's own task: the request
//! head is written, the body streamed and the response head parsed where the request is
//! handled, with no connection task and no channels between them. Heads are parsed by
//! `httparse`; `bellwether-http1` holds the framing rules.

mod body;

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

use bellwether_http1::{self as codec, LAST_CHUNK, Malformed, RequestFraming};
use bytes::{Buf, Bytes, BytesMut};
use http::{Method, Response, Version, request};
use http_body::Body;
use tokio::net::TcpStream;

pub(crate) use body::UpstreamBody;

use crate::body::RequestBody;
use crate::socket;

/// The largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// One keep-alive connection to a backend and the bytes read from it but not yet used.
#[derive(Debug)]
pub(crate) struct Conn {
    stream: TcpStream,
    read: BytesMut,
    /// The connection has carried a request before this one.
    reused: bool,
}

/// Why an exchange with a backend failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error(transparent)]
    Malformed(#[from] Malformed),
    #[error("the connection closed before a response")]
    ClosedBeforeHead,
    #[error("the connection closed in the middle of the response head")]
    ClosedInHead,
    #[error("the response head is larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    #[error("the connection closed before the end of the response body")]
    ClosedInBody,
    #[error("the client's request body failed: {0}")]
    RequestBody(String),
}

/// A failed exchange; `unsent` holds the request when it may go to another connection: none
/// of it was written, or a reused connection closed under a request that is safe to repeat.
/// `answered` says whether any byte of a response had arrived.
#[derive(Debug)]
pub(crate) struct Broken {
    pub(crate) error: UpstreamError,
    pub(crate) unsent: Option<Outgoing>,
    pub(crate) answered: bool,
}

/// A request ready for any replica of its revision: the head already in bytes, so that a
/// retry or a mirror sends the same bytes, and moving it along the way copies little.
#[derive(Debug)]
pub(crate) struct Outgoing {
    head: Bytes,
    method: Method,
    framing: RequestFraming,
    body: RequestBody,
}

impl Outgoing {
    pub(crate) fn new(parts: &request::Parts, body: RequestBody) -> Self {
        let framing = RequestFraming::of(&parts.headers, body.is_end_stream());
        Self {
            head: Bytes::from(codec::encode_request_head(parts, framing)),
            method: parts.method.clone(),
            framing,
            body,
        }
    }

    /// The same request with another body (a mirror's copy of this one's).
    pub(crate) fn with_body(&self, body: RequestBody) -> Self {
        Self {
            head: self.head.clone(),
            method: self.method.clone(),
            framing: self.framing,
            body,
        }
    }

    /// Whether repeating the request has the same effect as sending it once.
    pub(crate) fn is_idempotent(&self) -> bool {
        is_idempotent(&self.method)
    }

    /// A copy to send again should this one fail before any answer: only for a request
    /// without a body (or with an empty one, `content-length: 0`) whose repetition is
    /// harmless, since a body is streamed and gone once written.
    pub(crate) fn replay(&self) -> Option<Self> {
        let empty = self.framing == RequestFraming::None || self.body.is_end_stream();
        (empty && self.is_idempotent()).then(|| self.with_body(RequestBody::Empty))
    }
}

/// Methods whose repetition has the same effect as one request (RFC 9110 §9.2.2).
fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

impl UpstreamError {
    /// The backend closed or reset the connection.
    fn is_close(&self) -> bool {
        match self {
            Self::ClosedBeforeHead => true,
            Self::Io(e) => matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            ),
            _ => false,
        }
    }
}

impl Conn {
    pub(crate) fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            read: BytesMut::new(),
            reused: false,
        }
    }

    /// Whether an idle connection can still take a request: the backend has not closed it
    /// (nor sent anything unasked). Costs a system call only when the socket shows activity.
    pub(crate) fn is_open(&self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        match self.stream.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            Poll::Ready(Ok(())) => matches!(
                self.stream.try_read(&mut [0; 1]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock
            ),
        }
    }

    /// Sends `out` and reads the response head; the body follows as the response's body,
    /// which hands the connection back once it has been read to its end.
    pub(crate) async fn exchange(
        mut self,
        out: Outgoing,
    ) -> Result<Response<UpstreamBody>, Broken> {
        // A request none of which was written can go to another connection.
        let first =
            poll_fn(|cx| socket::poll_write(&self.stream, cx, |s| s.try_write(&out.head))).await;
        let written = match first {
            Ok(n) => n,
            Err(error) => {
                return Err(Broken {
                    error: error.into(),
                    unsent: Some(out),
                    answered: false,
                });
            }
        };
        let Outgoing {
            head,
            method,
            framing,
            body,
        } = out;
        let mut sending = Sending {
            out: head.slice(written..),
            body: (framing != RequestFraming::None).then_some(body),
            chunked: framing == RequestFraming::Chunked,
            failed: false,
        };
        // A backend that stops reading the request may still have answered it (413, say): a
        // failed write ends the sending, and the head is still awaited.
        let mut write_error = None;
        let answer = poll_fn(|cx| {
            match sending.poll_send(&self.stream, cx) {
                Poll::Ready(Err(UpstreamError::Io(e))) => write_error = Some(e),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) | Poll::Pending => {}
            }
            self.poll_head(&method, cx)
        })
        .await;
        let head = match answer {
            Ok(head) => head,
            Err(error) => {
                let error = write_error.map_or(error, UpstreamError::Io);
                // A kept-alive connection the backend closed just as the request went out
                // (its idle timeout) never saw it: a request without a body whose repetition
                // is harmless goes to another connection, as if unsent.
                let unsent = (self.reused
                    && framing == RequestFraming::None
                    && is_idempotent(&method)
                    && error.is_close())
                .then(|| Outgoing {
                    head,
                    method,
                    framing,
                    body: RequestBody::Empty,
                });
                let answered = !self.read.is_empty();
                return Err(Broken {
                    error,
                    unsent,
                    answered,
                });
            }
        };
        // A backend may answer before it has read the whole request; the rest is not sent,
        // so the connection cannot carry another request.
        let keep_alive = head.keep_alive && sending.is_done();
        let mut parts = head.parts;
        parts.version = Version::HTTP_11;
        Ok(Response::from_parts(
            parts,
            UpstreamBody::new(self, head.body, keep_alive),
        ))
    }

    fn poll_head(
        &mut self,
        method: &Method,
        cx: &mut Context<'_>,
    ) -> Poll<Result<codec::ResponseHead, UpstreamError>> {
        loop {
            if !self.read.is_empty()
                && let Some(head) = codec::parse_response_head(&mut self.read, method)?
            {
                return Poll::Ready(Ok(head));
            }
            if self.read.len() >= MAX_HEAD {
                return Poll::Ready(Err(UpstreamError::HeadTooLarge));
            }
            if ready!(self.poll_fill(cx))? == 0 {
                return Poll::Ready(Err(if self.read.is_empty() {
                    UpstreamError::ClosedBeforeHead
                } else {
                    UpstreamError::ClosedInHead
                }));
            }
        }
    }

    /// Reads what the socket has into the buffer; 0 at the end of the stream.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        socket::poll_read_buf(&self.stream, &mut self.read, cx)
    }
}

/// The part of a request still to be written.
struct Sending {
    /// Bytes taken from the head or the body and not yet written.
    out: Bytes,
    /// The body, until its end has been taken.
    body: Option<RequestBody>,
    chunked: bool,
    /// A write failed: nothing more is sent.
    failed: bool,
}

impl Sending {
    fn is_done(&self) -> bool {
        !self.failed && self.out.is_empty() && self.body.is_none()
    }

    /// Writes as much as the socket takes and the body has; `Ready(Ok)` once all is written.
    fn poll_send(
        &mut self,
        stream: &TcpStream,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), UpstreamError>> {
        loop {
            while !self.out.is_empty() {
                match ready!(socket::poll_write(stream, cx, |s| s.try_write(&self.out))) {
                    Ok(n) => self.out.advance(n),
                    Err(e) => {
                        self.failed = true;
                        self.out.clear();
                        self.body = None;
                        return Poll::Ready(Err(e.into()));
                    }
                }
            }
            let Some(body) = &mut self.body else {
                return Poll::Ready(Ok(()));
            };
            match ready!(Pin::new(body).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data()
                        && !data.is_empty()
                    {
                        self.out = if self.chunked {
                            codec::encode_chunk(&data)
                        } else {
                            data
                        };
                    }
                }
                Some(Err(e)) => return Poll::Ready(Err(UpstreamError::RequestBody(e.to_string()))),
                None => {
                    self.body = None;
                    if self.chunked {
                        self.out = Bytes::from_static(LAST_CHUNK);
                    }
                }
            }
        }
    }
}
