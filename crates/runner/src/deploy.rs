//! The `deploy:` step's seam: starting a rollout and waiting for its verdict is the control
//! plane's business, reached through whatever the binary wires in (its HTTP client). Without
//! one, a deploy step is a stand-in that says so.

use std::future::Future;
use std::pin::Pin;

use bellwether_pipeline_core::executor::LogSink;

use crate::SourceCommit;

/// What a deploy step asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeployOrder {
    pub service: String,
    pub revision: String,
    pub environment: Option<String>,
    /// Who asks, for the rollout's audit trail (e.g. `pipeline release, run 4`).
    pub by: String,
    /// The run whose job passed the environment's gate.
    pub run: u64,
    /// The commit the run checked out, for the lead time of the change.
    pub commit: Option<SourceCommit>,
}

/// A deploy step's end: its outputs when the rollout was promoted, the reason when it was not.
pub type Deployed<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<(String, String)>, String>> + Send + 'a>>;

/// Starts a rollout of `order.service` to `order.revision` and waits until it is promoted
/// (`Ok` with the step's outputs) or aborted (`Err` with the reason), noting its progress.
pub trait Deployer: Send + Sync {
    fn deploy<'a>(&'a self, order: DeployOrder, log: &'a mut dyn LogSink) -> Deployed<'a>;
}
