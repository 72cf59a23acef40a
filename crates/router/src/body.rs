//! Request bodies on their way to a backend, streamed frame by frame and never collected: the
//! client's, or a mirror's copy of it. Below both `proxy`, which makes them, and `upstream`,
//! which sends them.

pub(crate) mod mirror;

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use mirror::{MirrorBody, TeeBody};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body on its way to a backend.
#[derive(Debug)]
pub(crate) enum RequestBody {
    Empty,
    /// The client's body; the counter adds up the bytes read, for the signals.
    Client(Incoming, Arc<AtomicU64>),
    /// The client's body, copied to a mirror as it passes.
    Tee(TeeBody, Arc<AtomicU64>),
    /// The copy a mirror receives.
    Mirror(MirrorBody),
}

impl RequestBody {
    /// Wraps a client's body; an empty one needs no counting.
    pub(crate) fn client(body: Incoming) -> (Self, Option<Arc<AtomicU64>>) {
        if body.is_end_stream() {
            return (Self::Empty, None);
        }
        let counter = Arc::new(AtomicU64::new(0));
        (Self::Client(body, Arc::clone(&counter)), Some(counter))
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let (frame, counter) = match self.get_mut() {
            Self::Empty => return Poll::Ready(None),
            Self::Client(body, counter) => (
                ready!(Pin::new(body).poll_frame(cx)).map(|f| f.map_err(BoxError::from)),
                counter,
            ),
            Self::Tee(body, counter) => (ready!(Pin::new(body).poll_frame(cx)), counter),
            Self::Mirror(body) => return Pin::new(body).poll_frame(cx),
        };
        if let Some(Ok(data)) = frame.as_ref().map(|f| f.as_ref().map(Frame::data_ref)) {
            counter.fetch_add(data.map_or(0, |d| d.len() as u64), Ordering::Relaxed);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Empty => true,
            Self::Client(body, _) => body.is_end_stream(),
            Self::Tee(body, _) => body.is_end_stream(),
            Self::Mirror(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Empty => SizeHint::with_exact(0),
            Self::Client(body, _) => body.size_hint(),
            Self::Tee(body, _) => body.size_hint(),
            Self::Mirror(body) => body.size_hint(),
        }
    }
}
