//! The Prometheus provider: PromQL over Prometheus' HTTP API, instant queries for measurements
//! and range queries for series. Every result type is handled explicitly: a scalar or a
//! one-element vector is a number, a vector of several is a list, and an empty vector or a NaN
//! is "no data", never a crash nor a failure.

mod api;
mod provider;

pub use api::{QueryResult, RangeSeries};
pub use provider::{Prometheus, PrometheusProvider};

#[cfg(test)]
mod tests;
