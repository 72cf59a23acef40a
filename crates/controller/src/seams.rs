//! What a control plane runs on: the platform, the clock, who hears of the routing tables it
//! applies, the store when it is not the SQLite file in the data directory, and the cluster's
//! traffic router when there is one.
//! [`crate::ControlPlane::start`] runs on the local platform, the system clock and SQLite;
//! tests swap in fakes to script a rollout on tokio's paused clock, or a store that fails.

use std::sync::Arc;

use bellwether_router::TableSpec;
use bellwether_store::Store;

use crate::clock::Clock;
use crate::platform::Platform;
use crate::traffic::TrafficRouter;

/// Given to [`crate::ControlPlane::start_on`].
pub struct Seams {
    pub platform: Arc<dyn Platform>,
    pub clock: Clock,
    /// Hears of every routing table a router takes, in the order they take them.
    pub tables: Option<Arc<dyn TableObserver>>,
    /// The store, instead of `bellwether.db` in the data directory.
    pub store: Option<Arc<dyn Store>>,
    /// Writes the routing of services whose `trafficRouting` names a cluster router; without
    /// one, such a service is refused.
    pub traffic: Option<Arc<dyn TrafficRouter>>,
}

impl Seams {
    /// `platform`, on the system clock and the data directory's store, with nobody hearing of
    /// routing tables.
    pub fn new(platform: Arc<dyn Platform>) -> Self {
        Self {
            platform,
            clock: Clock::system(),
            tables: None,
            store: None,
            traffic: None,
        }
    }
}

/// Which of a service's listeners a router serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listen {
    /// `listen`
    Main,
    /// `previewListen`
    Preview,
}

/// Hears of routing tables as routers take them: the one thing the controller asks of a router
/// that the platform cannot see.
pub trait TableObserver: Send + Sync {
    fn applied(&self, listen: Listen, table: &TableSpec);
}
