//! A store that fails when told to: the SQLite store behind the seam, with faults armed by the
//! kind of event an append carries (or on the appends that carry a snapshot), each for a number
//! of calls. A fault either refuses the call (nothing is written, as with a full disk) or
//! writes it and answers with an error all the same (the commit landed, its answer was lost).

use std::sync::{Mutex, MutexGuard, PoisonError};

use bellwether_store::{Record, Snapshot, SqliteStore, Store, StoreError, StoredRevision};

/// What an armed fault does to a call it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Writes nothing and fails.
    Refuse,
    /// Writes all and fails.
    Lose,
}

/// Which appends a fault matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// Appends of an event of this kind (`analysis_completed`, `command`, ...).
    Kind(&'static str),
    /// Appends that carry a snapshot.
    Snapshot,
}

struct Fault {
    target: Target,
    mode: Mode,
    left: u32,
}

pub(crate) struct FaultyStore {
    inner: SqliteStore,
    faults: Mutex<Vec<Fault>>,
    /// Every call a fault failed, in order.
    failed: Mutex<Vec<(Target, Mode)>>,
}

impl FaultyStore {
    pub(crate) fn new(inner: SqliteStore) -> Self {
        Self {
            inner,
            faults: Mutex::default(),
            failed: Mutex::default(),
        }
    }

    /// Fails the next `times` calls `target` matches, as `mode` says.
    pub(crate) fn arm(&self, target: Target, mode: Mode, times: u32) {
        lock(&self.faults).push(Fault {
            target,
            mode,
            left: times,
        });
    }

    /// The calls failed so far.
    pub(crate) fn failed(&self) -> Vec<(Target, Mode)> {
        lock(&self.failed).clone()
    }

    /// The armed fault that matches an append of `records`, used up by one.
    fn take(&self, records: &[Record], snapshot: bool) -> Option<(Target, Mode)> {
        let mut faults = lock(&self.faults);
        let fault = faults.iter_mut().find(|f| {
            f.left > 0
                && match f.target {
                    Target::Kind(kind) => records.iter().any(|r| r.kind == kind),
                    Target::Snapshot => snapshot,
                }
        })?;
        fault.left -= 1;
        let taken = (fault.target, fault.mode);
        lock(&self.failed).push(taken);
        Some(taken)
    }

    fn faulty(
        &self,
        records: &[Record],
        snapshot: bool,
        call: impl FnOnce() -> Result<u64, StoreError>,
    ) -> Result<u64, StoreError> {
        match self.take(records, snapshot) {
            None => call(),
            Some((_, Mode::Refuse)) => Err(disk_full()),
            Some((_, Mode::Lose)) => call().and_then(|_| Err(disk_full())),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What SQLite says when the disk is full.
fn disk_full() -> StoreError {
    let code = rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL);
    StoreError::Database(rusqlite::Error::SqliteFailure(
        code,
        Some("database or disk is full".to_owned()),
    ))
}

impl Store for FaultyStore {
    fn append(&self, stream: &str, expected: u64, records: &[Record]) -> Result<u64, StoreError> {
        self.faulty(records, false, || {
            self.inner.append(stream, expected, records)
        })
    }

    fn append_with_snapshot(
        &self,
        stream: &str,
        expected: u64,
        records: &[Record],
        state: &serde_json::Value,
    ) -> Result<u64, StoreError> {
        self.faulty(records, true, || {
            self.inner
                .append_with_snapshot(stream, expected, records, state)
        })
    }

    fn read(&self, stream: &str, after: u64) -> Result<Vec<Record>, StoreError> {
        self.inner.read(stream, after)
    }

    fn last_seq(&self, stream: &str) -> Result<u64, StoreError> {
        self.inner.last_seq(stream)
    }

    fn streams(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.streams(prefix)
    }

    fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        self.inner.save_snapshot(snapshot)
    }

    fn snapshot(&self, stream: &str) -> Result<Option<Snapshot>, StoreError> {
        self.inner.snapshot(stream)
    }

    fn add_revision(
        &self,
        service: &str,
        version: &str,
        template: &serde_json::Value,
        at_ms: u64,
    ) -> Result<StoredRevision, StoreError> {
        self.inner.add_revision(service, version, template, at_ms)
    }

    fn revisions(&self, service: &str) -> Result<Vec<StoredRevision>, StoreError> {
        self.inner.revisions(service)
    }

    fn prune_revisions(&self, service: &str, keep: u32, pinned: &[u64]) -> Result<u64, StoreError> {
        self.inner.prune_revisions(service, keep, pinned)
    }

    fn forget_events(&self, prefix: &str, before_ms: u64) -> Result<u64, StoreError> {
        self.inner.forget_events(prefix, before_ms)
    }
}
