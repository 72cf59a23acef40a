//! The JSON routes: each is one `ControlPlane` call.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bellwether_access::Identity;
use bellwether_api::{
    ApplyRequest, ApplySummary, CommandRequest, DORA_DEFAULT_SINCE, DeployRequest, DoraReport,
    Health, HistoryEntry, RevisionRecord, RollbackAllRequest, RollbackResult, ServiceSummary,
    ServiceView, UndoRequest,
};
use bellwether_config::values::DurationValue;
use serde::Deserialize;

use crate::AppState;
use crate::error::Failure;
use crate::extract::{Body, Query, Service};

type Answer<T> = Result<Json<T>, Failure>;

pub(crate) async fn health() -> Json<Health> {
    Json(Health {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        standby_of: None,
    })
}

pub(crate) async fn list(State(state): State<AppState>) -> Json<Vec<ServiceSummary>> {
    Json(state.control.list())
}

pub(crate) async fn get(
    State(state): State<AppState>,
    Service(name): Service,
) -> Answer<ServiceView> {
    Ok(Json(state.control.get(&name)?))
}

pub(crate) async fn deploy(
    State(state): State<AppState>,
    Extension(who): Extension<Identity>,
    Service(name): Service,
    Body(mut request): Body<DeployRequest>,
) -> Result<Response, Failure> {
    let environment = crate::gatekeeper::admit(&state, &who, &name, &request).await?;
    // Recorded with the revision, for the figures of the environment it went to.
    request.environment.clone_from(&environment);
    // The environment's variables under the deploy's own.
    if let Some(rules) = environment
        .as_deref()
        .and_then(|e| state.control.environment(e))
    {
        let mut env = rules.vars;
        env.append(&mut request.env);
        request.env = env;
    }
    // The revision keeps the environment it went to, whose secrets its replicas get.
    request.environment.clone_from(&environment);
    let view = state.control.deploy(&name, request).await?;
    let mut response = Json(view).into_response();
    if let Some(environment) = environment {
        response
            .extensions_mut()
            .insert(crate::access::AuditEnvironment(environment));
    }
    Ok(response)
}

pub(crate) async fn command(
    State(state): State<AppState>,
    Extension(who): Extension<Identity>,
    Service(name): Service,
    Body(request): Body<CommandRequest>,
) -> Answer<ServiceView> {
    crate::gatekeeper::within_scope(&state, &who, &name)?;
    Ok(Json(
        state
            .control
            .command(&name, request.command, &who.name)
            .await?,
    ))
}

pub(crate) async fn undo(
    State(state): State<AppState>,
    Extension(who): Extension<Identity>,
    Service(name): Service,
    Body(request): Body<UndoRequest>,
) -> Answer<ServiceView> {
    crate::gatekeeper::admit_undo(&state, &who, &name, request.to_revision)?;
    Ok(Json(
        state
            .control
            .undo(&name, request.to_revision, &who.name)
            .await?,
    ))
}

pub(crate) async fn history(
    State(state): State<AppState>,
    Service(name): Service,
) -> Answer<Vec<HistoryEntry>> {
    Ok(Json(state.control.history(&name)?))
}

pub(crate) async fn revisions(
    State(state): State<AppState>,
    Service(name): Service,
) -> Answer<Vec<RevisionRecord>> {
    Ok(Json(state.control.revisions(&name)?))
}

/// `GET /v1/dora`'s query.
#[derive(Debug, Deserialize)]
pub(crate) struct DoraQuery {
    service: Option<String>,
    env: Option<String>,
    since: Option<String>,
}

pub(crate) async fn dora(
    State(state): State<AppState>,
    Query(query): Query<DoraQuery>,
) -> Answer<DoraReport> {
    let text = query.since.as_deref().unwrap_or(DORA_DEFAULT_SINCE);
    let since = DurationValue::parse(text)
        .ok()
        .and_then(|d| d.to_std())
        .ok_or_else(|| {
            Failure::bad_request(format!(
                "since={text} is not a duration (expected e.g. 30d, 12h)"
            ))
        })?;
    let report = state
        .control
        .dora(query.service.as_deref(), query.env.as_deref(), since)
        .await?;
    Ok(Json(report))
}

/// Validates the file as `bellwether validate` would; every diagnostic is in the error.
pub(crate) async fn apply(
    State(state): State<AppState>,
    Body(request): Body<ApplyRequest>,
) -> Answer<ApplySummary> {
    let loaded =
        bellwether_config::load(&request.file, &request.source).map_err(|diagnostics| {
            Failure::bad_request(format!("{} is not valid:\n{diagnostics}", request.file))
        })?;
    let applied = state
        .control
        .apply(loaded.project, &request.file, request.prune)
        .await?;
    Ok(Json(applied))
}

pub(crate) async fn rollback_all(
    State(state): State<AppState>,
    Extension(who): Extension<Identity>,
    Body(request): Body<RollbackAllRequest>,
) -> Json<Vec<RollbackResult>> {
    Json(state.control.rollback_all(request.reason, &who.name).await)
}
