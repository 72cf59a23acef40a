//! Pipelines through the API: GitHub-format webhooks, manual dispatch, and the runs: each
//! with its jobs, legs, steps, gates and reviews, its step logs ([`logs`]) and a stream of
//! which runs changed ([`events`]).

mod events;
mod logs;

pub(crate) use events::events;
pub(crate) use logs::logs;

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bellwether_api::{
    DispatchRequest, ReviewAnswer, ReviewRequest, RunGateView, RunInstanceView, RunJobView,
    RunReviewView, RunStepView, RunView, SkippedPipeline, StartedRun, TriggeredView,
};
use bellwether_config::Loaded;
use bellwether_core::error::chain;
use bellwether_core::spec::EnvironmentSpec;
use bellwether_runner::{Replay, ReviewOrder, ReviewRefused};
use bellwether_store::{InstanceRow, RunHistory, RunRow};
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
    Ok(Json(rows.into_iter().map(view).collect()))
}

pub(crate) async fn get(
    State(state): State<AppState>,
    axum::extract::Path(number): axum::extract::Path<String>,
) -> Result<Json<RunView>, Failure> {
    let store = pipelines(&state)?.store();
    let row = run_row(store.as_ref(), &number)?;
    let project = project_of(&row);
    let mut view = view(row);
    view.jobs = jobs(store.as_ref(), &view, project.as_ref())?;
    view.gates = store
        .gates(view.number, view.attempt)
        .map_err(internal)?
        .into_iter()
        .map(|g| RunGateView {
            rules: project
                .as_ref()
                .and_then(|p| p.project.environments.get(&g.environment))
                .map(rules)
                .unwrap_or_default(),
            job: g.job,
            index: g.index,
            environment: g.environment,
            state: g.state,
            since_ms: g.since_ms,
            decided_ms: g.decided_ms,
        })
        .collect();
    view.reviews = store
        .reviews(view.number, view.attempt, None)
        .map_err(internal)?
        .into_iter()
        .map(|r| RunReviewView {
            environment: r.environment,
            by: r.by,
            approved: r.approved,
            comment: r.comment,
            at_ms: r.at_ms,
        })
        .collect();
    Ok(Json(view))
}

/// The run a `{number}` segment names: 404 for anything but a run's number.
fn run_row(store: &dyn RunHistory, number: &str) -> Result<RunRow, Failure> {
    let not_found = || Failure {
        status: StatusCode::NOT_FOUND,
        message: format!("no run {number}"),
    };
    let n: u64 = number.parse().map_err(|_| not_found())?;
    store.run(n).map_err(internal)?.ok_or_else(not_found)
}

/// The run's project file as it is now, when it can still be read: what `needs` and the
/// environments' rules come from, since the store keeps only what happened.
fn project_of(run: &RunRow) -> Option<Loaded> {
    let replay: Replay = serde_json::from_value(run.trigger.clone()).ok()?;
    let source = std::fs::read_to_string(&replay.file).ok()?;
    bellwether_config::load_with(&replay.file.display().to_string(), &source, &|p| {
        std::fs::read_to_string(p)
    })
    .ok()
}

fn jobs(
    store: &dyn RunHistory,
    run: &RunView,
    project: Option<&Loaded>,
) -> Result<Vec<RunJobView>, Failure> {
    let spec = project.and_then(|p| p.pipelines.iter().find(|s| s.name == run.pipeline));
    let mut instances = store
        .instances(run.number, run.attempt)
        .map_err(internal)?
        .into_iter()
        .peekable();
    let mut jobs = Vec::new();
    for j in store.jobs(run.number, run.attempt).map_err(internal)? {
        let mut legs = Vec::new();
        while let Some(leg) = instances.next_if(|i| i.job == j.job) {
            legs.push(instance(leg));
        }
        jobs.push(RunJobView {
            needs: spec
                .and_then(|s| s.job(&j.job))
                .map(|s| s.needs.clone())
                .unwrap_or_default(),
            job: j.job,
            conclusion: j.conclusion,
            message: j.message,
            name: j.name,
            instances: legs,
        });
    }
    Ok(jobs)
}

fn instance(row: InstanceRow) -> RunInstanceView {
    let text = |step: &serde_json::Value, key: &str| step[key].as_str().map(str::to_owned);
    let steps = row
        .steps
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|step| RunStepView {
            name: text(step, "name").unwrap_or_default(),
            status: text(step, "status").unwrap_or_default(),
            exit: text(step, "exit"),
            started_ms: step["started_ms"].as_u64(),
            finished_ms: step["finished_ms"].as_u64(),
        })
        .collect();
    RunInstanceView {
        index: row.index,
        name: row.name,
        status: row.status,
        attempt: row.job_attempt,
        started_ms: row.started_ms,
        finished_ms: row.finished_ms,
        message: row.message,
        steps,
    }
}

/// An environment's protection rules, one sentence each.
fn rules(env: &EnvironmentSpec) -> Vec<String> {
    let mut rules = Vec::new();
    match env.approvals {
        0 => {}
        1 => rules.push("1 approval".to_owned()),
        n => rules.push(format!("{n} approvals from different people")),
    }
    if env.approvals > 0 && !env.allow_self_approval {
        rules.push("not by whoever started the run".to_owned());
    }
    if !env.reviewers.is_empty() {
        rules.push(format!("reviewers: {}", env.reviewers.join(", ")));
    }
    if !env.wait.is_zero() {
        rules.push(format!("a wait of {}", seconds(env.wait)));
    }
    if !env.branches.is_empty() {
        rules.push(format!("branches: {}", env.branches.join(", ")));
    }
    if let Some(soak) = &env.soak {
        rules.push(format!(
            "stable in {} for {} first",
            soak.environment,
            seconds(soak.duration)
        ));
    }
    rules
}

fn seconds(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s >= 60 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

fn view(r: RunRow) -> RunView {
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
        jobs: Vec::new(),
        gates: Vec::new(),
        reviews: Vec::new(),
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
            | TriggerError::Deliveries(_)
            | TriggerError::Record(_)
            | TriggerError::Encode(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Failure::of(status, &error)
    }
}
