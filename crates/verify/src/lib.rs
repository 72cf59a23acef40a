//! Verification of a running service: a check ([`CheckSpec`]) is one HTTP request or TCP
//! connection (with or without TLS) and what its answer must show; a suite ([`VerifySpec`]) runs
//! its checks in rounds for a while and passes on a minimum success rate.
//!
//! A pure half decides: `judge` (does an answer satisfy a check's expectations) and `tally`
//! (a suite's success-rate rule, which fails as soon as the rate can no longer be met). An async
//! half measures: `http` and `tls` speak to the target, `check` tries one check with its
//! retries, `suite` runs the rounds. Reports ([`report`]) carry every measured value, for
//! people (`Display`) and for machines (`Serialize`).
//!
//! [`CheckSpec`]: bellwether_core::spec::CheckSpec
//! [`VerifySpec`]: bellwether_core::spec::VerifySpec

mod check;
mod http;
mod judge;
pub mod report;
mod suite;
mod tally;
mod tls;

pub use check::{Checker, resolve_url};
pub use judge::parse_json_expect;
pub use report::{CheckReport, Measured, SuiteReport};
pub use suite::{Round, run_suite};
pub use tally::{Decision, Tally};
