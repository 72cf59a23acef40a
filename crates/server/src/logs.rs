//! `GET /v1/services/{service}/logs[?revision=N][&tail=N][&follow=true]`: the replicas' output
//! as plain text, each line prefixed with its replica (`r2/0 | `), one replica after another.
//! With `follow`, new lines are sent as they are written, across rotations, and replicas that
//! start later join in.

mod reader;

use std::convert::Infallible;
use std::path::PathBuf;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bellwether_core::rollout::RevisionNumber;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::AppState;
use crate::error::Failure;
use crate::extract::{Query, Service};
use reader::{Output, ReplicaLog};

/// How often followed files are checked for new output.
const POLL: Duration = Duration::from_millis(200);

#[derive(Deserialize)]
pub(crate) struct LogsQuery {
    revision: Option<RevisionNumber>,
    #[serde(default)]
    follow: bool,
    /// The last N lines of each replica.
    tail: Option<usize>,
}

pub(crate) async fn logs(
    State(state): State<AppState>,
    Service(service): Service,
    Query(query): Query<LogsQuery>,
) -> Result<Response, Failure> {
    let files = state.control.log_files(&service, query.revision)?;
    let (sender, receiver) = mpsc::channel(16);
    tokio::spawn(produce(state, service, query, files, Output::new(sender)));
    let chunks = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let chunk = receiver.recv().await?;
        Some((Ok::<Bytes, Infallible>(chunk), receiver))
    });
    let content_type = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    Ok((content_type, Body::from_stream(chunks)).into_response())
}

/// Writes what is there, then (following) what comes, until the client goes away or the
/// server shuts down.
async fn produce(
    state: AppState,
    service: String,
    query: LogsQuery,
    files: Vec<PathBuf>,
    mut out: Output,
) {
    let mut replicas = ReplicaLog::group(&files);
    for replica in &mut replicas {
        replica.read_existing(query.tail, &mut out).await;
        if !query.follow {
            replica.finish(&mut out);
        }
        if out.flush().await.is_err() {
            return;
        }
    }
    if !query.follow {
        return;
    }
    let mut poll = tokio::time::interval(POLL);
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => break,
            () = out.closed() => return,
            _ = poll.tick() => {}
        }
        if let Ok(files) = state.control.log_files(&service, query.revision) {
            for new in ReplicaLog::group(&files) {
                if !replicas.iter().any(|r| r.live == new.live) {
                    replicas.push(new);
                }
            }
        }
        for replica in &mut replicas {
            replica.read_new(&mut out).await;
            if out.flush().await.is_err() {
                return;
            }
        }
    }
    for replica in &mut replicas {
        replica.finish(&mut out);
    }
    let _ = out.flush().await;
}
