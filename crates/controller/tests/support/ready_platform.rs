//! A platform whose replicas are ready the moment they are asked for, on loopback addresses
//! nothing listens on: the control plane without processes, for the tests of the platform seam
//! and the scale benchmark (which includes this file).

use std::collections::HashMap;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bellwether_controller::Platform;
use bellwether_core::platform::{
    LogLine, LogQuery, ReplicaPhase, ReplicaState, ReplicaTemplate, ServiceState,
};
use bellwether_core::rollout::RevisionNumber;
use bellwether_core::signal::{Change, ResourceSample, ResourceSource};
use tokio::sync::{mpsc, watch};

#[derive(Default)]
pub(crate) struct ReadyPlatform {
    services: Mutex<HashMap<String, watch::Sender<ServiceState>>>,
    replicas_started: AtomicU32,
}

impl ReadyPlatform {
    fn services(&self) -> MutexGuard<'_, HashMap<String, watch::Sender<ServiceState>>> {
        self.services.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A distinct address in 127.0.0.0/8 for each replica ever started.
    fn next_addr(&self) -> SocketAddr {
        let n = self.replicas_started.fetch_add(1, Ordering::Relaxed);
        SocketAddr::from((Ipv4Addr::from(0x7f00_0000 | (n & 0x00ff_ffff)), 9))
    }
}

impl Platform for ReadyPlatform {
    fn scale(&self, template: &ReplicaTemplate, replicas: u32) {
        let mut services = self.services();
        let channel = services.entry(template.service.clone()).or_default();
        channel.send_if_modified(|revisions| {
            if replicas == 0 {
                return revisions.remove(&template.revision).is_some();
            }
            let revision = revisions.entry(template.revision).or_default();
            let before = revision.clone();
            revision.desired = replicas;
            revision.replicas.truncate(replicas as usize);
            for index in revision.replicas.len() as u32..replicas {
                revision.replicas.push(ReplicaState {
                    index,
                    pid: None,
                    addr: Some(self.next_addr()),
                    phase: ReplicaPhase::Ready,
                    restarts: 0,
                    last_error: None,
                });
            }
            *revision != before
        });
    }

    fn watch(&self, service: &str) -> watch::Receiver<ServiceState> {
        self.services()
            .entry(service.to_owned())
            .or_default()
            .subscribe()
    }

    /// Its replicas write nothing: the stream ends at once.
    fn logs(
        &self,
        _service: &str,
        _query: LogQuery,
        _stop: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> mpsc::Receiver<Vec<LogLine>> {
        mpsc::channel(1).1
    }

    fn reap_unclaimed(&self) {}

    fn abandon(&self) {}

    fn shutdown(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async {})
    }
}

impl ResourceSource for ReadyPlatform {
    fn resources(
        &self,
        service: &str,
        revision: RevisionNumber,
        _window: Duration,
    ) -> Option<ResourceSample> {
        let services = self.services();
        let runs = services
            .get(service)
            .is_some_and(|channel| channel.borrow().contains_key(&revision));
        runs.then(ResourceSample::default)
    }

    /// Its replicas are no processes: no reading ever comes.
    fn next_reading(&self, service: &str, revision: RevisionNumber) -> Option<Change> {
        self.resources(service, revision, Duration::ZERO)
            .map(|_| -> Change { Box::pin(std::future::pending()) })
    }
}
