//! The checks, one `pub async fn` each, named after the rule they hold a platform to.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use bellwether_core::platform::{LogLine, LogQuery, ReplicaPhase, ServiceState};
use bellwether_core::rollout::RevisionNumber;
use tokio::sync::{mpsc, oneshot};

use super::harness::{Subject, WAIT, get, until, until_gone};

/// The addresses of the ready replicas of `revision`, by index.
fn ready(state: &ServiceState, revision: RevisionNumber) -> Vec<(u32, SocketAddr)> {
    state.get(&revision).map_or_else(Vec::new, |r| {
        r.replicas
            .iter()
            .filter(|p| p.phase == ReplicaPhase::Ready)
            .filter_map(|p| Some((p.index, p.addr?)))
            .collect()
    })
}

fn text(line: &LogLine) -> String {
    String::from_utf8_lossy(&line.text).into_owned()
}

/// Every line there is now (not following).
async fn read(subject: &Subject, service: &str, query: LogQuery) -> Vec<LogLine> {
    let mut receiver = subject
        .platform
        .logs(service, query, Box::pin(std::future::pending()));
    let mut lines = Vec::new();
    let all = async {
        while let Some(batch) = receiver.recv().await {
            lines.extend(batch);
        }
    };
    tokio::time::timeout(WAIT, all)
        .await
        .expect("the logs are read in time");
    lines
}

/// The next followed line that satisfies `f`, skipping the others.
async fn next_line(
    receiver: &mut mpsc::Receiver<Vec<LogLine>>,
    what: &str,
    f: impl Fn(&LogLine) -> bool,
) -> LogLine {
    let found = async {
        while let Some(batch) = receiver.recv().await {
            if let Some(line) = batch.into_iter().find(|l| f(l)) {
                return Some(line);
            }
        }
        None
    };
    match tokio::time::timeout(WAIT, found).await {
        Ok(Some(line)) => line,
        Ok(None) => panic!("the followed logs ended before {what}"),
        Err(_) => panic!("timed out following the logs for {what}"),
    }
}

/// Replicas `0..n` run and become ready at distinct addresses; scaling down stops the
/// highest indexes, and scaling to none stops them all.
pub async fn scaling_runs_exactly_the_replicas_asked_for(subject: Subject) {
    let template = subject.template("scaled", 1, "/health");
    let mut rx = subject.platform.watch("scaled");
    subject.platform.scale(&template, 2);
    let state = until(&mut rx, "two ready replicas", |s| ready(s, 1).len() == 2).await;
    let replicas = ready(&state, 1);
    assert_eq!(replicas.iter().map(|r| r.0).collect::<Vec<_>>(), [0, 1]);
    assert_ne!(replicas[0].1, replicas[1].1, "two replicas, one address");
    for (_, addr) in &replicas {
        assert_eq!(get(*addr, "/health").await.unwrap(), "HTTP/1.0 200 OK");
    }

    subject.platform.scale(&template, 1);
    until(&mut rx, "replica 1 stopped", |s| {
        s.get(&1).is_some_and(|r| r.replicas.len() == 1) && ready(s, 1) == replicas[..1]
    })
    .await;
    until_gone(replicas[1].1).await;

    subject.platform.scale(&template, 0);
    until(&mut rx, "every replica stopped", |s| {
        s.get(&1).is_none_or(|r| r.replicas.is_empty())
    })
    .await;
    until_gone(replicas[0].1).await;
}

/// A replica is reported as soon as it runs, but ready only once its readiness probe passes.
pub async fn only_replicas_that_pass_their_probe_are_ready(subject: Subject) {
    let mut rx = subject.platform.watch("probed");
    subject
        .platform
        .scale(&subject.template("probed", 1, "/missing"), 1);
    subject
        .platform
        .scale(&subject.template("probed", 2, "/health"), 1);
    // Both are probed as often: by the time the good one is ready, the bad one has failed.
    let state = until(&mut rx, "revision 2 ready, revision 1 reported", |s| {
        ready(s, 2).len() == 1 && s.get(&1).is_some_and(|r| !r.replicas.is_empty())
    })
    .await;
    assert_eq!(ready(&state, 1), [], "{state:#?}");
}

/// A replica that exits is started again at the same index, and becomes ready again.
pub async fn a_replica_that_exits_is_replaced(subject: Subject) {
    let mut rx = subject.platform.watch("replaced");
    subject
        .platform
        .scale(&subject.template("replaced", 1, "/health"), 1);
    let state = until(&mut rx, "a ready replica", |s| ready(s, 1).len() == 1).await;
    let (_, addr) = ready(&state, 1)[0];
    // The replica exits while answering: no response is expected.
    let _ = get(addr, "/exit").await;
    until(&mut rx, "the replica restarted and ready", |s| {
        ready(s, 1).len() == 1
            && s[&1]
                .replicas
                .iter()
                .any(|r| r.index == 0 && r.restarts >= 1)
    })
    .await;
}

/// The lines each replica wrote, labelled with its revision and index, one replica after
/// another; `tail` keeps the last lines of each; other revisions and services have none.
pub async fn logs_are_read_with_their_replica_and_tail(subject: Subject) {
    let mut rx = subject.platform.watch("logged");
    subject
        .platform
        .scale(&subject.template("logged", 1, "/health"), 2);
    let state = until(&mut rx, "two ready replicas", |s| ready(s, 1).len() == 2).await;
    for (index, addr) in ready(&state, 1) {
        get(addr, &format!("/marker-{index}")).await.unwrap();
    }
    let all = LogQuery {
        revision: Some(1),
        ..LogQuery::default()
    };
    let lines = read(&subject, "logged", all).await;
    let replicas: Vec<(RevisionNumber, u32)> =
        lines.iter().map(|l| (l.revision, l.index)).collect();
    let mut sorted = replicas.clone();
    sorted.sort();
    assert_eq!(replicas, sorted, "one replica after another");
    for index in 0..2 {
        let own: Vec<String> = lines
            .iter()
            .filter(|l| l.index == index)
            .map(text)
            .collect();
        assert_eq!(
            own.first().map(String::as_str),
            Some("listening"),
            "{own:?}"
        );
        let marker = format!("request /marker-{index}");
        assert!(own.iter().any(|l| l.contains(&marker)), "{own:?}");
    }

    let tail = |n| LogQuery {
        revision: Some(1),
        tail: Some(n),
        follow: false,
    };
    let last = read(&subject, "logged", tail(1)).await;
    let per_replica: Vec<u32> = last.iter().map(|l| l.index).collect();
    assert_eq!(per_replica, [0, 1], "{last:?}");
    assert_eq!(read(&subject, "logged", tail(0)).await, []);
    let other = LogQuery {
        revision: Some(2),
        ..LogQuery::default()
    };
    assert_eq!(read(&subject, "logged", other).await, []);
    assert_eq!(read(&subject, "never-ran", LogQuery::default()).await, []);
}

/// Following sends lines as they are written, from replicas that start later too, until the
/// reader stops it; then the stream ends.
pub async fn logs_are_followed_until_stopped(subject: Subject) {
    let template = subject.template("followed", 1, "/health");
    let mut rx = subject.platform.watch("followed");
    subject.platform.scale(&template, 1);
    let state = until(&mut rx, "a ready replica", |s| ready(s, 1).len() == 1).await;
    let (stop, stopped) = oneshot::channel::<()>();
    let query = LogQuery {
        revision: None,
        tail: None,
        follow: true,
    };
    let mut receiver = subject.platform.logs(
        "followed",
        query,
        Box::pin(async {
            let _ = stopped.await;
        }),
    );
    // The first marker may come with what was there; the second was written after that.
    let addr = ready(&state, 1)[0].1;
    for marker in ["/before-0", "/after-0"] {
        get(addr, marker).await.unwrap();
        let line = next_line(&mut receiver, marker, |l| {
            text(l).contains(&format!("request {marker}"))
        })
        .await;
        assert_eq!((line.revision, line.index), (1, 0));
    }

    subject.platform.scale(&template, 2);
    let state = until(&mut rx, "two ready replicas", |s| ready(s, 1).len() == 2).await;
    let late = ready(&state, 1)[1].1;
    get(late, "/after-1").await.unwrap();
    let line = next_line(&mut receiver, "a line of the replica started later", |l| {
        text(l).contains("request /after-1")
    })
    .await;
    assert_eq!((line.revision, line.index), (1, 1));

    stop.send(()).unwrap();
    let ended = async { while receiver.recv().await.is_some() {} };
    tokio::time::timeout(WAIT, ended)
        .await
        .expect("the followed logs end once stopped");
}

/// Shutting down stops every replica of every revision and returns once they are gone.
pub async fn shutdown_stops_every_replica(subject: Subject) {
    let mut rx = subject.platform.watch("stopped");
    for revision in [1, 2] {
        subject
            .platform
            .scale(&subject.template("stopped", revision, "/health"), 1);
    }
    let state = until(&mut rx, "both revisions ready", |s| {
        ready(s, 1).len() == 1 && ready(s, 2).len() == 1
    })
    .await;
    let addrs: BTreeSet<SocketAddr> = [1, 2]
        .iter()
        .flat_map(|revision| ready(&state, *revision))
        .map(|(_, addr)| addr)
        .collect();
    subject.platform.shutdown().await;
    for addr in addrs {
        until_gone(addr).await;
    }
}
