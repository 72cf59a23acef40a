//! A response body read from a backend connection by whoever polls it (the client's
//! connection), frame by frame as it arrives; at its end the connection is free again.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bellwether_http1::{BodyLength, Chunked, Decoded};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::{Conn, UpstreamError};

#[derive(Debug)]
pub(crate) struct UpstreamBody {
    conn: Option<Conn>,
    state: State,
    /// The connection may carry another request once the body has ended.
    keep_alive: bool,
}

#[derive(Debug)]
enum State {
    Sized(u64),
    Chunked(Chunked),
    UntilClose,
    Done,
    Failed,
}

impl UpstreamBody {
    pub(super) fn new(conn: Conn, length: BodyLength, keep_alive: bool) -> Self {
        let state = match length {
            BodyLength::Sized(0) => State::Done,
            BodyLength::Sized(n) => State::Sized(n),
            BodyLength::Chunked => State::Chunked(Chunked::Size),
            BodyLength::UntilClose => State::UntilClose,
        };
        Self {
            conn: Some(conn),
            state,
            keep_alive,
        }
    }

    /// The connection, if the body has been read to its end and nothing unasked followed it.
    pub(crate) fn take_reusable(&mut self) -> Option<Conn> {
        let mut conn = self.conn.take()?;
        conn.reused = true;
        (self.keep_alive && matches!(self.state, State::Done) && conn.read.is_empty())
            .then_some(conn)
    }

    fn fail(&mut self, error: UpstreamError) -> Poll<Option<Result<Frame<Bytes>, UpstreamError>>> {
        self.state = State::Failed;
        self.conn = None;
        Poll::Ready(Some(Err(error)))
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = UpstreamError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, UpstreamError>>> {
        let this = self.get_mut();
        loop {
            let Some(conn) = &mut this.conn else {
                return Poll::Ready(None);
            };
            match &mut this.state {
                State::Done | State::Failed => return Poll::Ready(None),
                State::Sized(left) => {
                    if !conn.read.is_empty() {
                        let n = usize::try_from(*left)
                            .unwrap_or(usize::MAX)
                            .min(conn.read.len());
                        *left -= n as u64;
                        if *left == 0 {
                            this.state = State::Done;
                        }
                        let data = conn.read.split_to(n).freeze();
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
                State::Chunked(decoder) => match decoder.decode(&mut conn.read) {
                    Ok(Some(Decoded::Data(data))) => {
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    Ok(Some(Decoded::End)) => {
                        this.state = State::Done;
                        return Poll::Ready(None);
                    }
                    Ok(None) => {}
                    Err(e) => return this.fail(e.into()),
                },
                State::UntilClose => {
                    if !conn.read.is_empty() {
                        let data = conn.read.split().freeze();
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
            }
            match ready!(conn.poll_fill(cx)) {
                Ok(0) if matches!(this.state, State::UntilClose) => {
                    this.state = State::Done;
                    this.keep_alive = false;
                    return Poll::Ready(None);
                }
                Ok(0) => return this.fail(UpstreamError::ClosedInBody),
                Ok(_) => {}
                Err(e) => return this.fail(e.into()),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn size_hint(&self) -> SizeHint {
        match self.state {
            State::Sized(n) => SizeHint::with_exact(n),
            State::Done => SizeHint::with_exact(0),
            State::Chunked(_) | State::UntilClose | State::Failed => SizeHint::default(),
        }
    }
}
