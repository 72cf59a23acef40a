//! The verify provider: a suite of checks (`bellwether-verify`) against a ready replica of the
//! revision under analysis, whose outcome is the value: 1 when the suite passed, 0 when it
//! failed, with its summary and the failed checks as the measurement's detail.

mod provider;

pub use provider::VerifyProvider;
