//! The `Executor` seam: what runs a resolved step. The host executor runs scripts as
//! process groups; containers or Kubernetes Jobs would be other implementations of the same
//! trait. Nothing here needs an async runtime: a step is just a future.

use std::future::Future;
use std::pin::Pin;

use crate::expr::WorkspaceFiles;
use crate::run::{StepOutcome, StepRequest};

/// Resolves when the step should stop: the run was cancelled, or fail-fast fired.
pub type Cancel = Pin<Box<dyn Future<Output = ()> + Send>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Where a step's output goes, as it is produced. The sink, not the executor, cuts it into
/// lines and masks secrets, so that every executor gets that right by construction.
pub trait LogSink: Send {
    fn write(&mut self, stream: Stream, bytes: &[u8]);
    /// A line from the executor itself, e.g. that a tool is missing.
    fn note(&mut self, text: &str);
    /// Markdown the step wrote to `$GITHUB_STEP_SUMMARY`, kept with its job's summary.
    fn summary(&mut self, _markdown: &str) {}
    /// The step is over: flush what is left.
    fn finish(&mut self);
}

/// Runs steps. `hash_files_in` answers `hashFiles()` against the workspace a step runs in.
pub trait Executor: WorkspaceFiles + Send + Sync {
    /// Runs one step to its end, writing its output to `log` as it comes, and stops it early
    /// (killing what it started) when `cancel` resolves.
    fn run_step(
        &self,
        request: StepRequest,
        log: Box<dyn LogSink>,
        cancel: Cancel,
    ) -> impl Future<Output = StepOutcome> + Send;
}
