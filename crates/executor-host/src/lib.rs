//! bellwether's pipelines on this machine: [`Workspace`] prepares a clean checkout for a run,
//! [`HostExecutor`] runs each step (scripts as process groups with a clean environment,
//! timeouts that kill the whole group, the local [`Cache`] and [`Artifacts`] stores, deploy
//! stand-ins), and [`Driver`] plays a run's state machine against an executor, streaming
//! every step's output, line by line and masked, to its log file and to an [`Observer`].
//!
//! The driver works with any [`Executor`](bellwether_pipeline_core::executor::Executor); the
//! host executor is the one that exists today.

mod artifacts;
mod attempt;
mod cache;
mod concurrency;
mod copy;
mod data;
mod deploy;
mod driver;
mod gates;
mod git;
mod history;
mod host;
mod outputs;
mod process;
mod replay;
mod secrets;
mod sink;
mod walk;
mod workspace;

pub use artifacts::Artifacts;
pub use attempt::{Attempt, AttemptError, Finished, Prepared, Settings};
pub use cache::Cache;
pub use concurrency::GroupHold;
pub use data::{DataDir, DataError, RunLock};
pub use deploy::{DeployOrder, Deployed, Deployer};
pub use driver::{Control, Driver, Observer, instance_log_dir};
pub use gates::{Gates, Reviews};
pub use git::Repo;
pub use history::{History, StoreReviews, now_ms};
pub use host::{HostConfig, HostExecutor};
pub use process::Groups;
pub use replay::Replay;
pub use secrets::{SecretError, SecretInfo, SecretStore};
pub use workspace::{Checkout, Workspace, WorkspaceError};
