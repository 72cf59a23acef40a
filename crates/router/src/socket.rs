//! Socket reads and writes for hyper, tuned for a proxy's small messages.
//!
//! One system call per message instead of two: the usual way reads until the kernel says
//! "would block", which costs an extra `recv` after every request and response; a read that did
//! not fill the buffer already shows the socket is drained, so the router clears the readiness
//! itself. Edge-triggered epoll reports any data that arrives later anew, so nothing is missed.
//! And no zeroing: reads land in a per-connection buffer that was zeroed once, then only the
//! bytes read are copied into hyper's buffer (safe code cannot hand uninitialised memory to
//! the kernel, and zeroing 8 KiB per read cost more than copying a few hundred bytes).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use hyper::rt::ReadBufCursor;
use tokio::io::{AsyncWrite, Interest};
use tokio::net::TcpStream;

/// Bytes read per system call at most.
const SCRATCH: usize = 8192;

pub(crate) fn scratch() -> Box<[u8]> {
    vec![0; SCRATCH].into_boxed_slice()
}

/// Reads what is there into `buf` through `scratch`; returns how many bytes (0 at the end).
pub(crate) fn poll_read(
    stream: &TcpStream,
    scratch: &mut [u8],
    cx: &mut Context<'_>,
    mut buf: ReadBufCursor<'_>,
) -> Poll<io::Result<usize>> {
    loop {
        ready!(stream.poll_read_ready(cx))?;
        let room = buf.remaining().min(scratch.len());
        match stream.try_read(&mut scratch[..room]) {
            Ok(n) => {
                buf.put_slice(&scratch[..n]);
                if n > 0 && n < room {
                    let _ = stream.try_io(Interest::READABLE, || {
                        Err::<(), _>(io::ErrorKind::WouldBlock.into())
                    });
                }
                return Poll::Ready(Ok(n));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}

/// Writes with `write` once the socket can take it.
pub(crate) fn poll_write(
    stream: &TcpStream,
    cx: &mut Context<'_>,
    mut write: impl FnMut(&TcpStream) -> io::Result<usize>,
) -> Poll<io::Result<usize>> {
    loop {
        ready!(stream.poll_write_ready(cx))?;
        match write(stream) {
            Ok(n) => return Poll::Ready(Ok(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}

/// A connection to a backend.
#[derive(Debug)]
pub(crate) struct BackendIo {
    stream: TcpStream,
    scratch: Box<[u8]>,
}

impl BackendIo {
    pub(crate) fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            scratch: scratch(),
        }
    }
}

impl hyper::rt::Read for BackendIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        poll_read(&this.stream, &mut this.scratch, cx, buf).map_ok(drop)
    }
}

impl hyper::rt::Write for BackendIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        poll_write(&self.stream, cx, |s| s.try_write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        poll_write(&self.stream, cx, |s| s.try_write_vectored(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
