//! The control plane's clock: wall time in milliseconds since the Unix epoch, the instant every
//! stored event carries, so that a restarted control plane goes on from the same instants.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bellwether_core::time::Timestamp;
use tokio::time::Instant;

pub(crate) fn now() -> Timestamp {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_millis(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
}

/// The tokio instant at which the wall clock reads `at` (now, if that has passed).
pub(crate) fn instant_of(at: Timestamp) -> Instant {
    let wait = at.as_millis().saturating_sub(now().as_millis());
    Instant::now() + Duration::from_millis(wait)
}
