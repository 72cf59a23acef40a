//! The seam between running a pipeline and where its steps run, the contract an executor
//! crate (the host's processes, one day containers) implements.
//!
//! Steps run through pipeline-core's [`Executor`]: [`Driver`](crate::Driver) needs no more of
//! an executor than to run one step and to hash the workspace's files. An
//! [`Attempt`](crate::Attempt) prepares what every executor shares (the workspace, scratch
//! space, the cache and artifact stores, where deploy steps go; each job instance's workspace
//! is made by the driver before its first step) and asks a [`Launcher`] for
//! the executor of its steps in that [`Site`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use bellwether_pipeline_core::executor::Executor;
use bellwether_pipeline_core::expr::Value;

use crate::artifacts::Artifacts;
use crate::cache::Cache;
use crate::deploy::Deployer;
use crate::git::SourceCommit;
use crate::untrusted::RunAs;

/// Where one attempt's steps run, prepared by the attempt.
/// Each step says which workspace it works in (`StepRequest::workspace`): every job instance
/// has its own.
pub struct Site {
    /// Scratch space for scripts and output files, removed with the attempt.
    pub scratch: PathBuf,
    /// Space only the runner may touch (the steps' process groups), even when the steps run
    /// as another user; the scratch space otherwise.
    pub private: PathBuf,
    /// The user steps run as, for an untrusted run; the runner's own otherwise.
    pub run_as: Option<RunAs>,
    /// An untrusted run: no deploys, and no shared cache or artifact store.
    pub untrusted: bool,
    pub cache: Cache,
    pub artifacts: Artifacts,
    /// Where deploy steps start rollouts; without one they are stand-ins.
    pub deployer: Option<Arc<dyn Deployer>>,
    /// Who deploy steps deploy as.
    pub deployed_by: String,
    /// The run the steps belong to: a deploy step presents it as the gate its job passed.
    pub run: u64,
    /// The commit the workspace holds, which deploy steps name as their version's source.
    pub commit: Option<SourceCommit>,
}

/// Makes the executor of each attempt: what an executor crate implements for its steps to be
/// run by [`Attempt`](crate::Attempt), for `bellwether run` and the control plane alike.
pub trait Launcher {
    type Executor: Executor + 'static;

    /// The `runner` context the attempt's steps see (`runner.os`, `runner.temp`, …).
    fn runner(&self, site: &Site) -> BTreeMap<String, Value>;

    /// The executor of one attempt, whose steps run in `site`.
    fn executor(&self, site: Site) -> Self::Executor;
}
