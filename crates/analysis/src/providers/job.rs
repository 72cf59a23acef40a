//! The job provider: a command whose exit status is the value (`successCondition: result == 0`),
//! run in its own process group so that a timeout or a stopped analysis kills everything it
//! started, not just the first process.

mod provider;

pub use provider::JobProvider;
