//! A service's replica logs as a stream of lines: what is there, one replica after another,
//! then (following) new lines as they are written, across rotations, with replicas that start
//! later joining in.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use bellwether_core::platform::{LogLine, LogQuery};
use tokio::sync::mpsc;

use super::files;
use super::reader::{Output, ReplicaLog};

/// How often followed files are checked for new output.
const POLL: Duration = Duration::from_millis(200);

/// Starts reading the logs under `dir` (a service's log directory) into a channel.
pub(crate) fn start(
    dir: PathBuf,
    query: LogQuery,
    stop: Pin<Box<dyn Future<Output = ()> + Send>>,
) -> mpsc::Receiver<Vec<LogLine>> {
    let (sender, receiver) = mpsc::channel(16);
    tokio::spawn(produce(dir, query, stop, Output::new(sender)));
    receiver
}

/// Sends what is there, then (following) what comes, until the reader goes away or `stop`.
async fn produce(
    dir: PathBuf,
    query: LogQuery,
    mut stop: Pin<Box<dyn Future<Output = ()> + Send>>,
    mut out: Output,
) {
    let mut replicas: Vec<ReplicaLog> = files::replicas(&dir, query.revision)
        .into_iter()
        .map(ReplicaLog::new)
        .collect();
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
            () = &mut stop => break,
            () = out.closed() => return,
            _ = poll.tick() => {}
        }
        for new in files::replicas(&dir, query.revision) {
            if !replicas.iter().any(|r| r.live == new.live) {
                replicas.push(ReplicaLog::new(new));
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
