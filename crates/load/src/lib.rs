//! `bellwether load`: a k6-compatible load generator. A pure half reads a load file into a
//! [`Plan`] (`file`, `plan`, `template`), computes the executors' schedules (`schedule`), keeps
//! the metrics (`metrics`), judges thresholds (`threshold`) and writes the summary (`summary`);
//! an async half (`engine`, `client`) sends the requests on tokio and hyper. [`Generator`] is
//! the seam for other crates: a steady, capped request rate at one address.

pub mod duration;
mod file;
pub mod metrics;
pub mod plan;
pub mod schedule;
pub mod template;
pub mod threshold;

pub use plan::{LoadError, Plan, load};
