//! What a control plane runs on besides its store: the platform, the clock, and who hears of
//! the routing tables it applies. [`crate::ControlPlane::start`] runs on the local platform
//! and the system clock; tests swap in fakes to script a rollout on tokio's paused clock.

use std::sync::Arc;

use bellwether_router::TableSpec;

use crate::clock::Clock;
use crate::platform::Platform;

/// Given to [`crate::ControlPlane::start_on`].
pub struct Seams {
    pub platform: Arc<dyn Platform>,
    pub clock: Clock,
    /// Hears of every routing table a router takes, in the order they take them.
    pub tables: Option<Arc<dyn TableObserver>>,
}

impl Seams {
    /// `platform`, on the system clock, with nobody hearing of routing tables.
    pub fn new(platform: Arc<dyn Platform>) -> Self {
        Self {
            platform,
            clock: Clock::system(),
            tables: None,
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
