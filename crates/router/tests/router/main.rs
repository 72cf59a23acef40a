//! The router against real servers on loopback: routing, reliability under load while the
//! table changes, bad input from clients and backends, and the fallback to the stable revision
//! of requests a broken revision never received.

mod admin;
mod bad_input;
mod fallback;
mod framing;
mod limits;
mod reliability;
mod routing;
mod support;
