//! bellwether's built-in L7 router: splits one service's HTTP traffic between its revisions by
//! weight and by header, measures every request per revision, and changes its table without
//! dropping a request.
//!
//! The pieces, from the outside in: [`Router`] (`server`) accepts connections and holds the
//! current table; `proxy` routes and forwards one request; `table` is the compiled routing
//! table, swapped whole; `replica` balances a revision's replicas and ejects failing ones;
//! `pool` keeps connections to a replica and `upstream` speaks HTTP/1.1 on them; [`Signals`] keeps every revision's golden signals in
//! rolling windows and is the core's [`bellwether_core::signal::SignalSource`]; [`admin`]
//! and [`metrics`] expose all of it over HTTP.
//!
//! Imports point one way, inwards: no module imports one that uses it. Beneath them all lie
//! `body` (request bodies, which `proxy` makes and `upstream` sends) and `worker` (which router
//! thread runs the caller, set by `server` and read by `pool`).

pub mod admin;
mod body;
mod config;
mod error;
pub mod metrics;
mod pool;
mod proxy;
mod replica;
mod server;
mod signals;
mod socket;
mod spec;
mod table;
mod upstream;
mod worker;

pub use config::RouterConfig;
pub use error::RouterError;
pub use server::Router;
pub use signals::{RevisionSignals, Signals};
pub use spec::{Balance, HeaderRouteSpec, Matcher, MirrorSpec, RevisionSpec, TableSpec};
