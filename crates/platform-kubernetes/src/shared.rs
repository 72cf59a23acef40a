//! What the platform's tasks share: the pods the watch saw, what each revision was asked for,
//! why a revision's objects could not be written, and a channel per service on which its
//! state is published whenever any of those changes.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use bellwether_core::platform::{ReplicaPhase, ReplicaState, ServiceState};
use bellwether_core::rollout::RevisionNumber;
use k8s_openapi::api::core::v1::Pod;
use tokio::sync::watch;

use crate::pods::{Pods, Replica};

/// A revision whose objects could not be written: how many tries, and the last error.
#[derive(Clone, Debug)]
pub(crate) struct Failure {
    pub attempts: u32,
    pub error: String,
}

#[derive(Default)]
struct Inner {
    pods: Pods,
    desired: BTreeMap<String, BTreeMap<RevisionNumber, u32>>,
    failures: BTreeMap<(String, RevisionNumber), Failure>,
    services: BTreeMap<String, watch::Sender<ServiceState>>,
}

pub(crate) struct Shared {
    inner: Mutex<Inner>,
    port: u16,
    /// Bumped on every change of the pods, for the log followers.
    pods_changed: watch::Sender<u64>,
}

impl Shared {
    pub(crate) fn new(port: u16) -> Self {
        Self {
            inner: Mutex::default(),
            port,
            pods_changed: watch::Sender::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn watch(&self, service: &str) -> watch::Receiver<ServiceState> {
        let mut inner = self.lock();
        if let Some(sender) = inner.services.get(service) {
            return sender.subscribe();
        }
        let state = self.state(&inner, service);
        let (sender, receiver) = watch::channel(state);
        inner.services.insert(service.to_owned(), sender);
        receiver
    }

    pub(crate) fn set_desired(&self, service: &str, revision: RevisionNumber, replicas: u32) {
        let mut inner = self.lock();
        inner
            .desired
            .entry(service.to_owned())
            .or_default()
            .insert(revision, replicas);
        self.publish(&inner, service);
    }

    /// The revision's objects are gone: it is asked for nothing any more.
    pub(crate) fn forget(&self, service: &str, revision: RevisionNumber) {
        let mut inner = self.lock();
        if let Some(desired) = inner.desired.get_mut(service) {
            desired.remove(&revision);
        }
        inner.failures.remove(&(service.to_owned(), revision));
        self.publish(&inner, service);
    }

    pub(crate) fn set_failure(
        &self,
        service: &str,
        revision: RevisionNumber,
        failure: Option<Failure>,
    ) {
        let mut inner = self.lock();
        let key = (service.to_owned(), revision);
        match failure {
            Some(failure) => inner.failures.insert(key, failure),
            None => inner.failures.remove(&key),
        };
        self.publish(&inner, service);
    }

    pub(crate) fn relist(&self, pods: Vec<Pod>) {
        let mut inner = self.lock();
        let touched = inner.pods.relist(pods);
        self.changed(&inner, touched);
    }

    pub(crate) fn upsert(&self, pod: &Pod) {
        let mut inner = self.lock();
        let touched = inner.pods.upsert(pod);
        self.changed(&inner, touched);
    }

    pub(crate) fn remove(&self, name: &str) {
        let mut inner = self.lock();
        let touched = inner.pods.remove(name);
        self.changed(&inner, touched);
    }

    fn changed(&self, inner: &Inner, services: impl IntoIterator<Item = String>) {
        let mut any = false;
        for service in services {
            self.publish(inner, &service);
            any = true;
        }
        if any {
            self.pods_changed.send_modify(|n| *n += 1);
        }
    }

    pub(crate) fn pods_changed(&self) -> watch::Receiver<u64> {
        self.pods_changed.subscribe()
    }

    /// The pods of `service` (of one revision, if given), by revision and index.
    pub(crate) fn replicas(&self, service: &str, revision: Option<RevisionNumber>) -> Vec<Replica> {
        let inner = self.lock();
        let mut replicas: Vec<Replica> = inner
            .pods
            .of(service)
            .filter(|r| revision.is_none_or(|n| r.revision == n))
            .cloned()
            .collect();
        replicas.sort_by_key(|r| (r.revision, r.index));
        replicas
    }

    pub(crate) fn has_pods(&self) -> bool {
        self.lock().pods.any()
    }

    /// The pod named `name`, if it is one of bellwether's.
    pub(crate) fn pod(&self, name: &str) -> Option<Replica> {
        self.lock().pods.get(name).cloned()
    }

    /// Whether the revision has pods or was asked for some.
    pub(crate) fn knows(&self, service: &str, revision: RevisionNumber) -> bool {
        let inner = self.lock();
        let asked = inner
            .desired
            .get(service)
            .is_some_and(|d| d.contains_key(&revision));
        asked || inner.pods.of(service).any(|r| r.revision == revision)
    }

    /// Whether any pod of `revisions` (service and revision) is still there.
    pub(crate) fn any_pod_of(&self, revisions: &[(String, RevisionNumber)]) -> bool {
        let inner = self.lock();
        revisions
            .iter()
            .any(|(service, revision)| inner.pods.of(service).any(|r| r.revision == *revision))
    }

    fn publish(&self, inner: &Inner, service: &str) {
        if let Some(sender) = inner.services.get(service) {
            let state = self.state(inner, service);
            sender.send_if_modified(|current| {
                let changed = *current != state;
                *current = state;
                changed
            });
        }
    }

    /// The service's state: its pods, and for a revision whose objects could not be written,
    /// as many replicas as asked for, each failed as often as the write.
    fn state(&self, inner: &Inner, service: &str) -> ServiceState {
        let empty = BTreeMap::new();
        let desired = inner.desired.get(service).unwrap_or(&empty);
        let mut state = inner.pods.state(service, desired, self.port);
        for ((of, revision), failure) in &inner.failures {
            if of != service {
                continue;
            }
            let revision = state.entry(*revision).or_default();
            if revision.replicas.is_empty() {
                revision.replicas = (0..revision.desired)
                    .map(|index| ReplicaState {
                        index,
                        pid: None,
                        addr: None,
                        phase: ReplicaPhase::Crashed,
                        restarts: failure.attempts,
                        last_error: Some(failure.error.clone()),
                    })
                    .collect();
            }
        }
        state
    }
}
