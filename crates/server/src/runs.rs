//! Pipelines through the API: GitHub-format webhooks, manual dispatch, and the runs: each
//! with its jobs, legs, steps, gates and reviews ([`view`]), its step logs ([`logs`]) and a
//! stream of which runs changed ([`events`]).

mod events;
mod logs;
pub(crate) mod view;

pub(crate) use events::events;
pub(crate) use logs::logs;

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bellwether_api::{
    DispatchRequest, ReviewAnswer, ReviewRequest, RunView, SkippedPipeline, StartedRun,
    TriggeredView,
};
use bellwether_core::error::chain;
use bellwether_runner::{ReviewOrder, ReviewRefused};
use bellwether_store::{RunHistory, RunRow};
use bellwether_triggers::{Pipelines, TriggerError, Triggered, webhook};
use futures_util::StreamExt;
use serde::Deserialize;

use crate::AppState;
use crate::error::Failure;
use crate::extract::{Body, Query};

type Accepted = Result<(StatusCode, Json<TriggeredView>), Failure>;

/// The largest webhook body taken: GitHub caps its payloads at 25 MB, and a push of many
/// commits is well over the API's own limit.
pub(crate) const WEBHOOK_LIMIT: usize = 25 * 1024 * 1024;

/// How long a delivery's body may take to arrive: GitHub gives up on a delivery after 10 s.
const WEBHOOK_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a sender turned away for being one too many is asked to wait.
const WEBHOOK_RETRY_AFTER_SECS: u64 = 5;

fn pipelines(state: &AppState) -> Result<&Pipelines, Failure> {
    state.pipelines.as_ref().ok_or_else(|| Failure {
        status: StatusCode::NOT_FOUND,
        message: "this control plane runs no pipelines".to_owned(),
    })
}

/// A delivery in GitHub's format. Everything that can be judged from the head is judged
/// before the body is read (too many at once, the signature's form, the delivery id, a
/// declared length over the limit); the body then goes into the signature check as it
/// arrives and is refused the moment it passes the limit, so nothing unsigned is ever held
/// whole and nothing holds more than the limit.
pub(crate) async fn github(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let Ok(_permit) = Arc::clone(&state.webhooks).try_acquire_owned() else {
        let failure = Failure {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!(
                "too many webhook deliveries at once: try again in {WEBHOOK_RETRY_AFTER_SECS}s"
            ),
        };
        return (
            [(header::RETRY_AFTER, WEBHOOK_RETRY_AFTER_SECS.to_string())],
            failure,
        )
            .into_response();
    };
    match delivered(&state, &headers, body).await {
        Ok(triggered) => accepted(triggered).into_response(),
        // The rest of a refused body is not read: the connection closes after the answer.
        Err(failure) => ([(header::CONNECTION, "close")], failure).into_response(),
    }
}

async fn delivered(
    state: &AppState,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<Triggered, Failure> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let pipelines = pipelines(state)?;
    let mut verifier = pipelines.verifier(header("x-hub-signature-256"))?;
    let delivery = webhook::delivery_id(header("x-github-delivery")).map_err(TriggerError::from)?;
    let declared = header(header::CONTENT_LENGTH.as_str()).and_then(|l| l.parse::<u64>().ok());
    if declared.is_some_and(|length| length > WEBHOOK_LIMIT as u64) {
        return Err(too_large());
    }
    let mut pieces = body.into_data_stream();
    let read = async {
        while let Some(piece) = pieces.next().await {
            let piece = piece.map_err(|e| {
                Failure::bad_request(format!("cannot read the delivery's body: {}", chain(&e)))
            })?;
            if verifier.len() + piece.len() > WEBHOOK_LIMIT {
                return Err(too_large());
            }
            verifier.update(&piece);
        }
        Ok(())
    };
    // A body sent slowly would hold a delivery's slot for as long as its sender likes.
    tokio::time::timeout(WEBHOOK_BODY_TIMEOUT, read)
        .await
        .map_err(|_| Failure {
            status: StatusCode::REQUEST_TIMEOUT,
            message: format!(
                "the delivery's body did not arrive within {}s",
                WEBHOOK_BODY_TIMEOUT.as_secs()
            ),
        })??;
    let verified = verifier.finish().map_err(TriggerError::from)?;
    Ok(pipelines
        .webhook(header("x-github-event"), delivery, &verified)
        .await?)
}

fn too_large() -> Failure {
    Failure {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        message: format!(
            "the delivery is over {} MiB, the most a webhook may send",
            WEBHOOK_LIMIT / 1024 / 1024
        ),
    }
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

/// The most runs one list answers with.
const MOST_LISTED: u32 = 1000;

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
    let limit = query.limit.unwrap_or(50);
    if !(1..=MOST_LISTED).contains(&limit) {
        return Err(Failure::bad_request(format!(
            "`limit` is how many runs to list, from 1 to {MOST_LISTED}: `{limit}`"
        )));
    }
    if let Some(pipeline) = &query.pipeline
        && (pipeline.is_empty() || pipeline.len() > 200 || pipeline.chars().any(char::is_control))
    {
        return Err(Failure::bad_request(
            "`pipeline` is the name of one of the project's pipelines (such as `ci`)",
        ));
    }
    let store = pipelines(&state)?.store();
    let runs =
        view::run_list(store.as_ref(), query.pipeline.as_deref(), limit).map_err(internal)?;
    Ok(Json(runs))
}

pub(crate) async fn get(
    State(state): State<AppState>,
    axum::extract::Path(number): axum::extract::Path<String>,
) -> Result<Json<RunView>, Failure> {
    let pipelines = pipelines(&state)?;
    let store = pipelines.store();
    let n = run_number(&number)?;
    view::run_view(store.as_ref(), n, pipelines.data_dir())
        .map_err(internal)?
        .map(Json)
        .ok_or_else(|| no_run(&number))
}

/// The number a `{number}` segment names: 404 for anything but a run's number.
fn run_number(number: &str) -> Result<u64, Failure> {
    number.parse().map_err(|_| no_run(number))
}

fn no_run(number: &str) -> Failure {
    Failure {
        status: StatusCode::NOT_FOUND,
        message: format!("no run {number}"),
    }
}

/// The run a `{number}` segment names: 404 for anything but a run's number.
fn run_row(store: &dyn RunHistory, number: &str) -> Result<RunRow, Failure> {
    store
        .run(run_number(number)?)
        .map_err(internal)?
        .ok_or_else(|| no_run(number))
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
            | TriggerError::Deliveries(_)
            | TriggerError::Record(_)
            | TriggerError::Encode(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Failure::of(status, &error)
    }
}
