//! Tasks that end with their owner: a control plane that is dropped (or crashes) leaves no
//! controller or listener running behind it.

use std::future::Future;

use tokio::task::JoinHandle;

/// A spawned task, aborted when this handle is dropped.
pub(crate) struct Task(JoinHandle<()>);

impl Task {
    pub(crate) fn spawn(future: impl Future<Output = ()> + Send + 'static) -> Self {
        Self(tokio::spawn(future))
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}
