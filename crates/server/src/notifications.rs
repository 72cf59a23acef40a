//! `GET /v1/notifications[?failed=true]`: every notification queued, delivered or given up on,
//! read from the outbox in the store.

use axum::Json;
use axum::extract::State;
use bellwether_notify::{Delivery, Status};
use serde::Deserialize;

use crate::AppState;
use crate::error::Failure;
use crate::extract::Query;

#[derive(Deserialize)]
pub(crate) struct NotificationsQuery {
    #[serde(default)]
    failed: bool,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Query(query): Query<NotificationsQuery>,
) -> Result<Json<Vec<Delivery>>, Failure> {
    let store = state.control.store();
    let all = tokio::task::spawn_blocking(move || bellwether_notify::read(store.as_ref()))
        .await
        .map_err(|e| Failure::of(axum::http::StatusCode::INTERNAL_SERVER_ERROR, &e))?
        .map_err(|e| Failure::of(axum::http::StatusCode::INTERNAL_SERVER_ERROR, &e))?;
    Ok(Json(
        all.into_iter()
            .filter(|d| !query.failed || d.status == Status::Failed)
            .collect(),
    ))
}
