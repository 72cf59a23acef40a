//! The pure core of bellwether's pipelines: what a pipeline declares ([`spec`]), the `${{ }}`
//! expression language ([`expr`]), matrices ([`matrix`]), triggers and their filters
//! ([`trigger`], [`glob`], [`cron`]), manual inputs ([`inputs`]), and the run scheduler as a
//! state machine ([`run`]); plus what every executor shares: secret masking ([`mask`]),
//! workflow commands in a step's output ([`commands`]), line assembly ([`logs`]), the output and env files ([`files`]), environments' protection rules
//! ([`gate`]) and the [`executor`] seam.
//!
//! Nothing here does I/O, reads a clock or needs an async runtime: time arrives inside events
//! and `hashFiles()` through a callback, so a run can be replayed and tested as data.

pub mod commands;
pub mod cron;
pub mod executor;
pub mod expr;
pub mod files;
pub mod gate;
pub mod glob;
pub mod inputs;
pub mod logs;
pub mod mask;
pub mod matrix;
pub mod run;
pub mod spec;
pub mod toolchain;
pub mod trigger;
