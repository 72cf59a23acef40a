//! CPU and memory of the revisions' pods for the `cpu` and `memory` metrics, from the
//! cluster's resource metrics API (`metrics.k8s.io/v1beta1` `PodMetrics`, which metrics-server
//! serves): bellwether's pods of the namespace listed every second, each pod's usage summed
//! over its containers, and per revision the busiest pod's CPU (a share of its CPU limit, or
//! cores when it has none, as on the local platform) and the fullest pod's memory (a share of
//! its memory limit; a pod with none is not measured, since its share of its node's memory
//! would take reading Nodes, which the namespaced Role does not allow) kept for ten minutes in
//! a `ResourceHistory`. A cluster without the API (`404`: no metrics-server) is said once, and
//! asked again every minute in case one is installed; any other failure is said once and
//! retried every second.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bellwether_core::platform::RevisionKey;
use bellwether_core::signal::{ResourceHistory, ResourcePoint, ResourceSample};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde_json::Value;
use tokio::time::Instant;

use crate::pods::Replica;
use crate::shared::Shared;
use crate::{names, quantity};

/// How often the pods' metrics are read, as the local platform samples its processes.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// How often a cluster that served no metrics API is asked again.
const ASK_ABSENT_AGAIN: Duration = Duration::from_secs(60);
/// Readings older than this are dropped.
const KEEP: Duration = Duration::from_secs(600);

/// The `PodMetrics` of `namespace`.
pub(crate) fn api(client: Client, namespace: &str) -> Api<DynamicObject> {
    let kind = GroupVersionKind::gvk("metrics.k8s.io", "v1beta1", "PodMetrics");
    Api::namespaced_with(
        client,
        namespace,
        &ApiResource::from_gvk_with_plural(&kind, "pods"),
    )
}

/// The readings of every revision, written by [`run`] and read by the platform's
/// `ResourceSource`.
pub(crate) struct Readings {
    history: Mutex<ResourceHistory>,
    /// The origin of the readings' times.
    started: Instant,
}

impl Readings {
    pub(crate) fn new() -> Self {
        Self {
            history: Mutex::new(ResourceHistory::new(KEEP)),
            started: Instant::now(),
        }
    }

    pub(crate) fn summarize(&self, key: &RevisionKey, window: Duration) -> Option<ResourceSample> {
        let history = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        history.summarize(key, window, self.started.elapsed())
    }

    fn record(&self, points: Vec<(RevisionKey, ResourcePoint)>) {
        let mut history = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        history.record(points, self.started.elapsed());
    }
}

/// What the last reading met, so that each kind of trouble is said once.
#[derive(Clone, Debug, PartialEq)]
enum Met {
    Served,
    Absent,
    Failed,
}

/// Reads the pods' metrics until aborted.
pub(crate) async fn run(api: Api<DynamicObject>, shared: Arc<Shared>, readings: Arc<Readings>) {
    let selector = names::managed();
    let mut met = Met::Served;
    let mut said: Option<String> = None;
    loop {
        let pause = if met == Met::Absent {
            ASK_ABSENT_AGAIN
        } else {
            SAMPLE_EVERY
        };
        tokio::time::sleep(pause).await;
        if !shared.has_pods() {
            continue;
        }
        match api.list(&ListParams::default().labels(&selector)).await {
            Ok(list) => {
                if met != Met::Served {
                    tracing::info!("the metrics API answers: cpu and memory are measured again");
                }
                met = Met::Served;
                let at = readings.started.elapsed();
                let (points, problem) = points(&list.items, at, |name| shared.pod(name));
                if problem.is_some() && problem != said {
                    tracing::warn!("pod metrics left out: {}", problem.as_deref().unwrap_or(""));
                }
                said = problem;
                readings.record(points);
            }
            Err(kube::Error::Api(status)) if status.code == 404 => {
                if met != Met::Absent {
                    tracing::warn!(
                        "the cluster serves no metrics API (metrics.k8s.io/v1beta1 PodMetrics answered 404 Not Found: is metrics-server installed?): the cpu and memory metrics get no data, and it is asked again every minute"
                    );
                }
                met = Met::Absent;
            }
            Err(error) => {
                if met != Met::Failed {
                    tracing::warn!(
                        "cannot read pod metrics, trying again every second: {}",
                        bellwether_core::error::chain(&error)
                    );
                }
                met = Met::Failed;
            }
        }
    }
}

/// The point of each revision whose pods `items` measures at `at`, and the first pod left out
/// and why (a quantity that is not one, a pod without containers). `pod` finds bellwether's
/// pods by name; other pods are not read.
fn points(
    items: &[DynamicObject],
    at: Duration,
    pod: impl Fn(&str) -> Option<Replica>,
) -> (Vec<(RevisionKey, ResourcePoint)>, Option<String>) {
    let mut revisions: BTreeMap<RevisionKey, ResourcePoint> = BTreeMap::new();
    let mut problem = None;
    for item in items {
        let Some(name) = item.metadata.name.as_deref() else {
            continue;
        };
        let Some(replica) = pod(name) else {
            continue;
        };
        let (cores, bytes) = match usage(&item.data) {
            Ok(usage) => usage,
            Err(why) => {
                problem.get_or_insert_with(|| format!("pod {name}: {why}"));
                continue;
            }
        };
        let cpu = replica.limits.cpu.map_or(cores, |limit| cores / limit);
        let memory = replica.limits.memory.map(|limit| bytes / limit);
        let key = RevisionKey {
            service: replica.service,
            revision: replica.revision,
        };
        let point = revisions.entry(key).or_insert(ResourcePoint {
            at,
            replicas: 0,
            cpu: None,
            memory: None,
        });
        point.replicas += 1;
        point.cpu = Some(point.cpu.map_or(cpu, |c| c.max(cpu)));
        point.memory = match (point.memory, memory) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    (revisions.into_iter().collect(), problem)
}

/// A pod's CPU (cores) and memory (bytes), summed over its containers.
fn usage(data: &Value) -> Result<(f64, f64), String> {
    let containers = data["containers"]
        .as_array()
        .filter(|c| !c.is_empty())
        .ok_or("no containers measured")?;
    let mut total = (0.0, 0.0);
    for container in containers {
        let amount = |resource: &str| -> Result<f64, String> {
            let text = container["usage"][resource]
                .as_str()
                .ok_or_else(|| format!("no {resource} usage"))?;
            let value = quantity::parse(text).map_err(|e| format!("{resource} usage {e}"))?;
            if value < 0.0 {
                return Err(format!("{resource} usage {text:?} is negative"));
            }
            Ok(value)
        };
        total.0 += amount("cpu")?;
        total.1 += amount("memory")?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests;
