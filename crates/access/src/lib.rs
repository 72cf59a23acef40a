//! Who may do what, and the record of what was done, kept in the event store. The pure half
//! (roles, permissions, identities, audit entries and their chain) is the core's
//! [`bellwether_core::access`]; this crate keeps them:
//!
//! - [`tokens`]: bearer tokens, shown once and stored as their SHA-256 digest (stream
//!   `access/tokens`), created, listed, revoked, expiring; an [`Identity`] comes from a token,
//!   the only source of who acts on the control plane.
//! - [`audit`]: the append-only audit trail (stream `audit`), each entry sealed with the hash
//!   of the one before.
//!
//! Both live in the [`Store`](bellwether_store::Store), so a second store backend keeps them
//! with no change here.

pub mod audit;
pub mod tokens;

pub use audit::AuditLog;
pub use bellwether_core::access::audit::{Broken, Entry, Outcome, Sealed, verify};
pub use bellwether_core::access::{Grant, Identity, Permission, Role, TokenInfo};
pub use tokens::{Denied, Secret, Tokens};

/// Why the access records could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("the store failed")]
    Store(#[from] bellwether_store::StoreError),
    #[error("a stored access record cannot be read")]
    Codec(#[from] serde_json::Error),
    #[error("the system's random number generator failed")]
    Random(#[source] getrandom::Error),
    #[error("a token named `{0}` exists; revoke it first or choose another name")]
    NameTaken(String),
    #[error("no token named `{0}`")]
    UnknownToken(String),
    #[error("a token name is 1 to 64 letters, digits, `-`, `_`, `.` or `@`, and `{0}` is not one")]
    BadName(String),
    #[error("a group name is 1 to 64 letters, digits, `-`, `_`, `.` or `@`, and `{0}` is not one")]
    BadGroup(String),
}
