//! The kubelet: every pod of the cluster runs here, its (first) container a local process on a
//! loopback address of its own, the pod's IP. It starts pods as they appear, stops the ones
//! marked for deletion (SIGTERM, SIGKILL after the grace period) and then removes them.

mod container;
mod ips;
mod pod;
mod probe;

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::watch;

use crate::logs::Logs;
use crate::resource::{Key, Resource};
use crate::script::Script;
use crate::store::Store;
use crate::usage::Usage;

pub(crate) use ips::Ips;

/// How the kubelet restarts containers: after `restart_backoff`, doubling up to
/// `max_backoff` (Kubernetes: 10 s, up to 5 min).
#[derive(Clone, Debug)]
pub(crate) struct Timing {
    pub restart_backoff: Duration,
    pub max_backoff: Duration,
}

/// What the kubelet tells a pod's task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    Run,
    /// Marked for deletion: SIGTERM, and SIGKILL after this grace.
    Terminate(Duration),
    /// The pod is gone from the API already (deleted with no grace): kill at once.
    Kill,
}

#[derive(Clone)]
struct Context {
    store: Store,
    script: Script,
    logs: Logs,
    usage: Usage,
    ips: Ips,
    timing: Timing,
}

struct Running {
    uid: String,
    stop: watch::Sender<Stop>,
}

/// Runs the kubelet until the store's change feed ends.
pub(crate) async fn run(store: Store, script: Script, logs: Logs, usage: Usage, timing: Timing) {
    let context = Context {
        store: store.clone(),
        script,
        logs,
        usage,
        ips: Ips,
        timing,
    };
    let mut running: BTreeMap<Key, Running> = BTreeMap::new();
    store.on_changes(|| reconcile(&context, &mut running)).await;
    for pod in running.values() {
        pod.stop.send_replace(Stop::Kill);
    }
}

/// A pod as the kubelet's pass sees it.
struct Seen {
    key: Key,
    uid: String,
    /// The grace it was given, once marked for deletion.
    terminating: Option<Duration>,
    /// The pod, when the kubelet does not run it yet.
    new: Option<serde_json::Value>,
}

fn reconcile(context: &Context, running: &mut BTreeMap<Key, Running>) {
    let pods: Vec<Seen> = context.store.read(|objects| {
        objects
            .iter()
            .filter(|(key, _)| key.resource == Resource::Pods)
            .map(|(key, pod)| {
                let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
                let known = running.get(key).is_some_and(|r| r.uid == uid);
                let terminating = (!pod["metadata"]["deletionTimestamp"].is_null()).then(|| {
                    let grace = pod["metadata"]["deletionGracePeriodSeconds"].as_u64();
                    Duration::from_secs(grace.unwrap_or(30))
                });
                Seen {
                    key: key.clone(),
                    uid: uid.to_owned(),
                    terminating,
                    new: (!known).then(|| pod.clone()),
                }
            })
            .collect()
    });
    let mut present = BTreeMap::new();
    for seen in pods {
        if let Some(pod) = seen.new {
            let (stop, stopping) = watch::channel(Stop::Run);
            tokio::spawn(pod::run(context.clone(), seen.key.clone(), pod, stopping));
            let uid = seen.uid.clone();
            running.insert(seen.key.clone(), Running { uid, stop });
        }
        if let Some(grace) = seen.terminating {
            let stop = &running[&seen.key].stop;
            if *stop.borrow() == Stop::Run {
                stop.send_replace(Stop::Terminate(grace));
            }
        }
        present.insert(seen.key, seen.uid);
    }
    running.retain(|key, pod| {
        let still = present.get(key) == Some(&pod.uid);
        if !still {
            pod.stop.send_replace(Stop::Kill);
        }
        still
    });
}
