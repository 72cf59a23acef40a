//! Tokens and the audit trail: make, list and revoke tokens (admin), read the trail.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use bellwether_access::{AccessError, Identity, Sealed, TokenInfo};
use bellwether_api::{CreatedToken, TokenRequest};
use serde::Deserialize;

use crate::AppState;
use crate::access::now_ms;
use crate::error::Failure;
use crate::extract::{Body, Query};

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
        Some(secs) => Some(now.saturating_add(
            u64::try_from(Duration::from_secs(secs).as_millis()).unwrap_or(u64::MAX),
        )),
        None => None,
    };
    let access = state.access.clone();
    let made = tokio::task::spawn_blocking(move || {
        access.tokens().create_in(
            &request.name,
            request.role,
            request.environments,
            expires,
            now,
        )
    })
    .await
    .map_err(|_| internal("making the token stopped halfway"))?
    .map_err(refused)?;
    let (secret, info) = made;
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
    let access = state.access.clone();
    let revoked = tokio::task::spawn_blocking(move || access.tokens().revoke(&name, now_ms()))
        .await
        .map_err(|_| internal("revoking the token stopped halfway"))?
        .map_err(refused)?;
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
    let access = state.access.clone();
    let entries = tokio::task::spawn_blocking(move || access.audit().read(query.after))
        .await
        .map_err(|_| internal("reading the audit trail stopped halfway"))?
        .map_err(refused)?;
    Ok(Json(entries))
}

fn refused(e: AccessError) -> Failure {
    let status = match e {
        AccessError::NameTaken(_) => StatusCode::CONFLICT,
        AccessError::UnknownToken(_) => StatusCode::NOT_FOUND,
        AccessError::BadName(_) => StatusCode::BAD_REQUEST,
        AccessError::Store(_) | AccessError::Codec(_) | AccessError::Random(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    Failure::of(status, &e)
}

fn internal(message: &str) -> Failure {
    Failure {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: message.to_owned(),
    }
}
