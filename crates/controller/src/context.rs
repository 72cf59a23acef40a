//! What every service's controller shares: the store, the platform, the analysis engine, the
//! routers' signals and the stream of stored events.

use std::sync::Arc;

use bellwether_analysis::engine::Engine;
use bellwether_api::EventView;
use bellwether_router::Signals;
use bellwether_store::{SqliteStore, StoreError};
use tokio::sync::broadcast;

use crate::ControlError;
use crate::platform::Platform;

#[derive(Clone)]
pub(crate) struct Context {
    pub(crate) store: Arc<SqliteStore>,
    pub(crate) platform: Arc<dyn Platform>,
    pub(crate) engine: Engine,
    pub(crate) signals: Signals,
    pub(crate) events: broadcast::Sender<EventView>,
}

/// Runs a store call off the async threads: SQLite waits for the disk on every commit.
pub(crate) async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ControlError> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|e| ControlError::Internal(format!("the store call did not finish: {e}")))?
        .map_err(store_error)
}

pub(crate) fn store_error(e: StoreError) -> ControlError {
    ControlError::Internal(format!("the store failed: {e}"))
}
