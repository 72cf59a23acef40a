//! The pods of bellwether's revisions as the watch last saw them, and what the controller
//! reads of them: each pod a replica at a stable index of its revision (the lowest free one
//! when it appears, so older pods keep the lower indexes), its address the pod IP and the
//! container port, its phase from the pod's conditions and container state.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};

use bellwether_core::platform::{ReplicaPhase, ReplicaState, RevisionState, ServiceState};
use bellwether_core::rollout::RevisionNumber;
use k8s_openapi::api::core::v1::Pod;

use crate::{names, quantity};

/// One pod of a revision, as far as the controller cares.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Replica {
    pub name: String,
    pub service: String,
    pub revision: RevisionNumber,
    pub index: u32,
    pub ip: Option<IpAddr>,
    pub phase: ReplicaPhase,
    pub restarts: u32,
    pub last_error: Option<String>,
    pub limits: Limits,
}

/// What a pod may use, in cores and bytes: the sums of its containers' limits, when every
/// container has one.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Limits {
    pub cpu: Option<f64>,
    pub memory: Option<f64>,
}

/// Every pod bellwether manages in the namespace, by service and name: what one service's
/// change reads is that service's pods, however many the namespace has.
#[derive(Debug, Default)]
pub(crate) struct Pods {
    services: BTreeMap<String, BTreeMap<String, Replica>>,
    /// Each pod's service, by the pod's name.
    service_of: HashMap<String, String>,
    /// Pods that have been ready: failing readiness after that is `Unready`.
    were_ready: BTreeSet<String>,
}

impl Pods {
    /// Replaces everything with a fresh list (after `410 Gone`, or at start); the services
    /// whose pods changed.
    pub(crate) fn relist(&mut self, mut pods: Vec<Pod>) -> BTreeSet<String> {
        pods.sort_by(|a, b| {
            (&a.metadata.creation_timestamp, &a.metadata.name)
                .cmp(&(&b.metadata.creation_timestamp, &b.metadata.name))
        });
        let listed: BTreeSet<String> = pods
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        let mut touched = BTreeSet::new();
        let gone: Vec<String> = self
            .service_of
            .keys()
            .filter(|n| !listed.contains(*n))
            .cloned()
            .collect();
        for name in gone {
            touched.extend(self.remove(&name));
        }
        for pod in pods {
            touched.extend(self.upsert(&pod));
        }
        touched
    }

    /// Takes in an added or modified pod; the service it belongs to, if bellwether's.
    pub(crate) fn upsert(&mut self, pod: &Pod) -> Option<String> {
        let name = pod.metadata.name.clone()?;
        let labels = pod.metadata.labels.as_ref()?;
        let annotations = pod.metadata.annotations.as_ref();
        let service = annotations
            .and_then(|a| a.get(names::SERVICE_NAME))
            .or_else(|| labels.get(names::SERVICE))?
            .clone();
        let revision: RevisionNumber = labels.get(names::REVISION)?.parse().ok()?;
        let known = self.get(&name).filter(|known| known.service == service);
        let index = match known {
            Some(known) => known.index,
            None => self.free_index(&service, revision),
        };
        let (phase, restarts, last_error) = observe(pod, self.were_ready.contains(&name));
        if phase == ReplicaPhase::Ready {
            self.were_ready.insert(name.clone());
        }
        let ip = pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.as_deref())
            .and_then(|ip| ip.parse().ok());
        let replica = Replica {
            name: name.clone(),
            service: service.clone(),
            revision,
            index,
            ip,
            phase,
            restarts,
            last_error,
            limits: limits(pod),
        };
        let changed = self.get(&name) != Some(&replica);
        if let Some(before) = self.service_of.insert(name.clone(), service.clone())
            && before != service
            && let Some(pods) = self.services.get_mut(&before)
        {
            pods.remove(&name);
        }
        let pods = self.services.entry(service.clone()).or_default();
        pods.insert(name, replica);
        changed.then_some(service)
    }

    /// Forgets a deleted pod; the service it belonged to.
    pub(crate) fn remove(&mut self, name: &str) -> Option<String> {
        self.were_ready.remove(name);
        let service = self.service_of.remove(name)?;
        if let Some(pods) = self.services.get_mut(&service) {
            pods.remove(name);
            if pods.is_empty() {
                self.services.remove(&service);
            }
        }
        Some(service)
    }

    fn free_index(&self, service: &str, revision: RevisionNumber) -> u32 {
        let taken: BTreeSet<u32> = self
            .of(service)
            .filter(|r| r.revision == revision)
            .map(|r| r.index)
            .collect();
        (0..).find(|i| !taken.contains(i)).unwrap_or_default()
    }

    pub(crate) fn any(&self) -> bool {
        !self.service_of.is_empty()
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Replica> {
        self.services.get(self.service_of.get(name)?)?.get(name)
    }

    /// The pods of `service`, by name.
    pub(crate) fn of<'a>(&'a self, service: &'a str) -> impl Iterator<Item = &'a Replica> + 'a {
        self.services
            .get(service)
            .into_iter()
            .flat_map(BTreeMap::values)
    }

    /// What the controller reads of `service`: each revision it has pods of or asked for
    /// (`desired`), its replicas by index.
    pub(crate) fn state(
        &self,
        service: &str,
        desired: &BTreeMap<RevisionNumber, u32>,
        port: u16,
    ) -> ServiceState {
        let mut state: ServiceState = desired
            .iter()
            .map(|(revision, desired)| {
                (
                    *revision,
                    RevisionState {
                        desired: *desired,
                        replicas: Vec::new(),
                    },
                )
            })
            .collect();
        for replica in self.of(service) {
            state
                .entry(replica.revision)
                .or_default()
                .replicas
                .push(ReplicaState {
                    index: replica.index,
                    pid: None,
                    addr: replica.ip.map(|ip| SocketAddr::new(ip, port)),
                    phase: replica.phase,
                    restarts: replica.restarts,
                    last_error: replica.last_error.clone(),
                });
        }
        for revision in state.values_mut() {
            revision.replicas.sort_by_key(|r| r.index);
        }
        state
    }
}

/// The pod's limits; a limit that is not a positive quantity counts as none.
fn limits(pod: &Pod) -> Limits {
    let containers = pod
        .spec
        .as_ref()
        .map_or(&[][..], |s| s.containers.as_slice());
    let sum = |resource: &str| -> Option<f64> {
        if containers.is_empty() {
            return None;
        }
        containers
            .iter()
            .map(|c| {
                let limit = c.resources.as_ref()?.limits.as_ref()?.get(resource)?;
                quantity::parse(&limit.0).ok().filter(|v| *v > 0.0)
            })
            .sum()
    };
    Limits {
        cpu: sum("cpu"),
        memory: sum("memory"),
    }
}

/// The phase of a pod, its container's restarts and why it last failed.
fn observe(pod: &Pod, was_ready: bool) -> (ReplicaPhase, u32, Option<String>) {
    let status = pod.status.as_ref();
    let container = status
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first());
    let restarts = container.map_or(0, |c| u32::try_from(c.restart_count).unwrap_or(0));
    let last = container
        .and_then(|c| c.last_state.as_ref())
        .and_then(|s| s.terminated.as_ref())
        .map(|t| {
            let why = t
                .message
                .clone()
                .or_else(|| t.reason.clone())
                .unwrap_or_default();
            format!(
                "exited with code {}{}",
                t.exit_code,
                if why.is_empty() {
                    String::new()
                } else {
                    format!(": {why}")
                }
            )
        });
    let waiting = container
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.waiting.as_ref());
    let failing_to_start = waiting.and_then(|w| {
        let reason = w.reason.as_deref()?;
        let failed = matches!(
            reason,
            "CrashLoopBackOff"
                | "CreateContainerConfigError"
                | "CreateContainerError"
                | "ErrImagePull"
                | "ImagePullBackOff"
                | "InvalidImageName"
                | "RunContainerError"
        );
        failed.then(|| match &w.message {
            Some(message) if !message.is_empty() => format!("{reason}: {message}"),
            _ => reason.to_owned(),
        })
    });
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let phase = if pod.metadata.deletion_timestamp.is_some() {
        ReplicaPhase::Stopping
    } else if ready {
        ReplicaPhase::Ready
    } else if failing_to_start.is_some() {
        ReplicaPhase::Crashed
    } else if was_ready {
        ReplicaPhase::Unready
    } else {
        ReplicaPhase::Starting
    };
    // A pod no node takes (unschedulable) says why in its condition.
    let unscheduled = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| {
            c.iter()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False")
        })
        .map(|c| {
            let reason = c.reason.as_deref().unwrap_or("Unschedulable");
            match c.message.as_deref() {
                Some(message) if !message.is_empty() => format!("{reason}: {message}"),
                _ => reason.to_owned(),
            }
        });
    let last_error = match (failing_to_start, last) {
        (Some(now), Some(last)) => Some(format!("{now} (last: {last})")),
        (now, last) => now.or(last).or(unscheduled),
    };
    (phase, restarts, last_error)
}

#[cfg(test)]
mod tests;
