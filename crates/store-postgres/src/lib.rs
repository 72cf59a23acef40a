//! bellwether's store in PostgreSQL: the event store ([`PgStore`], the `Store` seam) and the
//! history of pipeline runs ([`PgRunStore`], the `RunHistory` seam), with the semantics the
//! SQLite backend has and `bellwether_store::conformance` checks.
//!
//! Both seams are synchronous. Each handle runs its own small tokio runtime on a thread of its
//! own, with a pool of connections; a call hands its work to that thread and waits for the
//! answer, so a caller on any thread (an async worker included) may call it, as it may call
//! SQLite. [`Target`] is where the database is, never showing its password.

mod db;
mod events;
mod lease;
mod runs;
mod schema;
mod target;
#[cfg(feature = "testing")]
pub mod testing;

pub use events::PgStore;
pub use lease::{Claim, Holder, Leases};
pub use runs::PgRunStore;
pub use schema::SCHEMA_VERSION;
pub use target::Target;
