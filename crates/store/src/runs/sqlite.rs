//! Run history in SQLite: this module's own tables, created when it opens the file so that
//! they never depend on the version of the rest of the schema, beside the shared events
//! table that holds each run's stream.

mod rows;
mod schema;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::{
    Change, GateRow, InstanceRow, JobRow, NewRun, ReviewError, ReviewRow, RunHistory, RunRow,
    Watcher, Watchers, run_stream,
};
use crate::{Record, SqliteStore, StoreError};

/// Run history in SQLite.
pub struct RunStore {
    conn: Mutex<Connection>,
    watchers: Watchers,
}

impl RunStore {
    /// Opens (creating if needed) the store at `path` and this module's tables in it.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        // The shared schema (the events table) comes from the store itself.
        drop(SqliteStore::open(path)?);
        let open_error = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        let conn = crate::sqlite::opening(|| {
            let conn = Connection::open(path)?;
            conn.execute_batch(crate::sqlite::PRAGMAS)?;
            conn.execute_batch(schema::TABLES)?;
            Ok(conn)
        })
        .map_err(open_error)?;
        Ok(Self {
            conn: Mutex::new(conn),
            watchers: Watchers::default(),
        })
    }

    fn changed(&self, number: u64) {
        self.watchers.changed(number);
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // SQLite is transactional: a panic while holding the lock leaves nothing half-written.
        lock(&self.conn)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl RunHistory for RunStore {
    fn watch(&self, watcher: Watcher) {
        self.watchers.add(watcher);
    }

    fn create(&self, run: &NewRun, floor: u64) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let last: u64 = tx.query_row("SELECT COALESCE(MAX(number), 0) FROM runs", [], |r| {
            r.get(0)
        })?;
        let number = (last + 1).max(floor);
        tx.execute(
            "INSERT INTO runs (number, pipeline, attempt, status, actor, summary, sha, trigger, started_ms)
             VALUES (?1, ?2, 0, 'running', ?3, ?4, '', ?5, ?6)",
            params![
                number,
                run.pipeline,
                run.actor,
                run.summary,
                serde_json::to_string(&run.trigger)?,
                run.at_ms
            ],
        )?;
        let body = serde_json::json!({
            "pipeline": run.pipeline,
            "actor": run.actor,
            "summary": run.summary,
        });
        append(&tx, number, run.at_ms, "created", &body)?;
        tx.commit()?;
        drop(conn);
        self.changed(number);
        Ok(number)
    }

    fn start_attempt(
        &self,
        number: u64,
        attempt: u32,
        actor: &str,
        sha: &str,
        at_ms: u64,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE runs SET attempt = ?2, sha = ?3, status = 'running', finished_ms = NULL
             WHERE number = ?1",
            params![number, attempt, sha],
        )?;
        let body = serde_json::json!({ "attempt": attempt, "actor": actor, "sha": sha });
        append(&tx, number, at_ms, "started", &body)?;
        tx.commit()?;
        drop(conn);
        self.changed(number);
        Ok(())
    }

    fn record(&self, number: u64, changes: &[Change]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for change in changes {
            rows::apply(&tx, number, change)?;
        }
        tx.commit()?;
        drop(conn);
        self.changed(number);
        Ok(())
    }

    fn run(&self, number: u64) -> Result<Option<RunRow>, StoreError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                &format!("{} WHERE number = ?1", rows::SELECT_RUN),
                [number],
                rows::run_row,
            )
            .optional()?;
        Ok(row)
    }

    fn list(&self, pipeline: Option<&str>, limit: u32) -> Result<Vec<RunRow>, StoreError> {
        let conn = self.conn();
        let mut select = conn.prepare_cached(&format!(
            "{} WHERE ?1 IS NULL OR pipeline = ?1 ORDER BY number DESC LIMIT ?2",
            rows::SELECT_RUN
        ))?;
        let rows = select.query_map(params![pipeline, limit], rows::run_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn unfinished(&self) -> Result<Vec<RunRow>, StoreError> {
        let conn = self.conn();
        let mut select = conn.prepare_cached(&format!(
            "{} WHERE status IN ('running', 'waiting', 'queued') ORDER BY number",
            rows::SELECT_RUN
        ))?;
        let rows = select.query_map([], rows::run_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn interrupt(&self, number: u64, at_ms: u64, why: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = tx.execute(
            "UPDATE runs SET status = 'interrupted', finished_ms = ?2
             WHERE number = ?1 AND status IN ('running', 'waiting', 'queued')",
            params![number, at_ms],
        )?;
        if changed > 0 {
            tx.execute(
                "UPDATE run_gates SET state = 'interrupted', decided_ms = ?2
                 WHERE run = ?1 AND state = 'waiting'",
                params![number, at_ms],
            )?;
            append(
                &tx,
                number,
                at_ms,
                "interrupted",
                &serde_json::json!({ "why": why }),
            )?;
        }
        tx.commit()?;
        drop(conn);
        if changed > 0 {
            self.changed(number);
        }
        Ok(changed > 0)
    }

    fn jobs(&self, number: u64, attempt: u32) -> Result<Vec<JobRow>, StoreError> {
        let conn = self.conn();
        let mut select = conn.prepare_cached(
            "SELECT job, position, name, conclusion, message, outputs, reused_from
             FROM run_jobs WHERE run = ?1 AND attempt = ?2 ORDER BY position",
        )?;
        let rows = select.query_map(params![number, attempt], rows::job_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn instances(&self, number: u64, attempt: u32) -> Result<Vec<InstanceRow>, StoreError> {
        let conn = self.conn();
        let mut select = conn.prepare_cached(
            "SELECT job, idx, position, name, status, job_attempt, started_ms, finished_ms, message, steps, logs
             FROM run_instances WHERE run = ?1 AND attempt = ?2 ORDER BY position, idx",
        )?;
        let rows = select.query_map(params![number, attempt], rows::instance_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn gates(&self, number: u64, attempt: u32) -> Result<Vec<GateRow>, StoreError> {
        let conn = self.conn();
        let mut select = conn.prepare_cached(
            "SELECT job, idx, environment, since_ms, state, decided_ms
             FROM run_gates WHERE run = ?1 AND attempt = ?2 ORDER BY since_ms, job, idx",
        )?;
        let rows = select.query_map(params![number, attempt], rows::gate_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn review(&self, review: &ReviewRow) -> Result<(), ReviewError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let state: Option<(u32, String)> = tx
            .query_row(
                "SELECT attempt, status FROM runs WHERE number = ?1",
                [review.run],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((attempt, status)) = state else {
            return Err(ReviewError::NoRun(review.run));
        };
        let waiting: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM run_gates
             WHERE run = ?1 AND attempt = ?2 AND environment = ?3 AND state = 'waiting')",
            params![review.run, attempt, review.environment],
            |r| r.get(0),
        )?;
        if !waiting {
            return Err(ReviewError::NotWaiting(format!(
                "run {} ({status}) is not waiting for environment `{}`",
                review.run, review.environment
            )));
        }
        let inserted = tx.execute(
            "INSERT INTO run_reviews (run, attempt, environment, by, approved, comment, at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
            params![
                review.run,
                attempt,
                review.environment,
                review.by,
                review.approved,
                review.comment,
                review.at_ms
            ],
        )?;
        if inserted == 0 {
            let approved: bool = tx.query_row(
                "SELECT approved FROM run_reviews WHERE run = ?1 AND attempt = ?2 AND environment = ?3 AND by = ?4",
                params![review.run, attempt, review.environment, review.by],
                |r| r.get(0),
            )?;
            return Err(ReviewError::Twice {
                run: review.run,
                environment: review.environment.clone(),
                by: review.by.clone(),
                approved,
            });
        }
        let kind = if review.approved {
            "approved"
        } else {
            "rejected"
        };
        let body = serde_json::json!({
            "attempt": attempt,
            "environment": review.environment,
            "by": review.by,
            "comment": review.comment,
        });
        append(&tx, review.run, review.at_ms, kind, &body)?;
        tx.commit()?;
        drop(conn);
        self.changed(review.run);
        Ok(())
    }

    fn reviews(
        &self,
        number: u64,
        attempt: u32,
        environment: Option<&str>,
    ) -> Result<Vec<ReviewRow>, StoreError> {
        let conn = self.conn();
        let mut select = conn.prepare_cached(
            "SELECT run, environment, by, approved, comment, at_ms FROM run_reviews
             WHERE run = ?1 AND attempt = ?2 AND (?3 IS NULL OR environment = ?3) ORDER BY at_ms, by",
        )?;
        let rows = select.query_map(params![number, attempt, environment], rows::review_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn events(&self, number: u64) -> Result<Vec<Record>, StoreError> {
        crate::sqlite::read(&self.conn(), &run_stream(number), 0)
    }

    fn claim_delivery(
        &self,
        id: &str,
        at_ms: u64,
        forget_before_ms: u64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM webhook_deliveries WHERE received_ms < ?1",
            params![forget_before_ms.min(i64::MAX as u64)],
        )?;
        let claimed = tx.execute(
            "INSERT INTO webhook_deliveries (id, received_ms) VALUES (?1, ?2)
             ON CONFLICT (id) DO NOTHING",
            params![id, at_ms],
        )?;
        tx.commit()?;
        Ok(claimed == 1)
    }

    fn release_delivery(&self, id: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM webhook_deliveries WHERE id = ?1", params![id])?;
        Ok(())
    }

    fn forget_finished(
        &self,
        before_ms: u64,
        limit: u32,
        except: &[u64],
    ) -> Result<Vec<u64>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // The numbers as text: a JSON number past a signed 64-bit integer would not compare.
        let except: Vec<String> = except.iter().map(u64::to_string).collect();
        let doomed: Vec<u64> = tx
            .prepare_cached(
                "SELECT number FROM runs AS r
                 WHERE status NOT IN ('running', 'waiting', 'queued') AND finished_ms < ?1
                 AND number < (SELECT MAX(number) FROM runs AS l WHERE l.pipeline = r.pipeline)
                 AND CAST(number AS TEXT) NOT IN (SELECT value FROM json_each(?3))
                 ORDER BY number LIMIT ?2",
            )?
            .query_map(
                params![
                    before_ms.min(i64::MAX as u64),
                    limit,
                    serde_json::to_string(&except)?
                ],
                |r| r.get(0),
            )?
            .collect::<Result<_, _>>()?;
        for number in &doomed {
            for table in ["run_jobs", "run_instances", "run_gates", "run_reviews"] {
                tx.prepare_cached(&format!("DELETE FROM {table} WHERE run = ?1"))?
                    .execute([number])?;
            }
            tx.prepare_cached("DELETE FROM events WHERE stream = ?1")?
                .execute([run_stream(*number)])?;
            tx.prepare_cached("DELETE FROM runs WHERE number = ?1")?
                .execute([number])?;
        }
        tx.commit()?;
        Ok(doomed)
    }
}

/// Appends one event to the run's stream, in the caller's transaction.
fn append(
    tx: &Transaction<'_>,
    number: u64,
    at_ms: u64,
    kind: &str,
    body: &serde_json::Value,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO events (stream, seq, at_ms, kind, body)
         SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, ?4 FROM events WHERE stream = ?1",
        params![
            run_stream(number),
            at_ms,
            kind,
            serde_json::to_string(body)?
        ],
    )?;
    Ok(())
}
