//! The platform seam: what the controller needs from whatever runs a service's replicas. The
//! local platform (supervised processes on this machine, `local.rs`) is the default; anything
//! that can run N replicas of a revision and say which are ready can stand in for it.

mod addresses;
mod local;

use std::future::Future;
use std::pin::Pin;

use bellwether_core::platform::{LogLine, LogQuery, ReplicaTemplate, ServiceState};
use bellwether_core::signal::ResourceSource;
use tokio::sync::{mpsc, watch};

pub(crate) use addresses::ReadyReplicas;

/// Runs replicas of revisions and reports what runs. Every call states a desired end, so the
/// controller may repeat one after a restart; the platform's resource readings feed analysis.
pub trait Platform: ResourceSource {
    /// Runs exactly `replicas` replicas of the template's revision (none: stops them all).
    fn scale(&self, template: &ReplicaTemplate, replicas: u32);

    /// What runs of `service`, updated as its replicas start, become ready, fail and stop. A
    /// change to one service wakes only the watchers of that service.
    fn watch(&self, service: &str) -> watch::Receiver<ServiceState>;

    /// The lines `service`'s replicas wrote, in batches: each replica's in turn (the last
    /// `tail` of each), then (following) new lines as they are written, until `stop` resolves
    /// or the receiver is dropped. Replicas that start later join in; rotations lose nothing.
    fn logs(
        &self,
        service: &str,
        query: LogQuery,
        stop: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> mpsc::Receiver<Vec<LogLine>>;

    /// Stops replicas a previous control plane left running that nothing has asked for since;
    /// called once every service has stated what it wants.
    fn reap_unclaimed(&self);

    /// Stops looking after replicas and leaves them running, as a crash would, for the next
    /// control plane to take over.
    fn abandon(&self);

    /// Stops every replica and waits until they are gone.
    fn shutdown(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}
