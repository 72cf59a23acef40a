//! `KubernetesPlatform`: the controller's `Platform` seam on a namespace of a cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bellwether_controller::Platform;
use bellwether_core::platform::{LogLine, LogQuery, ReplicaTemplate, RevisionKey, ServiceState};
use bellwether_core::rollout::RevisionNumber;
use bellwether_core::signal::{ResourceSample, ResourceSource};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

use crate::metrics::{self, Readings};
use crate::shared::Shared;
use crate::writer::{self, Desired, Downs, Writer};
use crate::{Options, logs, names, watcher};

/// How long `shutdown` waits past the pods' grace period for them to be gone.
const SHUTDOWN_SLACK: Duration = Duration::from_secs(30);

/// Runs revisions as ReplicaSets in one namespace; made inside a tokio runtime, whose tasks
/// write the objects and watch the pods.
pub struct KubernetesPlatform {
    writer: Arc<Writer>,
    pods: Api<Pod>,
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
    revisions: Mutex<BTreeMap<RevisionKey, Revision>>,
    watcher: Mutex<Option<JoinHandle<()>>>,
    readings: Arc<Readings>,
    /// Reads the pods' metrics into `readings`.
    metrics: JoinHandle<()>,
    /// Abandoned or shut down: asks are ignored.
    stopped: AtomicBool,
}

/// A revision asked for since the platform started, and its writing task.
struct Revision {
    desired: watch::Sender<Desired>,
    task: JoinHandle<()>,
}

impl KubernetesPlatform {
    /// A platform on `client`'s cluster, in `options.namespace`; starts watching its pods and
    /// reading their metrics.
    pub fn new(client: Client, options: Options) -> Self {
        let namespace = options.namespace.clone();
        let shared = Arc::new(Shared::new(options.container_port));
        let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
        let pod_metrics = metrics::api(client.clone(), &namespace);
        let writer = Arc::new(Writer {
            sets: Api::<ReplicaSet>::namespaced(client.clone(), &namespace),
            pods: pods.clone(),
            secrets: Api::<Secret>::namespaced(client, &namespace),
            shared: Arc::clone(&shared),
            options,
            downs: Downs::default(),
            in_flight: Semaphore::new(writer::WRITES_IN_FLIGHT),
        });
        let runtime = tokio::runtime::Handle::current();
        let watcher = runtime.spawn(watcher::run(pods.clone(), Arc::clone(&shared)));
        let readings = Arc::new(Readings::new());
        let metrics = runtime.spawn(metrics::run(
            pod_metrics,
            Arc::clone(&shared),
            Arc::clone(&readings),
        ));
        Self {
            writer,
            pods,
            shared,
            runtime,
            revisions: Mutex::default(),
            watcher: Mutex::new(Some(watcher)),
            readings,
            metrics,
            stopped: AtomicBool::new(false),
        }
    }

    fn revisions(&self) -> MutexGuard<'_, BTreeMap<RevisionKey, Revision>> {
        self.revisions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops every writing task and the watch; the cluster keeps what it has.
    fn stop_tasks(&self) -> Vec<(String, RevisionNumber)> {
        self.stopped.store(true, Ordering::SeqCst);
        self.metrics.abort();
        let revisions = std::mem::take(&mut *self.revisions());
        for revision in revisions.values() {
            revision.task.abort();
        }
        revisions
            .into_keys()
            .map(|key| (key.service, key.revision))
            .collect()
    }

    async fn delete_and_wait(&self, created: Vec<(String, RevisionNumber)>) {
        for (service, revision) in &created {
            let name = names::revision_object(service, *revision);
            if let Err(error) = self.writer.delete(&name, &DeleteParams::foreground()).await {
                tracing::warn!(
                    object = name,
                    "cannot delete: {}",
                    bellwether_core::error::chain(&error)
                );
            }
        }
        let mut changed = self.shared.pods_changed();
        let gone = async {
            while self.shared.any_pod_of(&created) {
                if changed.changed().await.is_err() {
                    return;
                }
            }
        };
        let limit = self.writer.options.grace_period + SHUTDOWN_SLACK;
        if tokio::time::timeout(limit, gone).await.is_err() {
            tracing::warn!(
                "pods of bellwether's revisions still there after {limit:?}; leaving them to the cluster"
            );
        }
        if let Some(watcher) = self
            .watcher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            watcher.abort();
        }
    }
}

/// CPU and memory of a revision over a window, from the metrics API's readings.
impl ResourceSource for KubernetesPlatform {
    fn resources(
        &self,
        service: &str,
        revision: RevisionNumber,
        window: Duration,
    ) -> Option<ResourceSample> {
        let key = RevisionKey {
            service: service.to_owned(),
            revision,
        };
        if let Some(sample) = self.readings.summarize(&key, window) {
            return Some(sample);
        }
        // A revision not measured yet (or on a cluster without the metrics API) has no
        // readings: no data, as on the local platform, not an unknown revision.
        self.shared
            .knows(service, revision)
            .then(ResourceSample::default)
    }
}

impl Platform for KubernetesPlatform {
    fn scale(&self, template: &ReplicaTemplate, replicas: u32) {
        if self.stopped.load(Ordering::SeqCst) {
            return;
        }
        let ask = Some((template.clone(), replicas));
        let mut revisions = self.revisions();
        let revision = revisions.entry(template.key()).or_insert_with(|| {
            let (desired, receiver) = watch::channel(None);
            let task = self
                .runtime
                .spawn(writer::run(Arc::clone(&self.writer), receiver));
            Revision { desired, task }
        });
        let before = revision.desired.borrow().as_ref().map(|(_, n)| *n);
        self.writer.downs.asked(&template.key(), before, replicas);
        revision.desired.send_if_modified(|current| {
            let changed = *current != ask;
            *current = ask;
            changed
        });
    }

    fn watch(&self, service: &str) -> watch::Receiver<ServiceState> {
        self.shared.watch(service)
    }

    fn logs(
        &self,
        service: &str,
        query: LogQuery,
        stop: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> mpsc::Receiver<Vec<LogLine>> {
        let _entered = self.runtime.enter();
        logs::stream(
            self.pods.clone(),
            Arc::clone(&self.shared),
            service.to_owned(),
            query,
            stop,
        )
    }

    /// Deletes the ReplicaSets bellwether labelled in the namespace that no revision asked
    /// for since this platform started (a previous control plane's leftovers).
    fn reap_unclaimed(&self) {
        let claimed: BTreeSet<String> = self
            .revisions()
            .keys()
            .map(|key| names::revision_object(&key.service, key.revision))
            .collect();
        let writer = Arc::clone(&self.writer);
        self.runtime.spawn(async move {
            let listed = writer
                .sets
                .list(&ListParams::default().labels(&names::managed()))
                .await;
            let sets = match listed {
                Ok(list) => list.items,
                Err(error) => {
                    tracing::warn!(
                        "cannot list ReplicaSets to reap: {}",
                        bellwether_core::error::chain(&error)
                    );
                    return;
                }
            };
            for name in sets.into_iter().filter_map(|set| set.metadata.name) {
                if claimed.contains(&name) {
                    continue;
                }
                tracing::info!(object = name, "deleting a ReplicaSet no revision asked for");
                if let Err(error) = writer.delete(&name, &DeleteParams::background()).await {
                    tracing::warn!(
                        object = name,
                        "cannot delete: {}",
                        bellwether_core::error::chain(&error)
                    );
                }
            }
        });
    }

    fn abandon(&self) {
        self.stop_tasks();
        if let Some(watcher) = self
            .watcher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            watcher.abort();
        }
    }

    fn shutdown(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let created = self.stop_tasks();
        Box::pin(self.delete_and_wait(created))
    }
}

impl Drop for KubernetesPlatform {
    fn drop(&mut self) {
        self.abandon();
    }
}
