//! Pipelines through the API: GitHub-format webhooks, manual dispatch, and the runs.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use bellwether_api::{
    DispatchRequest, ReviewAnswer, ReviewRequest, RunJobView, RunView, SkippedPipeline, StartedRun,
    TriggeredView,
};
use bellwether_runner::{ReviewOrder, ReviewRefused};
use bellwether_store::{RunHistory, RunRow, RunStore};
use bellwether_triggers::{Pipelines, TriggerError, Triggered};
use serde::Deserialize;

use crate::AppState;
use crate::error::Failure;
use crate::extract::{Body, Query};

type Accepted = Result<(StatusCode, Json<TriggeredView>), Failure>;

/// The largest webhook body taken: GitHub caps its payloads at 25 MB, and a push of many
/// commits is well over axum's default of 2 MB.
pub(crate) const WEBHOOK_LIMIT: usize = 25 * 1024 * 1024;

fn pipelines(state: &AppState) -> Result<&Pipelines, Failure> {
    state.pipelines.as_ref().ok_or_else(|| Failure {
        status: StatusCode::NOT_FOUND,
        message: "this control plane runs no pipelines".to_owned(),
    })
}

pub(crate) async fn github(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Accepted {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let triggered = pipelines(&state)?
        .webhook(
            header("x-github-event"),
            header("x-github-delivery"),
            header("x-hub-signature-256"),
            &body,
        )
        .await?;
    Ok(accepted(triggered))
}

pub(crate) async fn dispatch(
    State(state): State<AppState>,
    axum::Extension(who): axum::Extension<bellwether_access::Identity>,
    axum::extract::Path(pipeline): axum::extract::Path<String>,
    Body(request): Body<DispatchRequest>,
) -> Accepted {
    let inputs: Vec<(String, String)> = request
        .inputs
        .iter()
        .map(|(k, v)| (k.clone(), v.as_text()))
        .collect();
    let triggered = pipelines(&state)?
        .dispatch(&pipeline, &inputs, request.branch, &who.name)
        .await?;
    Ok(accepted(triggered))
}

/// An identity's answer to a run's gates: 200 with each environment's outcome when one was
/// recorded, 409 when none was.
pub(crate) async fn review(
    State(state): State<AppState>,
    axum::Extension(who): axum::Extension<bellwether_access::Identity>,
    axum::extract::Path(number): axum::extract::Path<u64>,
    Body(request): Body<ReviewRequest>,
) -> Result<Json<Vec<ReviewAnswer>>, Failure> {
    // A reviewer scoped to environments names one of them.
    let named = request.environment.as_ref().map(std::slice::from_ref);
    if !who.environments.is_empty() && !named.is_some_and(|e| who.may_act_in(e)) {
        return Err(Failure {
            status: StatusCode::FORBIDDEN,
            message: format!(
                "`{}` reviews in {} only: name one of them with --env",
                who.name,
                who.environments.join(", ")
            ),
        });
    }
    let order = ReviewOrder {
        run: number,
        environment: request.environment,
        by: who.name.clone(),
        groups: who.groups.clone(),
        approved: request.approved,
        comment: request.comment,
        at_ms: bellwether_runner::now_ms(),
    };
    let answers = pipelines(&state)?.review(order).await.map_err(|e| {
        let status = match e {
            ReviewRefused::NoRun(_) => StatusCode::NOT_FOUND,
            ReviewRefused::NotWaiting { .. } => StatusCode::CONFLICT,
            ReviewRefused::Store(_) | ReviewRefused::Interrupted => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        Failure::of(status, &e)
    })?;
    let answers: Vec<ReviewAnswer> = answers
        .into_iter()
        .map(|a| ReviewAnswer {
            environment: a.environment,
            by: who.name.clone(),
            refused: a.outcome.err(),
        })
        .collect();
    if answers.iter().all(|a| a.refused.is_some()) {
        let reasons: Vec<&str> = answers
            .iter()
            .filter_map(|a| a.refused.as_deref())
            .collect();
        return Err(Failure {
            status: StatusCode::CONFLICT,
            message: reasons.join("; "),
        });
    }
    Ok(Json(answers))
}

fn accepted(t: Triggered) -> (StatusCode, Json<TriggeredView>) {
    let status = if t.runs.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let view = TriggeredView {
        runs: t
            .runs
            .into_iter()
            .map(|r| StartedRun {
                number: r.number,
                pipeline: r.pipeline,
            })
            .collect(),
        skipped: t
            .skipped
            .into_iter()
            .map(|s| SkippedPipeline {
                pipeline: s.pipeline,
                reasons: s.reasons,
            })
            .collect(),
        ignored: t.ignored,
    };
    (status, Json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    pipeline: Option<String>,
    limit: Option<u32>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<RunView>>, Failure> {
    let store = pipelines(&state)?.store();
    let rows = store
        .list(query.pipeline.as_deref(), query.limit.unwrap_or(50))
        .map_err(internal)?;
    Ok(Json(
        rows.into_iter().map(|r| view(r, Vec::new())).collect(),
    ))
}

pub(crate) async fn get(
    State(state): State<AppState>,
    axum::extract::Path(number): axum::extract::Path<String>,
) -> Result<Json<RunView>, Failure> {
    let store = pipelines(&state)?.store();
    let not_found = || Failure {
        status: StatusCode::NOT_FOUND,
        message: format!("no run {number}"),
    };
    let n: u64 = number.parse().map_err(|_| not_found())?;
    let row = store.run(n).map_err(internal)?.ok_or_else(not_found)?;
    let jobs = jobs(&store, &row)?;
    Ok(Json(view(row, jobs)))
}

fn jobs(store: &RunStore, row: &RunRow) -> Result<Vec<RunJobView>, Failure> {
    Ok(store
        .jobs(row.number, row.attempt)
        .map_err(internal)?
        .into_iter()
        .map(|j| RunJobView {
            job: j.job,
            conclusion: j.conclusion,
            message: j.message,
        })
        .collect())
}

fn view(r: RunRow, jobs: Vec<RunJobView>) -> RunView {
    RunView {
        number: r.number,
        pipeline: r.pipeline,
        attempt: r.attempt,
        status: r.status.to_string(),
        actor: r.actor,
        summary: r.summary,
        sha: r.sha,
        started_ms: r.started_ms,
        finished_ms: r.finished_ms,
        jobs,
    }
}

fn internal(e: impl std::error::Error) -> Failure {
    Failure::of(StatusCode::INTERNAL_SERVER_ERROR, &e)
}

impl From<TriggerError> for Failure {
    fn from(error: TriggerError) -> Self {
        let status = match &error {
            TriggerError::WebhooksOff => StatusCode::FORBIDDEN,
            TriggerError::Webhook(e) if e.is_signature() => StatusCode::UNAUTHORIZED,
            TriggerError::Webhook(_)
            | TriggerError::BadInput(_)
            | TriggerError::Source(_)
            | TriggerError::GitTask(_) => StatusCode::BAD_REQUEST,
            TriggerError::UnknownPipeline { .. } => StatusCode::NOT_FOUND,
            TriggerError::Config(_) => StatusCode::UNPROCESSABLE_ENTITY,
            TriggerError::ReadProject { .. }
            | TriggerError::Record(_)
            | TriggerError::Encode(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Failure::of(status, &error)
    }
}
