//! Pipelines in the control plane: what starts a run when nobody types `bellwether run`.
//!
//! - [`webhook`]: deliveries in GitHub's format, refused unless signed with the shared secret
//!   (`X-Hub-Signature-256`, compared in constant time); `push` and `pull_request` payloads
//!   become the event the pipelines' `on:` filters judge.
//! - [`watch::poll`]: a repository (a local path, or a URL fetched into the data directory)
//!   looked at periodically; a branch that moved or a new tag is a push.
//! - [`schedule::schedule`]: `schedule` crons, each minute, on the default branch.
//! - [`Pipelines::dispatch`]: `manual` runs through the API, with typed inputs.
//! - [`Pipelines::review`]: an identity's approval or rejection of a run's gates.
//!
//! Each becomes runs through [`Pipelines`], which starts them on the control plane's runtime
//! with the same attempt, history and locks as `bellwether run`, and counts them for the
//! control plane's `/metrics` ([`Pipelines::metrics`]).

mod listen;
mod metrics;
mod pipelines;
mod review;
pub mod schedule;
mod source;
pub mod watch;
pub mod webhook;

pub use listen::{RunChange, RunEvent, RunListener};
pub use pipelines::{
    Config, DELIVERY_RETENTION, Pipelines, Skipped, Started, TriggerError, Triggered,
};
pub use review::environment_spec;
pub use source::{GitError, Source, SourceError};
