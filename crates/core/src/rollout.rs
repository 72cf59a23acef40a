//! The rollout state machine: `(state, event) -> (state, actions)`.
//!
//! A [`Rollout`] holds everything known about one service's release: its stable revision, the
//! revision being rolled out, the current step, the traffic split and the analyses running.
//! [`Rollout::apply`] folds one [`Event`] into it and returns the [`Action`]s that bring the
//! world in line. Actions are absolute ("canary at 25%", "3 replicas of revision 4"), so
//! performing them twice is harmless and replaying the persisted events after a crash
//! resumes exactly where the last event left the rollout.

mod action;
mod blue_green;
mod canary;
mod event;
mod machine;
mod rolling;
pub mod sim;
mod state;
mod types;

pub use action::{Action, Note, describe_step};

/// How an abort by `rollback --all` begins its reason, so that it can be told from one
/// person's abort of one rollout.
pub const EMERGENCY_ROLLBACK: &str = "emergency rollback";
pub use event::{Command, Event, EventKind, Rejected, RolloutSpec};
pub use state::{Rollout, Stage};
pub use types::{Phase, Revision, RevisionNumber, RunId, RunKind, Traffic, Verdict};
