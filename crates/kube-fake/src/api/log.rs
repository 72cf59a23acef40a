//! `GET pods/NAME/log`: the container's current run (or `previous`), from `sinceTime` or
//! `sinceSeconds`, its last `tailLines`, each line prefixed with its time when `timestamps`;
//! `follow` streams what is written until the run ends or the pod is gone.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::response::Response;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use super::{Api, Params, flag, number};
use crate::logs::Logs;
use crate::resource::Key;
use crate::status::Status;
use crate::time::{log_timestamp, parse};

struct Options {
    follow: bool,
    timestamps: bool,
    since: Option<OffsetDateTime>,
    tail: Option<usize>,
    previous: bool,
}

pub(super) async fn serve(api: &Api, key: &Key, params: &Params) -> Result<Response, Status> {
    let pod = api.store.get(key).ok_or_else(|| Status::not_found(key))?;
    let since = match (
        params.get("sinceTime"),
        number::<i64>(params, "sinceSeconds")?,
    ) {
        (Some(text), _) => Some(parse(text).ok_or_else(|| {
            Status::bad_request(format!(
                "sinceTime: invalid value {text:?}, expected RFC 3339"
            ))
        })?),
        (None, Some(seconds)) => Some(
            OffsetDateTime::now_utc()
                .checked_sub(time::Duration::seconds(seconds))
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        ),
        (None, None) => None,
    };
    let options = Options {
        follow: flag(params, "follow"),
        timestamps: flag(params, "timestamps"),
        since,
        tail: number(params, "tailLines")?,
        previous: flag(params, "previous"),
    };
    let container = pod["spec"]["containers"][0]["name"]
        .as_str()
        .unwrap_or_default();
    let Some(run) = api
        .logs
        .read(&key.namespace, &key.name, options.previous, 0)
    else {
        return Err(Status::bad_request(if options.previous {
            format!(
                "previous terminated container \"{container}\" in pod \"{}\" not found",
                key.name
            )
        } else {
            format!(
                "container \"{container}\" in pod \"{}\" is waiting to start: ContainerCreating",
                key.name
            )
        }));
    };
    let mut lines: Vec<_> = run
        .lines
        .iter()
        .filter(|(at, _)| options.since.is_none_or(|since| *at >= since))
        .collect();
    if let Some(tail) = options.tail {
        lines.drain(..lines.len().saturating_sub(tail));
    }
    let first: Vec<u8> = lines
        .iter()
        .flat_map(|(at, text)| render(*at, text, options.timestamps))
        .collect();
    let (sender, receiver) = mpsc::channel::<Bytes>(64);
    let _ = sender.try_send(Bytes::from(first));
    if options.follow && !options.previous && !run.ended {
        let logs = api.logs.clone();
        let (namespace, pod) = (key.namespace.clone(), key.name.clone());
        tokio::spawn(follow(
            logs,
            namespace,
            pod,
            run.number,
            run.lines.len(),
            options.timestamps,
            sender,
        ));
    }
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver
            .recv()
            .await
            .map(|chunk| (Ok::<_, Infallible>(chunk), receiver))
    });
    Response::builder()
        .header("content-type", "text/plain")
        .body(Body::from_stream(body))
        .map_err(|e| Status::bad_request(e.to_string()))
}

fn render(at: OffsetDateTime, text: &[u8], timestamps: bool) -> Vec<u8> {
    let mut line = Vec::with_capacity(text.len() + 32);
    if timestamps {
        line.extend_from_slice(log_timestamp(at).as_bytes());
        line.push(b' ');
    }
    line.extend_from_slice(text);
    line.push(b'\n');
    line
}

/// Sends the lines of run `number` after the first `read` until it ends, the pod is gone or
/// the client leaves.
async fn follow(
    logs: Logs,
    namespace: String,
    pod: String,
    number: u64,
    mut read: usize,
    timestamps: bool,
    sender: mpsc::Sender<Bytes>,
) {
    let mut changed = logs.changed();
    loop {
        let Some(run) = logs.read(&namespace, &pod, false, read) else {
            return;
        };
        if run.number != number {
            return;
        }
        read += run.lines.len();
        let chunk: Vec<u8> = run
            .lines
            .iter()
            .flat_map(|(at, text)| render(*at, text, timestamps))
            .collect();
        if !chunk.is_empty() && sender.send(Bytes::from(chunk)).await.is_err() {
            return;
        }
        if run.ended {
            return;
        }
        tokio::select! {
            changed = changed.changed() => if changed.is_err() { return },
            () = sender.closed() => return,
        }
    }
}
