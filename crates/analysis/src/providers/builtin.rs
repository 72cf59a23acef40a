//! The built-in provider: the router's per-revision golden signals (success rate, error rate,
//! latency quantiles, request rate) and the platform's CPU and memory. It reads in-memory
//! windows, so measuring is cheap enough to do several times a second.

mod provider;

pub use provider::BuiltinProvider;

#[cfg(test)]
mod tests;
