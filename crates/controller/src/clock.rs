//! The control plane's clock: wall time in milliseconds since the Unix epoch, the instant every
//! stored event carries, so that a restarted control plane goes on from the same instants.
//!
//! It is a seam so that tests can run the controller on tokio's clock: under
//! `tokio::time::pause` the timers and the instants of stored events then move together, only
//! as the test's virtual time does.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bellwether_core::time::Timestamp;
use tokio::time::Instant;

/// Where a control plane reads the time. [`Clock::system`] is what real use runs on.
#[derive(Clone, Copy, Debug)]
pub struct Clock(Source);

#[derive(Clone, Copy, Debug)]
enum Source {
    System,
    /// Reads `origin` at `start`, and moves as tokio's clock does from there.
    Tokio {
        origin: Timestamp,
        start: Instant,
    },
}

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Self {
        Self(Source::System)
    }

    /// Tokio's clock, reading `origin` now; paused, it moves only as the runtime advances it.
    pub fn tokio(origin: Timestamp) -> Self {
        Self(Source::Tokio {
            origin,
            start: Instant::now(),
        })
    }

    /// What the clock reads now, in milliseconds since the Unix epoch.
    pub fn now(&self) -> Timestamp {
        match self.0 {
            Source::System => {
                let since_epoch = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                Timestamp::from_millis(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
            }
            Source::Tokio { origin, start } => origin.after(start.elapsed()),
        }
    }

    /// The tokio instant at which this clock reads `at` (now, if that has passed).
    pub(crate) fn instant_of(&self, at: Timestamp) -> Instant {
        let wait = at.as_millis().saturating_sub(self.now().as_millis());
        Instant::now() + Duration::from_millis(wait)
    }
}
