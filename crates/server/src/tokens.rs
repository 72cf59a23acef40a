//! Tokens and the audit trail: make, list and revoke tokens (admin), read the trail.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use bellwether_access::{AccessError, Grant, Identity, Sealed, TokenInfo};
use bellwether_api::{CreatedToken, TokenRequest};
use bellwether_runner::now_ms;
use serde::Deserialize;

use crate::error::Failure;
use crate::extract::{Body, Query};
use crate::{Access, AppState};

type Answer<T> = Result<Json<T>, Failure>;

pub(crate) async fn list(State(state): State<AppState>) -> Json<Vec<TokenInfo>> {
    Json(state.access.tokens().list())
}

pub(crate) async fn create(
    State(state): State<AppState>,
    Extension(who): Extension<Identity>,
    Body(request): Body<TokenRequest>,
) -> Result<(StatusCode, Json<CreatedToken>), Failure> {
    let now = now_ms();
    let expires = match request.expires_in_secs {
        Some(0) => return Err(Failure::bad_request("a token cannot expire at once")),
        Some(secs) => Some(now.saturating_add(secs.saturating_mul(1000))),
        None => None,
    };
    let grant = Grant {
        role: request.role,
        environments: request.environments,
        groups: request.groups,
    };
    let (secret, info) = off_thread(&state, move |access| {
        access
            .tokens()
            .create_with(&request.name, grant, expires, now)
    })
    .await?;
    tracing::info!(token = %info.name, role = %info.role, by = %who.name, "token created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: secret.expose().to_owned(),
            info,
        }),
    ))
}

pub(crate) async fn revoke(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Answer<TokenInfo> {
    let revoked = off_thread(&state, move |access| {
        access.tokens().revoke(&name, now_ms())
    })
    .await?;
    Ok(Json(revoked))
}

#[derive(Deserialize)]
pub(crate) struct AuditQuery {
    #[serde(default)]
    after: u64,
}

pub(crate) async fn audit(
    State(state): State<AppState>,
    Query(query): Query<AuditQuery>,
) -> Answer<Vec<Sealed>> {
    let entries = off_thread(&state, move |access| access.audit().read(query.after)).await?;
    Ok(Json(entries))
}

/// A store call on the access records, off the async threads (SQLite waits for the disk).
async fn off_thread<T: Send + 'static>(
    state: &AppState,
    call: impl FnOnce(&Access) -> Result<T, AccessError> + Send + 'static,
) -> Result<T, Failure> {
    let access = Arc::clone(&state.access);
    tokio::task::spawn_blocking(move || call(&access))
        .await
        .map_err(|_| Failure {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "the store call stopped halfway".to_owned(),
        })?
        .map_err(refused)
}

fn refused(e: AccessError) -> Failure {
    let status = match e {
        AccessError::NameTaken(_) => StatusCode::CONFLICT,
        AccessError::UnknownToken(_) => StatusCode::NOT_FOUND,
        AccessError::BadName(_) | AccessError::BadGroup(_) => StatusCode::BAD_REQUEST,
        AccessError::Store(_) | AccessError::Codec(_) | AccessError::Random(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    Failure::of(status, &e)
}
