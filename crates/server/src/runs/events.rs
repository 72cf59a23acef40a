//! `GET /v1/runs/events`: a `data:` line with a run's number each time the control plane
//! records a change of that run (created, started, a job, leg or gate that moved, a review),
//! so a watcher reads the run again only when there is something new. One that falls too far
//! behind gets a `lagged` event with how many it missed, and reads everything again.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::pipelines;
use crate::AppState;
use crate::error::Failure;

/// Often enough that proxies and idle timeouts do not close a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

pub(crate) async fn events(
    State(state): State<AppState>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Failure> {
    pipelines(&state)?;
    // Subscribed before the response starts: a client that has the response head misses no
    // change recorded after it.
    let receiver = state.run_changes.subscribe();
    let stream = futures_util::stream::unfold(
        (receiver, state.shutdown),
        |(mut receiver, shutdown)| async move {
            let received = tokio::select! {
                () = shutdown.cancelled() => return None,
                received = receiver.recv() => received,
            };
            let event = match received {
                Ok(number) => Event::default().data(number.to_string()),
                Err(RecvError::Lagged(missed)) => {
                    Event::default().event("lagged").data(missed.to_string())
                }
                Err(RecvError::Closed) => return None,
            };
            Some((Ok(event), (receiver, shutdown)))
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
