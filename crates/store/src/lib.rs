//! bellwether's event store: append-only streams of events, snapshots that shorten replay,
//! and the revision history of each service.
//!
//! Every state change of a rollout (and later of a pipeline run) is an event appended here
//! *before* anything acts on it; a restart rebuilds the state by replaying the stream from its
//! latest snapshot. [`SqliteStore`] keeps everything in one file in the data directory.
//! The [`Store`] trait is synchronous: callers on an async runtime use `spawn_blocking`, which
//! suits both SQLite and a future PostgreSQL adapter. [`RunHistory`] is the same seam for the
//! history of pipeline runs. The `conformance` feature brings the checks every backend of both
//! must pass (the `conformance` module, run with `store_conformance!`).

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod group;
mod record;
mod revisions;
mod rollouts;
mod runs;
mod sqlite;

pub use record::{Record, Snapshot};
pub use revisions::StoredRevision;
pub use rollouts::{Outcome, RolloutLog, kind_of, rollout_stream};
pub use runs::{
    Change, GateRow, InstanceRow, JobRow, NewRun, ReviewError, ReviewRow, RunHistory, RunRow,
    RunStatus, RunStore, Watcher, Watchers, run_stream,
};
pub use sqlite::SqliteStore;

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Someone else appended first: reload the stream and decide again.
    #[error("stream `{stream}` is at event {actual}, not {expected}: it changed underneath")]
    Conflict {
        stream: String,
        expected: u64,
        actual: u64,
    },
    #[error("failed to encode or decode a stored value")]
    Codec(#[from] serde_json::Error),
    #[error("database error")]
    Database(#[from] rusqlite::Error),
    #[error("failed to open the store at {path}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    /// The schema was made by a newer bellwether: opening it with this one could lose data.
    #[error(
        "the store at {at} has schema version {found}, newer than the {known} this bellwether knows: run the bellwether that wrote it, or a newer one"
    )]
    NewerSchema { at: String, found: i64, known: i64 },
    /// A value the backend cannot hold (a time past a signed 64-bit column, say).
    #[error("{what} {value} is larger than the store can hold")]
    OutOfRange { what: &'static str, value: u64 },
    /// An error of a backend other than SQLite, which keeps its own type as the source.
    #[error("database error")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The commit of the group this write was written in (see [`group`]) failed: nothing of
    /// the group was stored.
    #[error("the commit of a group of writes failed")]
    Grouped(#[source] std::sync::Arc<StoreError>),
    /// Another control plane took the lease this handle's writes were fenced with: this one
    /// no longer leads, and nothing it writes is stored.
    #[error(
        "this control plane no longer leads: another took over the store's lease (its token is {current}, this one's {ours}), so its writes are refused"
    )]
    Fenced { ours: u64, current: u64 },
    /// A backend on a server could not be reached; `at` never holds a password.
    #[error("cannot reach the store at {at}")]
    Unreachable {
        at: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The least string above every string that starts with `prefix` in byte order (`run0` for
/// `run/`), so that a backend reads the streams under a prefix as a range of its key; `None`
/// when nothing is above them all (an empty prefix).
pub fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        // UTF-8 keeps the order of code points, so the next one is the next in bytes too.
        if let Some(next) = (last as u32 + 1..=char::MAX as u32).find_map(char::from_u32) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Where events, snapshots and revisions live.
pub trait Store: Send + Sync {
    /// Appends `records` to `stream` if its last sequence number is `expected` (0 for a new
    /// stream), all or nothing. Returns the new last sequence number.
    fn append(&self, stream: &str, expected: u64, records: &[Record]) -> Result<u64, StoreError>;

    /// [`Store::append`], and in the same transaction keeps `state` as the snapshot of the
    /// stream at the new last sequence number: both are stored or neither is.
    fn append_with_snapshot(
        &self,
        stream: &str,
        expected: u64,
        records: &[Record],
        state: &serde_json::Value,
    ) -> Result<u64, StoreError>;

    /// The records of `stream` with a sequence number above `after`, in order.
    fn read(&self, stream: &str, after: u64) -> Result<Vec<Record>, StoreError>;

    /// The last sequence number of `stream`, 0 if it has none.
    fn last_seq(&self, stream: &str) -> Result<u64, StoreError>;

    /// The names of the streams that start with `prefix`.
    fn streams(&self, prefix: &str) -> Result<Vec<String>, StoreError>;

    /// Keeps `snapshot` as the state of its stream up to its sequence number.
    fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError>;

    /// The latest snapshot of `stream`.
    fn snapshot(&self, stream: &str) -> Result<Option<Snapshot>, StoreError>;

    /// Records a new revision of `service` and returns it with its number (one more than the
    /// highest so far).
    fn add_revision(
        &self,
        service: &str,
        version: &str,
        template: &serde_json::Value,
        at_ms: u64,
    ) -> Result<StoredRevision, StoreError>;

    /// The revisions of `service`, oldest first.
    fn revisions(&self, service: &str) -> Result<Vec<StoredRevision>, StoreError>;

    /// Forgets all but the newest `keep` revisions of `service`, except those in `pinned`.
    fn prune_revisions(&self, service: &str, keep: u32, pinned: &[u64]) -> Result<u64, StoreError>;

    /// Removes the events recorded before `before_ms` of every stream whose name starts with
    /// `prefix`, except each stream's last, which keeps its position (so an append goes on
    /// numbering after it); returns how many. For streams read whole, never a rollout's,
    /// whose snapshot and the events after it rebuild its state. Snapshots are untouched.
    fn forget_events(&self, prefix: &str, before_ms: u64) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_prefix_ends_below_the_next_string_in_byte_order() {
        assert_eq!(super::prefix_end("run/").as_deref(), Some("run0"));
        assert_eq!(super::prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        // The code points reserved for UTF-16's surrogates are skipped.
        assert_eq!(super::prefix_end("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(super::prefix_end("\u{10FFFF}"), None);
        assert_eq!(super::prefix_end(""), None);
    }
}
