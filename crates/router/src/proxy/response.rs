//! The response body on its way to the client, streamed frame by frame and never collected. It
//! records the request's outcome when it ends, and gives its connection back to the pool.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::body::BoxError;
use crate::replica::{InFlight, Revision};
use crate::signals::Outcome;
use crate::upstream::UpstreamBody;

/// A response body on its way to the client.
#[derive(Debug)]
pub(crate) struct ResponseBody(Kind);

#[derive(Debug)]
enum Kind {
    /// Written by the router itself.
    Local(Option<Bytes>),
    Proxied(Proxied),
}

#[derive(Debug)]
struct Proxied {
    body: UpstreamBody,
    finish: Option<Finish>,
    /// How long the body may go without a frame.
    idle: Duration,
    /// Armed the first time the backend makes the body wait, so a body that never waits
    /// costs no timer.
    stall: Option<Pin<Box<Sleep>>>,
    /// The backend's error, given to hyper on the poll after it happened (see `poll_frame`).
    failed: Option<BoxError>,
}

/// The backend stopped sending in the middle of a response body.
#[derive(Debug, thiserror::Error)]
#[error("the backend sent no data for {0:?} in the middle of the response body")]
struct Stalled(Duration);

/// What to do once a proxied response ends.
#[derive(Debug)]
pub(crate) struct Finish {
    pub(crate) revision: Arc<Revision>,
    pub(crate) in_flight: InFlight,
    pub(crate) started: Instant,
    pub(crate) status: u16,
    pub(crate) bytes_in: Option<Arc<AtomicU64>>,
    pub(crate) bytes_out: u64,
}

impl Finish {
    /// Records the outcome; a body that ended cleanly gives its connection back for reuse.
    fn complete(self, clean: bool, body: &mut UpstreamBody) {
        let outcome = Outcome {
            status: clean.then_some(self.status),
            latency: self.started.elapsed(),
            bytes_in: self.bytes_in.map_or(0, |b| b.load(Ordering::Relaxed)),
            bytes_out: self.bytes_out,
        };
        self.revision.signals.finish(&outcome);
        let replica = self.in_flight.replica();
        if clean {
            if let Some(conn) = body.take_reusable() {
                replica.pool.put(conn);
            }
        } else {
            replica.failed();
        }
    }
}

impl ResponseBody {
    pub(crate) fn local(text: Bytes) -> Self {
        Self(Kind::Local(Some(text)))
    }

    pub(crate) fn proxied(body: UpstreamBody, finish: Finish, idle: Duration) -> Self {
        Self(Kind::Proxied(Proxied {
            body,
            finish: Some(finish),
            idle,
            stall: None,
            failed: None,
        }))
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let Proxied {
            body,
            finish,
            idle,
            stall,
            failed,
        } = match &mut self.get_mut().0 {
            Kind::Local(text) => return Poll::Ready(text.take().map(|t| Ok(Frame::data(t)))),
            Kind::Proxied(proxied) => proxied,
        };
        if let Some(error) = failed.take() {
            return Poll::Ready(Some(Err(error)));
        }
        let polled = match Pin::new(&mut *body).poll_frame(cx) {
            Poll::Ready(polled) => {
                if let Some(stall) = stall {
                    stall.as_mut().reset(Instant::now() + *idle);
                }
                polled
            }
            Poll::Pending => {
                let timer = stall.get_or_insert_with(|| Box::pin(tokio::time::sleep(*idle)));
                ready!(timer.as_mut().poll(cx));
                complete(finish, body, false);
                return Poll::Ready(Some(Err(Box::new(Stalled(*idle)))));
            }
        };
        match &polled {
            Some(Ok(frame)) => {
                if let (Some(data), Some(f)) = (frame.data_ref(), finish.as_mut()) {
                    f.bytes_out += data.len() as u64;
                }
                // Finishing on the last frame rather than on the poll after it frees the
                // connection as early as possible.
                if body.is_end_stream() {
                    complete(finish, body, true);
                }
            }
            Some(Err(_)) => complete(finish, body, false),
            None => complete(finish, body, true),
        }
        match polled {
            // hyper drops what it has buffered for the client when a body fails: waiting one
            // turn lets the head and the data so far go out, so the client sees where the
            // backend broke off.
            Some(Err(error)) => {
                *failed = Some(error.into());
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            polled => Poll::Ready(polled.map(|r| r.map_err(BoxError::from))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Kind::Local(text) => text.is_none(),
            Kind::Proxied(p) => p.body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Kind::Local(text) => SizeHint::with_exact(text.as_ref().map_or(0, |t| t.len() as u64)),
            Kind::Proxied(p) => p.body.size_hint(),
        }
    }
}

impl Drop for ResponseBody {
    /// The client went away, or the body was empty and never polled: the backend answered
    /// either way, so its status counts; the connection is reused only if the body had ended.
    fn drop(&mut self) {
        if let Kind::Proxied(p) = &mut self.0
            && let Some(f) = p.finish.take()
        {
            if p.body.is_end_stream() {
                f.complete(true, &mut p.body);
            } else {
                let outcome = Outcome {
                    status: Some(f.status),
                    latency: f.started.elapsed(),
                    bytes_in: f.bytes_in.map_or(0, |b| b.load(Ordering::Relaxed)),
                    bytes_out: f.bytes_out,
                };
                f.revision.signals.finish(&outcome);
            }
        }
    }
}

fn complete(finish: &mut Option<Finish>, body: &mut UpstreamBody, clean: bool) {
    if let Some(f) = finish.take() {
        f.complete(clean, body);
    }
}
