//! bellwether's pipelines, whatever runs their steps: an [`Attempt`] makes one attempt of a
//! run (its secrets, a clean [`Workspace`], the pipeline's concurrency group, the [`History`]
//! in the [`DataDir`]'s store, gates answered from it), and [`Driver`] plays the run's state
//! machine against an executor, streaming every step's output, line by line and masked, to
//! its log file and to each [`Observer`].
//!
//! Where steps run is an executor's business: pipeline-core's
//! [`Executor`](bellwether_pipeline_core::executor::Executor) runs a step, and a [`Launcher`]
//! makes the executor of each attempt in the [`Site`] the attempt prepared.

mod artifacts;
mod attempt;
mod cache;
mod clock;
mod concurrency;
mod copy;
mod data;
mod deploy;
mod driver;
mod executor;
mod gates;
mod git;
mod history;
mod observer;
pub mod orphans;
mod replay;
mod review;
mod secrets;
mod sink;
pub mod untrusted;
mod walk;
mod workspace;

pub use artifacts::{ArtifactError, Artifacts, Uploader};
pub use attempt::{Attempt, AttemptError, Finished, Prepared, Settings};
pub use cache::{Cache, CacheError, Restored};
pub use clock::now_ms;
pub use concurrency::GroupHold;
pub use data::{Cutoffs, DataDir, DataError, RunLock, Swept};
pub use deploy::{DeployOrder, Deployed, Deployer};
pub use driver::{Control, Driver, instance_log_dir};
pub use executor::{Launcher, Site};
pub use gates::{Gates, Reviews};
pub use git::{GitError, Repo, SourceCommit};
pub use history::{History, StoreReviews};
pub use observer::Observer;
pub use replay::Replay;
pub use review::{ReviewOrder, ReviewRefused, Reviewed, review};
pub use secrets::{SecretError, SecretInfo, SecretStore};
pub use sink::SUMMARY;
pub use walk::{FilesError, hash_files};
pub use workspace::{Checkout, Instances, Workspace, WorkspaceError};
