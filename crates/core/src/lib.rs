//! The pure core of bellwether: what a project declares ([`spec`]), how a rollout
//! proceeds ([`rollout`]) and what its history adds up to ([`dora`]).
//!
//! Nothing here does I/O, reads a clock or needs an async runtime. Time arrives as data
//! inside events ([`time::Timestamp`]) and decisions leave as [`rollout::Action`]s that
//! adapters perform, so every behaviour can be replayed and tested with a fake clock.

pub mod access;
pub mod dora;
pub mod error;
pub mod json_path;
pub mod notify;
pub mod placeholder;
pub mod platform;
pub mod rollout;
pub mod signal;
pub mod spec;
pub mod time;
