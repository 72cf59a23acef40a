//! The local platform: each revision of a service runs as N supervised processes on loopback
//! ports, on the machine that runs the control plane.
//!
//! A replica is told its port through the environment variable its service names, probed over
//! HTTP for readiness and liveness, restarted with back-off when it exits, and stopped
//! gracefully (SIGTERM to its process group, a grace period, then SIGKILL). Its output goes
//! straight to a log file that is rotated in place, so a replica outlives a control plane that
//! crashes: the next control plane finds it again through the replica's state file and adopts
//! it instead of starting another. [`LocalPlatform::state`] publishes what runs where, for the
//! router and the rollout controller.

mod adopt;
mod logs;
mod platform;
mod probe;
mod procfs;
mod resources;

pub use bellwether_core::platform::{
    LogLine, LogQuery, PlatformState, ReplicaPhase, ReplicaState, ReplicaTemplate, RevisionKey,
    RevisionState, ServiceState,
};
pub use platform::{LocalPlatform, Options};

/// The program name that stands for bellwether's own binary in a command
/// ([`Options::own_program`]).
pub const OWN_PROGRAM: &str = "bellwether";
