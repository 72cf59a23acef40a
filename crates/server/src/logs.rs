//! `GET /v1/services/{service}/logs[?revision=N][&tail=N][&follow=true]`: the replicas' output
//! as plain text, each line prefixed with its replica (`r2/0 | `), one replica after another.
//! With `follow`, new lines are sent as they are written, across rotations, and replicas that
//! start later join in. The platform reads and follows the logs; this formats its lines.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bellwether_core::platform::{LogLine, LogQuery};
use bellwether_core::rollout::RevisionNumber;
use serde::Deserialize;

use crate::AppState;
use crate::error::Failure;
use crate::extract::{Query, Service};

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
    let query = LogQuery {
        revision: query.revision,
        tail: query.tail,
        follow: query.follow,
    };
    // Following ends with the server, after the unfinished last lines are sent.
    let stop = Box::pin(state.shutdown.clone().cancelled_owned());
    let receiver = state.control.logs(&service, query, stop)?;
    let chunks = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let batch = receiver.recv().await?;
        Some((Ok::<Bytes, Infallible>(text(&batch)), receiver))
    });
    let content_type = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    Ok((content_type, Body::from_stream(chunks)).into_response())
}

/// `r<revision>/<index> | <line>` for each line.
fn text(batch: &[LogLine]) -> Bytes {
    let mut out = Vec::new();
    for line in batch {
        out.extend_from_slice(format!("r{}/{} | ", line.revision, line.index).as_bytes());
        out.extend_from_slice(&line.text);
        out.push(b'\n');
    }
    Bytes::from(out)
}
