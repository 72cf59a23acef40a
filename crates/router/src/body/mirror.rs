//! Mirroring: a copy of a request goes to another revision and its answer is discarded. The
//! body is copied frame by frame as the primary backend reads it (`Bytes` clones share memory);
//! a mirror that falls behind loses its copy rather than slow the primary down.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::sync::mpsc;

use super::BoxError;

/// Frames a mirror may lag behind the primary before it is cut off.
const LAG: usize = 16;

/// The primary's side: passes the client's body through and copies each data frame.
#[derive(Debug)]
pub(crate) struct TeeBody {
    body: Incoming,
    copy: Option<mpsc::Sender<Bytes>>,
    cut: Arc<AtomicBool>,
}

/// The mirror's side: the copied frames, or an error if the copy was cut short.
#[derive(Debug)]
pub(crate) struct MirrorBody {
    frames: Option<mpsc::Receiver<Bytes>>,
    cut: Arc<AtomicBool>,
    size: SizeHint,
}

#[derive(Debug, thiserror::Error)]
#[error("the mirrored body was cut short: the mirror fell behind or the client stopped")]
pub(crate) struct MirrorCut;

/// Splits a client's body into the primary's and the mirror's.
pub(crate) fn tee(body: Incoming) -> (TeeBody, MirrorBody) {
    let size = body.size_hint();
    let cut = Arc::new(AtomicBool::new(false));
    if body.is_end_stream() {
        let mirror = MirrorBody {
            frames: None,
            cut: Arc::clone(&cut),
            size,
        };
        return (
            TeeBody {
                body,
                copy: None,
                cut,
            },
            mirror,
        );
    }
    let (tx, rx) = mpsc::channel(LAG);
    let mirror = MirrorBody {
        frames: Some(rx),
        cut: Arc::clone(&cut),
        size,
    };
    (
        TeeBody {
            body,
            copy: Some(tx),
            cut,
        },
        mirror,
    )
}

impl TeeBody {
    fn cut_copy(&mut self) {
        if self.copy.take().is_some() {
            self.cut.store(true, Ordering::Release);
        }
    }
}

impl Body for TeeBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let polled = ready!(Pin::new(&mut this.body).poll_frame(cx));
        match &polled {
            Some(Ok(frame)) => {
                if let (Some(data), Some(copy)) = (frame.data_ref(), &this.copy)
                    && copy.try_send(data.clone()).is_err()
                {
                    this.cut_copy();
                }
            }
            Some(Err(_)) => this.cut_copy(),
            // The whole body went through: closing the channel ends the mirror's body.
            None => this.copy = None,
        }
        if this.body.is_end_stream() {
            this.copy = None;
        }
        Poll::Ready(polled.map(|r| r.map_err(BoxError::from)))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for TeeBody {
    /// The primary stopped reading early: the mirror must not take a partial body for whole.
    fn drop(&mut self) {
        self.cut_copy();
    }
}

impl Body for MirrorBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let Some(frames) = &mut this.frames else {
            return Poll::Ready(None);
        };
        match ready!(frames.poll_recv(cx)) {
            Some(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
            None => {
                this.frames = None;
                if this.cut.load(Ordering::Acquire) {
                    Poll::Ready(Some(Err(MirrorCut.into())))
                } else {
                    Poll::Ready(None)
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        self.size
    }
}
