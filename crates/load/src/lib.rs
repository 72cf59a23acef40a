//! `bellwether load`: a k6-compatible load generator. A pure half reads a load file into a
//! [`Plan`] (`file`, `plan`, `template`), computes the executors' schedules (`schedule`), keeps
//! the metrics (`metrics`), judges thresholds (`threshold`), and writes the summary (`summary`)
//! and `--out json` lines (`out`); an async half (`engine`, `client`) sends the requests on
//! tokio, as HTTP/1.1 of its own (`bellwether-http1`'s framing). [`Generator`] is the seam for other crates: a steady, capped request rate
//! at one address.

pub mod client;
pub mod duration;
pub mod engine;
mod file;
pub mod generator;
pub mod metrics;
pub mod out;
pub mod plan;
pub mod schedule;
pub mod summary;
pub mod template;
pub mod threshold;
mod workers;

pub use client::{Connect, Tcp};
pub use engine::{Handle, Options, Progress, Report, Run};
pub use generator::{Generator, Sent, Traffic};
pub use plan::{LoadError, Plan, load};
pub use workers::Workers;
