//! `GET /v1/events[?service=NAME]`: every event a rollout stores, as it is stored, one JSON
//! `EventView` per SSE `data:` line. A watcher that falls too far behind gets a `lagged` event
//! with the number it missed, so it knows to fetch the state again.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;
use crate::error::Failure;
use crate::extract::Query;

/// Often enough that proxies and idle timeouts do not close a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
pub(crate) struct EventsQuery {
    service: Option<String>,
}

pub(crate) async fn events(
    State(state): State<AppState>,
    Query(query): Query<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Failure> {
    if let Some(service) = &query.service {
        state.control.get(service)?;
    }
    // Subscribed before the response starts: a client that has the response head misses
    // nothing stored after it.
    let receiver = state.control.subscribe();
    let stream = futures_util::stream::unfold(
        (receiver, state.shutdown, query.service),
        |(mut receiver, shutdown, service)| async move {
            loop {
                let received = tokio::select! {
                    () = shutdown.cancelled() => return None,
                    received = receiver.recv() => received,
                };
                let event = match received {
                    Ok(event) if service.as_ref().is_some_and(|s| *s != event.service) => continue,
                    Ok(event) => match Event::default().json_data(&event) {
                        Ok(event) => event,
                        Err(error) => {
                            tracing::warn!(%error, "an event could not be encoded");
                            continue;
                        }
                    },
                    Err(RecvError::Lagged(missed)) => {
                        Event::default().event("lagged").data(missed.to_string())
                    }
                    Err(RecvError::Closed) => return None,
                };
                return Some((Ok(event), (receiver, shutdown, service)));
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
