//! The router against real servers on loopback: routing, reliability under load while the
//! table changes, and bad input from clients and backends.

mod admin;
mod bad_input;
mod framing;
mod limits;
mod reliability;
mod routing;
mod support;
