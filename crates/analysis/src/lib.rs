//! The judge of a rollout: it measures metrics of the new revision (and of the baseline where a
//! condition compares with it), judges every measurement, and turns them into the verdict of an
//! analysis run that the rollout state machine consumes.
//!
//! - [`condition`], [`Measurement`], [`run`] and [`judge`] are pure: values and instants in,
//!   verdicts and messages out. No I/O, no clock, no async runtime.
//! - [`providers`] measure: the router's signals and the platform's resource use (builtin),
//!   Prometheus, web (JSON over HTTP) and job (a command) checks, one folder each.
//! - [`engine`] runs analysis runs on tokio: it schedules measurements, feeds them to a
//!   [`run::Run`], and reports each measurement and the final verdict.

pub mod condition;
pub mod engine;
pub mod judge;
mod measurement;
pub mod providers;
pub mod run;
pub mod sequential;
mod value;

pub use measurement::{Counted, Measurement, Origin, Waiting};
pub use value::{Observation, Role, Sample, Value};
