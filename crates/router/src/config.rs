//! Timeouts and limits of a router; the defaults suit a service on loopback or a LAN.

use std::time::Duration;

/// How long the router waits for what, and how much it accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterConfig {
    /// Connecting to a replica; past it the replica is ejected and the request may be retried.
    pub connect_timeout: Duration,
    /// From sending a request to receiving the response's head; past it the client gets 504.
    pub response_timeout: Duration,
    /// A response body that brings no data for this long is cut off: the client sees the
    /// response end in error instead of waiting on a stalled backend for ever.
    pub body_idle_timeout: Duration,
    /// A client must send a whole request head within this (slowloris defence); an idle
    /// keep-alive connection is closed after it too.
    pub header_read_timeout: Duration,
    /// The largest request head accepted; a larger one gets 431.
    pub max_header_bytes: usize,
    /// The first ejection of a failing replica lasts this long, doubling with each further
    /// consecutive failure up to `max_ejection`.
    pub base_ejection: Duration,
    pub max_ejection: Duration,
    /// Idle keep-alive connections kept per replica.
    pub max_idle_per_replica: usize,
    /// An HTTP/2 client connection that moves no byte either way for this long is told
    /// GOAWAY and closes once its open streams end. (An idle HTTP/1.1 connection is closed
    /// after `header_read_timeout`.)
    pub idle_timeout: Duration,
    /// Client connections served at once, across the router's threads. Past it, new
    /// connections wait in the listen queue until one closes.
    pub max_connections: usize,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(30),
            body_idle_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            base_ejection: Duration::from_millis(500),
            max_ejection: Duration::from_secs(30),
            max_idle_per_replica: 256,
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
        }
    }
}
