//! The embedded store: one SQLite file, written with full durability before anything acts.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::group::{self, Group};
use crate::{Record, Snapshot, Store, StoreError, StoredRevision};

/// The schema's migrations, in order: the database is at version n (`PRAGMA user_version`)
/// once the first n have run, each in the transaction that sets its version. A database at a
/// higher version than this binary knows is refused. (Run history's tables are created apart,
/// `IF NOT EXISTS`, by `runs/sqlite.rs`.)
const MIGRATIONS: &[&str] = &[SCHEMA_V1];

const SCHEMA_V1: &str = "
CREATE TABLE events (
    stream TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (stream, seq)
) WITHOUT ROWID;
CREATE TABLE snapshots (
    stream TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE revisions (
    service TEXT NOT NULL,
    number INTEGER NOT NULL,
    version TEXT NOT NULL,
    template TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (service, number)
) WITHOUT ROWID;
";

/// Refuses a database whose schema version `found` is past what this binary knows.
fn known(at: String, found: i64) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    if found > known {
        return Err(StoreError::NewerSchema { at, found, known });
    }
    Ok(())
}

/// Every connection's settings. The busy timeout comes first: switching a new file to WAL
/// takes a lock that another process opening it at the same moment may hold, and without a
/// timeout the switch fails at once ("database is locked"). WAL lets readers proceed while a
/// writer commits; FULL sync makes a committed event survive power loss, not just a crash,
/// before any action is taken on it.
pub(crate) const PRAGMAS: &str =
    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;";

/// Runs `open` again while SQLite says the database is locked, for as long as the busy
/// timeout. Processes creating one file at once race in ways SQLite answers with "database is
/// locked" at once, without waiting out the busy timeout (switching a new file to WAL, say).
pub(crate) fn opening<T>(mut open: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match open() {
            Err(e) if is_busy(&e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            done => return done,
        }
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Events, snapshots and revisions in one SQLite database.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// Writes waiting to be committed together (see [`group`]).
    writes: Group<Write, Result<u64, StoreError>>,
    /// Whether writes are grouped, or each committed on its own.
    grouped: bool,
}

/// One write as the group's writer needs it: owned, its values encoded by the caller. Each
/// answers a number: an append its stream's new last position, a revision its number, a
/// pruning how many revisions it removed, a forgetting how many events.
enum Write {
    Append {
        stream: String,
        expected: u64,
        rows: Vec<(u64, String, String)>,
        snapshot: Option<String>,
    },
    Revision {
        service: String,
        version: String,
        template: String,
        at_ms: u64,
    },
    Prune {
        service: String,
        keep: u32,
        pinned: Vec<u64>,
    },
    Forget {
        prefix: String,
        before_ms: u64,
    },
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_error = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        let (store, found) = opening(|| {
            let conn = Connection::open(path)?;
            conn.execute_batch(PRAGMAS)?;
            Self::migrate(conn)
        })
        .map_err(open_error)?;
        known(path.display().to_string(), found)?;
        Ok(store)
    }

    /// A store that lives in memory, for tests and simulations.
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory()?;
        Ok(Self::migrate(conn)?.0)
    }

    /// Runs the migrations the database lacks; the version it was at.
    fn migrate(mut conn: Connection) -> Result<(Self, i64), rusqlite::Error> {
        // The version is read under the write lock: of two processes creating the file at
        // once, the second waits, then finds the schema made.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        for (done, migration) in MIGRATIONS.iter().enumerate() {
            if version <= done as i64 {
                tx.execute_batch(migration)?;
                tx.pragma_update(None, "user_version", done as i64 + 1)?;
            }
        }
        tx.commit()?;
        let store = Self {
            conn: Mutex::new(conn),
            writes: Group::new(group::MOST, group::lost),
            grouped: true,
        };
        Ok((store, version))
    }

    /// Commits each write on its own instead of grouping those that arrive together: the
    /// baseline that measures what grouping gains.
    pub fn ungrouped(mut self) -> Self {
        self.grouped = false;
        self
    }

    /// Appends `records`, with `state` as the snapshot at the new last position when given,
    /// in the next group's transaction.
    fn append_keeping(
        &self,
        stream: &str,
        expected: u64,
        records: &[Record],
        state: Option<&serde_json::Value>,
    ) -> Result<u64, StoreError> {
        let rows = records
            .iter()
            .map(|r| Ok((r.at_ms, r.kind.clone(), serde_json::to_string(&r.body)?)))
            .collect::<Result<_, StoreError>>()?;
        self.write(Write::Append {
            stream: stream.to_owned(),
            expected,
            rows,
            snapshot: state.map(serde_json::to_string).transpose()?,
        })
    }

    /// Does `write` in the next group's transaction.
    fn write(&self, write: Write) -> Result<u64, StoreError> {
        if !self.grouped {
            return self
                .write_group(vec![write])
                .pop()
                .unwrap_or_else(group::lost);
        }
        self.writes.submit(write, |writes| self.write_group(writes))
    }

    /// Writes a group in one transaction, each write in a savepoint of its own: one that
    /// conflicts or fails is undone alone, and the others are committed. A failed commit fails
    /// them all.
    fn write_group(&self, writes: Vec<Write>) -> Vec<Result<u64, StoreError>> {
        let n = writes.len();
        let mut conn = self.conn();
        let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => return group::all_failed(e.into(), n),
        };
        if let [write] = writes.as_slice() {
            // Alone, the transaction is the write's own: a failure rolls it back.
            let written =
                write_in(&tx, write).and_then(|answer| Ok(tx.commit().map(|()| answer)?));
            return vec![written];
        }
        let mut answers = Vec::with_capacity(n);
        for write in &writes {
            match in_savepoint(&tx, write) {
                Ok(answer) => answers.push(answer),
                Err(e) => return group::all_failed(e, n),
            }
        }
        match tx.commit() {
            Ok(()) => answers,
            Err(e) => group::all_failed(e.into(), n),
        }
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (it is transactional),
        // so a poisoned lock is still safe to use.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn last_seq(conn: &Connection, stream: &str) -> Result<u64, rusqlite::Error> {
    conn.query_row(
        "SELECT COALESCE(MAX(seq), 0) FROM events WHERE stream = ?1",
        [stream],
        |r| r.get(0),
    )
}

/// Does `write` in a savepoint of `tx`, undone alone if it fails: its answer, or the error
/// that leaves nothing of the transaction to commit.
fn in_savepoint(tx: &Connection, write: &Write) -> Result<Result<u64, StoreError>, StoreError> {
    // Cached: a group runs these for each of its writes.
    tx.prepare_cached("SAVEPOINT write")?.execute([])?;
    let written = write_in(tx, write);
    if let Err(e) = written {
        // SQLite rolls a whole transaction back on some errors (a full disk, I/O).
        if tx.is_autocommit() {
            return Err(e);
        }
        tx.prepare_cached("ROLLBACK TO write")?.execute([])?;
        tx.prepare_cached("RELEASE write")?.execute([])?;
        return Ok(Err(e));
    }
    tx.prepare_cached("RELEASE write")?.execute([])?;
    Ok(written)
}

/// Does `write` in `tx`; its answer.
fn write_in(tx: &Connection, write: &Write) -> Result<u64, StoreError> {
    match write {
        Write::Append {
            stream,
            expected,
            rows,
            snapshot,
        } => append_in(tx, stream, *expected, rows, snapshot.as_deref()),
        Write::Revision {
            service,
            version,
            template,
            at_ms,
        } => {
            let number: u64 = tx.query_row(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM revisions WHERE service = ?1",
                [service],
                |r| r.get(0),
            )?;
            tx.prepare_cached(
                "INSERT INTO revisions (service, number, version, template, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![service, number, version, template, at_ms])?;
            Ok(number)
        }
        Write::Prune {
            service,
            keep,
            pinned,
        } => {
            let numbers: Vec<u64> = tx
                .prepare_cached("SELECT number FROM revisions WHERE service = ?1 ORDER BY number")?
                .query_map([service], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let cut = numbers.len().saturating_sub(*keep as usize);
            let mut delete =
                tx.prepare_cached("DELETE FROM revisions WHERE service = ?1 AND number = ?2")?;
            let mut pruned = 0;
            for number in numbers[..cut].iter().filter(|n| !pinned.contains(n)) {
                delete.execute(params![service, number])?;
                pruned += 1;
            }
            Ok(pruned)
        }
        Write::Forget { prefix, before_ms } => {
            // The prefix as a range of the key: the streams under it, not the whole table.
            let end = crate::prefix_end(prefix);
            let below = if end.is_some() { "AND stream < ?3" } else { "" };
            let forgotten = tx
                .prepare_cached(&format!(
                    "DELETE FROM events WHERE stream >= ?1 {below} AND at_ms < ?2
                     AND seq < (SELECT MAX(seq) FROM events AS last WHERE last.stream = events.stream)"
                ))?
                .execute(rusqlite::params_from_iter(
                    [
                        Some(rusqlite::types::Value::Text(prefix.clone())),
                        Some(rusqlite::types::Value::Integer(
                            (*before_ms).min(i64::MAX as u64) as i64,
                        )),
                        end.map(rusqlite::types::Value::Text),
                    ]
                    .into_iter()
                    .flatten(),
                ))?;
            Ok(forgotten as u64)
        }
    }
}

/// Appends in `tx` if the stream is at `expected`, with the snapshot at the new last position
/// if there is one; that position.
fn append_in(
    tx: &Connection,
    stream: &str,
    expected: u64,
    rows: &[(u64, String, String)],
    snapshot: Option<&str>,
) -> Result<u64, StoreError> {
    let actual = last_seq(tx, stream)?;
    if actual != expected {
        return Err(StoreError::Conflict {
            stream: stream.to_owned(),
            expected,
            actual,
        });
    }
    let mut seq = actual;
    let mut insert = tx.prepare_cached(
        "INSERT INTO events (stream, seq, at_ms, kind, body) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (at_ms, kind, body) in rows {
        seq += 1;
        insert.execute(params![stream, seq, at_ms, kind, body])?;
    }
    if let Some(body) = snapshot {
        keep_snapshot(tx, stream, seq, body)?;
    }
    Ok(seq)
}

/// Keeps `snapshot` unless a newer one of its stream is kept already.
fn save_snapshot(conn: &Connection, snapshot: &Snapshot) -> Result<(), StoreError> {
    let body = serde_json::to_string(&snapshot.body)?;
    keep_snapshot(conn, &snapshot.stream, snapshot.seq, &body)
}

fn keep_snapshot(conn: &Connection, stream: &str, seq: u64, body: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO snapshots (stream, seq, body) VALUES (?1, ?2, ?3)
         ON CONFLICT (stream) DO UPDATE SET seq = excluded.seq, body = excluded.body
         WHERE excluded.seq > snapshots.seq",
    )?
    .execute(params![stream, seq, body])?;
    Ok(())
}

impl Store for SqliteStore {
    fn append(&self, stream: &str, expected: u64, records: &[Record]) -> Result<u64, StoreError> {
        self.append_keeping(stream, expected, records, None)
    }

    fn append_with_snapshot(
        &self,
        stream: &str,
        expected: u64,
        records: &[Record],
        state: &serde_json::Value,
    ) -> Result<u64, StoreError> {
        self.append_keeping(stream, expected, records, Some(state))
    }

    fn read(&self, stream: &str, after: u64) -> Result<Vec<Record>, StoreError> {
        read(&self.conn(), stream, after)
    }

    fn last_seq(&self, stream: &str) -> Result<u64, StoreError> {
        Ok(last_seq(&self.conn(), stream)?)
    }

    fn streams(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut select = conn.prepare_cached(
            "SELECT DISTINCT stream FROM events WHERE substr(stream, 1, length(?1)) = ?1 ORDER BY stream",
        )?;
        let rows = select.query_map([prefix], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        save_snapshot(&self.conn(), snapshot)
    }

    fn snapshot(&self, stream: &str) -> Result<Option<Snapshot>, StoreError> {
        let row = self
            .conn()
            .query_row(
                "SELECT seq, body FROM snapshots WHERE stream = ?1",
                [stream],
                |r| Ok((r.get::<_, u64>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?;
        row.map(|(seq, body)| {
            Ok(Snapshot {
                stream: stream.to_owned(),
                seq,
                body: serde_json::from_str(&body)?,
            })
        })
        .transpose()
    }

    fn add_revision(
        &self,
        service: &str,
        version: &str,
        template: &serde_json::Value,
        at_ms: u64,
    ) -> Result<StoredRevision, StoreError> {
        let number = self.write(Write::Revision {
            service: service.to_owned(),
            version: version.to_owned(),
            template: serde_json::to_string(template)?,
            at_ms,
        })?;
        Ok(StoredRevision {
            service: service.to_owned(),
            number,
            version: version.to_owned(),
            template: template.clone(),
            created_at_ms: at_ms,
        })
    }

    fn revisions(&self, service: &str) -> Result<Vec<StoredRevision>, StoreError> {
        let conn = self.conn();
        let mut select = conn.prepare_cached(
            "SELECT number, version, template, created_at_ms FROM revisions WHERE service = ?1 ORDER BY number",
        )?;
        let rows = select.query_map([service], |r| {
            Ok((
                r.get::<_, u64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, u64>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (number, version, template, created_at_ms) = row?;
            let template = serde_json::from_str(&template)?;
            out.push(StoredRevision {
                service: service.to_owned(),
                number,
                version,
                template,
                created_at_ms,
            });
        }
        Ok(out)
    }

    fn prune_revisions(&self, service: &str, keep: u32, pinned: &[u64]) -> Result<u64, StoreError> {
        self.write(Write::Prune {
            service: service.to_owned(),
            keep,
            pinned: pinned.to_vec(),
        })
    }

    fn forget_events(&self, prefix: &str, before_ms: u64) -> Result<u64, StoreError> {
        self.write(Write::Forget {
            prefix: prefix.to_owned(),
            before_ms,
        })
    }
}

/// The events of `stream` after position `after`, oldest first: what every reader of the
/// `events` table (rollouts and pipeline runs alike) goes through.
pub(crate) fn read(conn: &Connection, stream: &str, after: u64) -> Result<Vec<Record>, StoreError> {
    let mut select = conn.prepare_cached(
        "SELECT seq, at_ms, kind, body FROM events WHERE stream = ?1 AND seq > ?2 ORDER BY seq",
    )?;
    let rows = select.query_map(params![stream, after], |r| {
        Ok((
            r.get::<_, u64>(0)?,
            r.get::<_, u64>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, at_ms, kind, body) = row?;
        out.push(Record {
            seq,
            at_ms,
            kind,
            body: serde_json::from_str(&body)?,
        });
    }
    Ok(out)
}
