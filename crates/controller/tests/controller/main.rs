//! The controller against real components: `support/service.py` replicas on the local
//! platform, the built-in routers on loopback ports, the analysis engine and SQLite.

mod apply;
mod blue_green;
mod canary;
mod commands;
mod deadline;
mod harness;
mod restart;
mod rolling;
