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
use crate::store::{Selector, Store};
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
    let mut changed = store.changed();
    loop {
        reconcile(&context, &mut running);
        if changed.changed().await.is_err() {
            break;
        }
    }
    for pod in running.values() {
        pod.stop.send_replace(Stop::Kill);
    }
}

fn reconcile(context: &Context, running: &mut BTreeMap<Key, Running>) {
    let (pods, _) = context
        .store
        .list(Resource::Pods, None, &Selector::default());
    let mut present = BTreeMap::new();
    for pod in pods {
        let key = Key {
            resource: Resource::Pods,
            namespace: pod["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .into(),
            name: pod["metadata"]["name"].as_str().unwrap_or_default().into(),
        };
        let uid = pod["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let terminating = !pod["metadata"]["deletionTimestamp"].is_null();
        let known = running.get(&key).is_some_and(|r| r.uid == uid);
        if !known {
            let (stop, stopping) = watch::channel(Stop::Run);
            tokio::spawn(pod::run(
                context.clone(),
                key.clone(),
                pod.clone(),
                stopping,
            ));
            running.insert(
                key.clone(),
                Running {
                    uid: uid.clone(),
                    stop,
                },
            );
        }
        if terminating {
            let grace = pod["metadata"]["deletionGracePeriodSeconds"]
                .as_u64()
                .unwrap_or(30);
            let stop = &running[&key].stop;
            if *stop.borrow() == Stop::Run {
                stop.send_replace(Stop::Terminate(Duration::from_secs(grace)));
            }
        }
        present.insert(key, uid);
    }
    running.retain(|key, pod| {
        let still = present.get(key) == Some(&pod.uid);
        if !still {
            pod.stop.send_replace(Stop::Kill);
        }
        still
    });
}
