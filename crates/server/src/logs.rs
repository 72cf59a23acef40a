//! `GET /v1/services/{service}/logs[?revision=N][&tail=N][&follow=true][&timestamps=true]`: the
//! replicas' output as plain text, each line prefixed with its replica (`r2/0 | `), and with
//! `timestamps` first with when the platform received it (RFC 3339, UTC, to the millisecond;
//! `-` where the platform did not record it), one replica after another.
//! With `follow`, new lines are sent as they are written, across rotations, and replicas that
//! start later join in. The platform reads and follows the logs; this formats its lines.

use std::convert::Infallible;
use std::time::{Duration, UNIX_EPOCH};

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
    #[serde(default)]
    timestamps: bool,
}

pub(crate) async fn logs(
    State(state): State<AppState>,
    Service(service): Service,
    Query(query): Query<LogsQuery>,
) -> Result<Response, Failure> {
    let timestamps = query.timestamps;
    let query = LogQuery {
        revision: query.revision,
        tail: query.tail,
        follow: query.follow,
    };
    // Following ends with the server, after the unfinished last lines are sent.
    let stop = Box::pin(state.shutdown.clone().cancelled_owned());
    let receiver = state.control.logs(&service, query, stop)?;
    let chunks = futures_util::stream::unfold(receiver, move |mut receiver| async move {
        let batch = receiver.recv().await?;
        Some((Ok::<Bytes, Infallible>(text(&batch, timestamps)), receiver))
    });
    let content_type = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    Ok((content_type, Body::from_stream(chunks)).into_response())
}

/// `r<revision>/<index> | <line>` for each line, after its time with `timestamps`.
fn text(batch: &[LogLine], timestamps: bool) -> Bytes {
    let mut out = Vec::new();
    for line in batch {
        if timestamps {
            let time = line.time.map_or_else(
                || format!("{:<24}", "-"),
                |t| {
                    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(t.0))
                        .to_string()
                },
            );
            out.extend_from_slice(time.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(format!("r{}/{} | ", line.revision, line.index).as_bytes());
        out.extend_from_slice(&line.text);
        out.push(b'\n');
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use bellwether_core::time::Timestamp;

    use super::*;

    #[test]
    fn a_line_starts_with_its_time_when_asked() {
        let line = |time| LogLine {
            revision: 2,
            index: 1,
            time,
            text: b"ready".to_vec(),
        };
        let batch = [
            line(Some(Timestamp::from_millis(1_796_634_000_123))),
            line(None),
        ];
        assert_eq!(&text(&batch, false)[..], b"r2/1 | ready\nr2/1 | ready\n");
        assert_eq!(
            &text(&batch, true)[..],
            &b"2026-12-07T09:00:00.123Z r2/1 | ready\n-                        r2/1 | ready\n"[..]
        );
    }
}
