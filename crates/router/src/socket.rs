//! Socket reads and writes, tuned for a proxy's small messages.
//!
//! One system call per message instead of two: the usual way reads until the kernel says
//! "would block", which costs an extra `recv` after every request and response; a read that did
//! not fill the buffer already shows the socket is drained, so the router clears the readiness
//! itself. Edge-triggered epoll reports any data that arrives later anew, so nothing is missed.
//! And no zeroing: reads from clients land in a per-connection buffer that was zeroed once,
//! then only the bytes read are copied into hyper's buffer (safe code cannot hand
//! uninitialised memory to the kernel, and zeroing 8 KiB per read cost more than copying a few
//! hundred bytes); reads from backends go straight into the spare room of a `BytesMut`.

use std::io;
use std::task::{Context, Poll, ready};

use bytes::BytesMut;
use hyper::rt::ReadBufCursor;
use tokio::io::Interest;
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
                    clear_read_readiness(stream);
                }
                return Poll::Ready(Ok(n));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}

/// Reads what is there into the spare room of `buf` (made if there is little); returns how
/// many bytes (0 at the end).
pub(crate) fn poll_read_buf(
    stream: &TcpStream,
    buf: &mut BytesMut,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    if buf.capacity() - buf.len() < SCRATCH / 4 {
        buf.reserve(SCRATCH);
    }
    loop {
        ready!(stream.poll_read_ready(cx))?;
        let room = buf.capacity() - buf.len();
        match stream.try_read_buf(buf) {
            Ok(n) => {
                if n > 0 && n < room {
                    clear_read_readiness(stream);
                }
                return Poll::Ready(Ok(n));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}

/// A read that did not fill its buffer drained the socket: the next read waits for epoll.
fn clear_read_readiness(stream: &TcpStream) {
    let _ = stream.try_io(Interest::READABLE, || {
        Err::<(), _>(io::ErrorKind::WouldBlock.into())
    });
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
