//! The controller against real components: `support/service.py` replicas on the local
//! platform, the built-in routers on loopback ports, the analysis engine and SQLite; in
//! `platform.rs`, on a platform whose replicas are ready at once; and in `scripted.rs`, on
//! tokio's paused clock with every action journaled at its virtual time; in `faults.rs`, on a
//! store that fails when told to.

mod apply;
mod blue_green;
mod canary;
mod cluster_routing;
mod commands;
mod deadline;
mod faults;
mod harness;
mod platform;
#[path = "../support/ready_platform.rs"]
mod ready_platform;
mod restart;
mod rolling;
mod scripted;
