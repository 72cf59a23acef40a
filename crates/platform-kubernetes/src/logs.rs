//! Replica logs from the pods' log endpoint: each replica's (last `tail`) lines in turn, then,
//! following, one follower per pod (pods that appear later get theirs), each reading with
//! timestamps from the last line it sent, so that a reconnection or a restarted container
//! repeats nothing and loses nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use bellwether_core::platform::{LogLine, LogQuery};
use futures_util::AsyncBufReadExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, LogParams};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::pods::Replica;
use crate::shared::Shared;

/// How long a follower waits before reading a pod's log again once a read ended (the
/// container exited, or is not running yet).
const REOPEN: std::time::Duration = std::time::Duration::from_millis(500);

pub(crate) fn stream(
    pods: Api<Pod>,
    shared: Arc<Shared>,
    service: String,
    query: LogQuery,
    stop: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
) -> mpsc::Receiver<Vec<LogLine>> {
    let (sender, receiver) = mpsc::channel(64);
    tokio::spawn(async move {
        let reading = read(&pods, &shared, &service, query, &sender);
        tokio::select! {
            () = reading => {}
            () = stop => {}
            () = sender.closed() => {}
        }
    });
    receiver
}

async fn read(
    pods: &Api<Pod>,
    shared: &Arc<Shared>,
    service: &str,
    query: LogQuery,
    sender: &mpsc::Sender<Vec<LogLine>>,
) {
    let mut last_sent: BTreeMap<String, Timestamp> = BTreeMap::new();
    for replica in shared.replicas(service, query.revision) {
        // One line more than a tail of none, so that a follower knows where the log ends.
        let params = LogParams {
            tail_lines: query
                .tail
                .map(|n| i64::try_from(n.max(1)).unwrap_or(i64::MAX)),
            timestamps: true,
            ..LogParams::default()
        };
        // A pod whose container has not started has nothing to read yet.
        let Ok(mut lines) = lines_of(pods, &replica, &params).await else {
            continue;
        };
        if let Some((at, _)) = lines.last() {
            last_sent.insert(replica.name.clone(), *at);
        }
        if query.tail == Some(0) {
            lines.clear();
        }
        let batch: Vec<LogLine> = lines.into_iter().map(|(_, line)| line).collect();
        if !batch.is_empty() && sender.send(batch).await.is_err() {
            return;
        }
    }
    if !query.follow {
        return;
    }
    let mut followers = JoinSet::new();
    let mut followed = std::collections::BTreeSet::new();
    let mut changed = shared.pods_changed();
    loop {
        let replicas = shared.replicas(service, query.revision);
        // Pods gone have no follower left to remember (their names never come back).
        followed.retain(|name: &String| replicas.iter().any(|r| r.name == *name));
        while followers.try_join_next().is_some() {}
        for replica in replicas {
            if followed.insert(replica.name.clone()) {
                let from = last_sent.get(&replica.name).copied();
                followers.spawn(follow(
                    pods.clone(),
                    Arc::clone(shared),
                    replica,
                    from,
                    sender.clone(),
                ));
            }
        }
        if changed.changed().await.is_err() {
            return;
        }
    }
}

/// Follows one pod's log for as long as the pod is there.
async fn follow(
    pods: Api<Pod>,
    shared: Arc<Shared>,
    replica: Replica,
    mut from: Option<Timestamp>,
    sender: mpsc::Sender<Vec<LogLine>>,
) {
    loop {
        let params = LogParams {
            follow: true,
            timestamps: true,
            since_time: from.and_then(whole_second),
            ..LogParams::default()
        };
        if let Ok(mut reader) = pods.log_stream(&replica.name, &params).await {
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let Some((at, text)) = split(&line) else {
                    continue;
                };
                if from.is_some_and(|from| at <= from) {
                    continue;
                }
                from = Some(at);
                let sent = LogLine {
                    revision: replica.revision,
                    index: replica.index,
                    time: Some(millis(at)),
                    text,
                };
                if sender.send(vec![sent]).await.is_err() {
                    return;
                }
            }
        }
        let still_there = shared
            .replicas(&replica.service, Some(replica.revision))
            .iter()
            .any(|r| r.name == replica.name);
        if !still_there {
            return;
        }
        tokio::time::sleep(REOPEN).await;
    }
}

/// `at` down to its second: the client sends `sinceTime` rounded to the nearest second, which
/// may be after `at` and skip the lines written just after it; lines up to `at` that this
/// repeats are skipped by their times.
fn whole_second(at: Timestamp) -> Option<Timestamp> {
    Timestamp::from_second(at.as_second()).ok()
}

/// The lines of a pod's log with their times.
async fn lines_of(
    pods: &Api<Pod>,
    replica: &Replica,
    params: &LogParams,
) -> Result<Vec<(Timestamp, LogLine)>, kube::Error> {
    let mut reader = pods.log_stream(&replica.name, params).await?;
    let mut lines = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await.unwrap_or(0) == 0 {
            return Ok(lines);
        }
        if let Some((at, text)) = split(&line) {
            lines.push((
                at,
                LogLine {
                    revision: replica.revision,
                    index: replica.index,
                    time: Some(millis(at)),
                    text,
                },
            ));
        }
    }
}

/// The time the kubelet gave a line, as the core's.
fn millis(at: Timestamp) -> bellwether_core::time::Timestamp {
    bellwether_core::time::Timestamp::from_millis(u64::try_from(at.as_millisecond()).unwrap_or(0))
}

/// A line as `timestamps=true` writes it: its time, a space, the text (its line ending off).
fn split(line: &[u8]) -> Option<(Timestamp, Vec<u8>)> {
    let space = line.iter().position(|b| *b == b' ')?;
    let at: Timestamp = std::str::from_utf8(&line[..space]).ok()?.parse().ok()?;
    let mut text = line[space + 1..].to_vec();
    if text.last() == Some(&b'\n') {
        text.pop();
    }
    Some((at, text))
}
