//! The client connection as hyper sees it: the socket behind a shared handle, so that when
//! hyper gives up on a slow client mid-request the router can still tell it `408`, plus the
//! first bytes already read to tell HTTP/1.1 from HTTP/2.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes};
use hyper::rt::ReadBufCursor;
use tokio::net::TcpStream;

use crate::socket;

/// The socket and whether a request on it is waiting for an answer.
#[derive(Debug)]
pub(crate) struct Shared {
    stream: TcpStream,
    /// Bytes arrived since the last write: a request has begun and not been answered.
    unanswered: AtomicBool,
    /// Counts reads and writes that moved bytes: unchanged over a while, the connection was
    /// idle for that while.
    moved: AtomicU64,
}

impl Shared {
    pub(crate) fn has_unanswered_request(&self) -> bool {
        self.unanswered.load(Ordering::Relaxed)
    }

    /// Grows each time bytes move either way.
    pub(crate) fn activity(&self) -> u64 {
        self.moved.load(Ordering::Relaxed)
    }

    /// Best effort: a client too slow to send its request is told why it is being dropped.
    pub(crate) async fn request_timeout(&self) {
        const ANSWER: &[u8] = b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\nconnection: close\r\ncontent-length: 61\r\n\r\nbellwether: the request head did not arrive within the limit\n";
        let write = async {
            let mut rest = ANSWER;
            while !rest.is_empty() {
                self.stream.writable().await?;
                match self.stream.try_write(rest) {
                    Ok(n) => rest = &rest[n..],
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            Ok::<_, io::Error>(())
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
    }
}

/// What hyper reads from and writes to.
#[derive(Debug)]
pub(crate) struct ClientIo {
    shared: Arc<Shared>,
    prefix: Bytes,
    scratch: Box<[u8]>,
}

impl ClientIo {
    /// `prefix` holds bytes already read from `stream`; they are read again first.
    pub(crate) fn new(stream: TcpStream, prefix: Bytes) -> (Self, Arc<Shared>) {
        let shared = Arc::new(Shared {
            stream,
            unanswered: AtomicBool::new(!prefix.is_empty()),
            moved: AtomicU64::new(0),
        });
        (
            Self {
                shared: Arc::clone(&shared),
                prefix,
                scratch: socket::scratch(),
            },
            shared,
        )
    }
}

impl hyper::rt::Read for ClientIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        let n = ready!(socket::poll_read(
            &this.shared.stream,
            &mut this.scratch,
            cx,
            buf
        ))?;
        if n > 0 {
            this.shared.unanswered.store(true, Ordering::Relaxed);
            this.shared.moved.fetch_add(1, Ordering::Relaxed);
        }
        Poll::Ready(Ok(()))
    }
}

impl hyper::rt::Write for ClientIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.answered(socket::poll_write(&self.shared.stream, cx, |s| {
            s.try_write(buf)
        }))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.answered(socket::poll_write(&self.shared.stream, cx, |s| {
            s.try_write_vectored(bufs)
        }))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// The socket closes when the connection's task drops it.
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl ClientIo {
    /// Whatever was written answers the request that was waiting.
    fn answered(&self, written: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if let Poll::Ready(Ok(n)) = written
            && n > 0
        {
            self.shared.unanswered.store(false, Ordering::Relaxed);
            self.shared.moved.fetch_add(1, Ordering::Relaxed);
        }
        written
    }
}
