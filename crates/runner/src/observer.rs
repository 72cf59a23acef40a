//! The observers of a run: the driver, its gates and each step's log report to every
//! [`Observer`] (the history in the store, the terminal), in the order they were given.

use std::sync::Arc;

use bellwether_core::time::Timestamp;
use bellwether_pipeline_core::run::{InstanceId, Run};

/// Who watches a run: the terminal, a test.
pub trait Observer: Send + Sync {
    /// The run changed: a job started or ended, a step began.
    fn update(&self, run: &Run, at: Timestamp);
    /// One line of a step's output, already masked.
    fn line(&self, instance: InstanceId, line: &[u8]);
    /// A line about the run, already masked: skips, retries, gates, failures.
    fn note(&self, instance: Option<InstanceId>, text: &str);
}

/// Hands every observation to each of several observers.
pub(crate) struct Fanout(pub(crate) Vec<Arc<dyn Observer>>);

impl Observer for Fanout {
    fn update(&self, run: &Run, at: Timestamp) {
        self.0.iter().for_each(|o| o.update(run, at));
    }

    fn line(&self, instance: InstanceId, line: &[u8]) {
        self.0.iter().for_each(|o| o.line(instance, line));
    }

    fn note(&self, instance: Option<InstanceId>, text: &str) {
        self.0.iter().for_each(|o| o.note(instance, text));
    }
}
