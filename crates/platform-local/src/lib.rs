//! The local platform: each revision of a service runs as N supervised processes on loopback
//! ports, on the machine that runs the control plane.
//!
//! A replica is told its port through the environment variable its service names, probed over
//! HTTP for readiness and liveness, restarted with back-off when it exits, and stopped
//! gracefully (SIGTERM to its process group, a grace period, then SIGKILL). Its output goes
//! through a pipe to a log writer of its own, which stamps each line with its time and appends
//! it to a log file rotated in place; in the bellwether binary the writer is a process
//! ([`LOG_WRITER`]), so a replica and its log outlive a control plane that crashes: the next
//! control plane finds the replica again through its state file and adopts it instead of
//! starting another. [`LocalPlatform::state`] publishes what runs where, for the
//! router and the rollout controller.

mod adopt;
mod logs;
mod platform;
mod probe;
mod resources;

pub use bellwether_core::platform::{
    LogLine, LogQuery, PlatformState, ReplicaPhase, ReplicaState, ReplicaTemplate, RevisionKey,
    RevisionState, ServiceState,
};
pub use logs::{Rotation, write_log};
pub use platform::{LocalPlatform, Options};

/// The program name that stands for bellwether's own binary in a command
/// ([`Options::own_program`]).
pub const OWN_PROGRAM: &str = "bellwether";

/// The subcommand of bellwether's own binary that runs a replica's log writer: `bellwether
/// log-writer FILE --max-bytes N --keep N`, the replica's output on its standard input
/// ([`write_log`]).
pub const LOG_WRITER: &str = "log-writer";
