//! What can be wrong with a routing table or a router's set-up.

use std::net::SocketAddr;

/// A routing table the router refuses, or a listener it could not open.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error("revision `{0}` is declared twice")]
    DuplicateRevision(String),
    #[error("revision number {0} is used by two revisions")]
    DuplicateNumber(u64),
    #[error("no revision is named `{name}` (known: {known})")]
    UnknownRevision { name: String, known: String },
    #[error("weights sum to {sum_bp} basis points; they must sum to 10000 (100%) or be all zero")]
    WeightsDoNotSum { sum_bp: u32 },
    #[error("weights given for {given} sum to more than 100%")]
    WeightsOverFull { given: String },
    #[error("weight `{text}` is invalid: {reason}")]
    BadWeight { text: String, reason: String },
    #[error("`{0}` is not a valid header name")]
    BadHeaderName(String),
    #[error("regex `{pattern}` does not compile: {reason}")]
    BadRegex { pattern: String, reason: String },
    #[error(
        "the admin API would listen on {0}, off loopback, without a token: anyone reaching it could send live traffic anywhere (PUT /table); give --admin-token or BELLWETHER_ROUTER_ADMIN_TOKEN, or listen on 127.0.0.1"
    )]
    AdminUnprotected(SocketAddr),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}
