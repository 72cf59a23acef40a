//! Run history in PostgreSQL: the run tables beside the shared events table that holds each
//! run's stream. Calls that change a run hold its advisory lock for their transaction, and a
//! new run's number is taken under a lock of its own, so writers in several processes take
//! turns as SQLite's single writer makes them.

mod rows;

use bellwether_store::{
    Change, GateRow, InstanceRow, JobRow, NewRun, Record, ReviewError, ReviewRow, RunHistory,
    RunRow, StoreError, Watcher, Watchers, run_stream,
};
use deadpool_postgres::Object;
use tokio_postgres::GenericClient;

use crate::db::{Db, backend, int, lock, nat};
use crate::{Target, lease};

/// Run history in a PostgreSQL database.
pub struct PgRunStore {
    db: Db,
    watchers: Watchers,
    /// The lease token every write must still hold, when this handle is a leader's.
    fence: Option<u64>,
}

impl std::fmt::Debug for PgRunStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgRunStore({})", self.db.at)
    }
}

impl PgRunStore {
    /// Connects to `target` and brings its schema up to date.
    pub fn open(target: &Target) -> Result<Self, StoreError> {
        let db = Db::open(target)?;
        let at = db.at.clone();
        db.call(move |client| crate::schema::migrate(client, at))?;
        Ok(Self {
            db,
            watchers: Watchers::default(),
            fence: None,
        })
    }

    /// Refuses every write (`StoreError::Fenced`) once the lease is no longer `token`'s, as
    /// [`PgStore::fenced`](crate::PgStore::fenced) does.
    pub fn fenced(mut self, token: u64) -> Self {
        self.fence = Some(token);
        self
    }

    /// `result`, once the watchers are told that run `number` changed if it is a success.
    fn told<T, E>(&self, number: u64, result: Result<T, E>) -> Result<T, E> {
        if result.is_ok() {
            self.watchers.changed(number);
        }
        result
    }

    /// A transaction on a pooled connection, refused unless this handle's fence still holds.
    async fn begin(
        client: &mut Object,
        fence: Option<u64>,
    ) -> Result<deadpool_postgres::Transaction<'_>, StoreError> {
        let tx = client.transaction().await.map_err(backend)?;
        lease::check(&*tx, fence).await?;
        Ok(tx)
    }

    /// Runs `work` in a transaction that holds run `number`'s lock, and commits it. The caller
    /// tells the watchers, if it changed the run.
    fn change<T, E, F>(&self, number: u64, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: for<'t> FnOnce(
                &'t tokio_postgres::Transaction<'t>,
            ) -> std::pin::Pin<
                Box<dyn std::future::Future<Output = Result<T, E>> + Send + 't>,
            > + Send
            + 'static,
    {
        // Runs whose numbers agree in their low 32 bits share a lock: they only take turns.
        let key = number as i32;
        let fence = self.fence;
        self.db.call(move |mut client: Object| async move {
            let tx = Self::begin(&mut client, fence).await?;
            tx.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&lock::RUN, &key])
                .await
                .map_err(backend)?;
            let done = work(&tx).await?;
            tx.commit().await.map_err(backend)?;
            Ok(done)
        })
    }
}

/// Appends one event to the run's stream, in the caller's transaction (which holds the run's
/// lock, so the next position is its own).
pub(crate) async fn append(
    tx: &impl GenericClient,
    number: i64,
    at_ms: u64,
    kind: &str,
    body: &serde_json::Value,
) -> Result<(), StoreError> {
    let stream = run_stream(number as u64);
    tx.execute(
        "INSERT INTO events (stream, seq, at_ms, kind, body)
         SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4 FROM events WHERE stream = $1",
        &[
            &stream,
            &int("a time", at_ms)?,
            &kind,
            &serde_json::to_string(body)?,
        ],
    )
    .await
    .map_err(backend)?;
    Ok(())
}

impl RunHistory for PgRunStore {
    fn watch(&self, watcher: Watcher) {
        self.watchers.add(watcher);
    }

    fn create(&self, run: &NewRun, floor: u64) -> Result<u64, StoreError> {
        let run = run.clone();
        let floor = int("a run number", floor)?;
        let trigger = serde_json::to_string(&run.trigger)?;
        let at = int("a time", run.at_ms)?;
        let fence = self.fence;
        let number = self.db.call::<u64, StoreError, _, _>(move |mut client| async move {
            let tx = Self::begin(&mut client, fence).await?;
            tx.execute("SELECT pg_advisory_xact_lock($1, 0)", &[&lock::NEW_RUN])
                .await
                .map_err(backend)?;
            let last: i64 = tx
                .query_one("SELECT COALESCE(MAX(number), 0) FROM runs", &[])
                .await
                .map_err(backend)?
                .get(0);
            let number = (last + 1).max(floor);
            tx.execute(
                "INSERT INTO runs (number, pipeline, attempt, status, actor, summary, sha, trigger, started_ms)
                 VALUES ($1, $2, 0, 'running', $3, $4, '', $5, $6)",
                &[&number, &run.pipeline, &run.actor, &run.summary, &trigger, &at],
            )
            .await
            .map_err(backend)?;
            let body = serde_json::json!({
                "pipeline": run.pipeline,
                "actor": run.actor,
                "summary": run.summary,
            });
            append(&*tx, number, run.at_ms, "created", &body).await?;
            tx.commit().await.map_err(backend)?;
            Ok(number as u64)
        })?;
        self.watchers.changed(number);
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
        let (actor, sha) = (actor.to_owned(), sha.to_owned());
        let n = int("a run number", number)?;
        let changed = self.change(number, move |tx| {
            Box::pin(async move {
                tx.execute(
                    "UPDATE runs SET attempt = $2, sha = $3, status = 'running', finished_ms = NULL
                     WHERE number = $1",
                    &[&n, &i64::from(attempt), &sha],
                )
                .await
                .map_err(backend)?;
                let body = serde_json::json!({ "attempt": attempt, "actor": actor, "sha": sha });
                append(tx, n, at_ms, "started", &body).await
            })
        });
        self.told(number, changed)
    }

    fn record(&self, number: u64, changes: &[Change]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let changes = changes.to_vec();
        let n = int("a run number", number)?;
        let changed = self.change(number, move |tx| {
            Box::pin(async move {
                for change in &changes {
                    rows::apply(tx, n, change).await?;
                }
                Ok(())
            })
        });
        self.told(number, changed)
    }

    fn run(&self, number: u64) -> Result<Option<RunRow>, StoreError> {
        let Ok(n) = i64::try_from(number) else {
            return Ok(None);
        };
        self.db.call(move |client| async move {
            let row = client
                .query_opt(&format!("{} WHERE number = $1", rows::SELECT_RUN), &[&n])
                .await
                .map_err(backend)?;
            row.map(|r| rows::run_row(&r)).transpose()
        })
    }

    fn list(&self, pipeline: Option<&str>, limit: u32) -> Result<Vec<RunRow>, StoreError> {
        let pipeline = pipeline.map(str::to_owned);
        self.db.call(move |client| async move {
            let rows = client
                .query(
                    &format!(
                        "{} WHERE $1::text IS NULL OR pipeline = $1 ORDER BY number DESC LIMIT $2",
                        rows::SELECT_RUN
                    ),
                    &[&pipeline, &i64::from(limit)],
                )
                .await
                .map_err(backend)?;
            rows.iter().map(rows::run_row).collect()
        })
    }

    fn unfinished(&self) -> Result<Vec<RunRow>, StoreError> {
        self.db.call(move |client| async move {
            let rows = client
                .query(
                    &format!(
                        "{} WHERE status IN ('running', 'waiting', 'queued') ORDER BY number",
                        rows::SELECT_RUN
                    ),
                    &[],
                )
                .await
                .map_err(backend)?;
            rows.iter().map(rows::run_row).collect()
        })
    }

    fn interrupt(&self, number: u64, at_ms: u64, why: &str) -> Result<bool, StoreError> {
        let why = why.to_owned();
        let n = int("a run number", number)?;
        let at = int("a time", at_ms)?;
        let changed = self.change(number, move |tx| {
            Box::pin(async move {
                let changed = tx
                    .execute(
                        "UPDATE runs SET status = 'interrupted', finished_ms = $2
                         WHERE number = $1 AND status IN ('running', 'waiting', 'queued')",
                        &[&n, &at],
                    )
                    .await
                    .map_err(backend)?;
                if changed > 0 {
                    tx.execute(
                        "UPDATE run_gates SET state = 'interrupted', decided_ms = $2
                         WHERE run = $1 AND state = 'waiting'",
                        &[&n, &at],
                    )
                    .await
                    .map_err(backend)?;
                    append(
                        tx,
                        n,
                        at_ms,
                        "interrupted",
                        &serde_json::json!({ "why": why }),
                    )
                    .await?;
                }
                Ok(changed > 0)
            })
        });
        if matches!(changed, Ok(true)) {
            self.watchers.changed(number);
        }
        changed
    }

    fn jobs(&self, number: u64, attempt: u32) -> Result<Vec<JobRow>, StoreError> {
        let n = number.min(i64::MAX as u64) as i64;
        self.db.call(move |client| async move {
            let rows = client
                .query(
                    "SELECT job, position, name, conclusion, message, outputs, reused_from
                     FROM run_jobs WHERE run = $1 AND attempt = $2 ORDER BY position",
                    &[&n, &i64::from(attempt)],
                )
                .await
                .map_err(backend)?;
            rows.iter().map(rows::job_row).collect()
        })
    }

    fn instances(&self, number: u64, attempt: u32) -> Result<Vec<InstanceRow>, StoreError> {
        let n = number.min(i64::MAX as u64) as i64;
        self.db.call(move |client| async move {
            let rows = client
                .query(
                    "SELECT job, idx, position, name, status, job_attempt, started_ms, finished_ms, message, steps, logs
                     FROM run_instances WHERE run = $1 AND attempt = $2 ORDER BY position, idx",
                    &[&n, &i64::from(attempt)],
                )
                .await
                .map_err(backend)?;
            rows.iter().map(rows::instance_row).collect()
        })
    }

    fn gates(&self, number: u64, attempt: u32) -> Result<Vec<GateRow>, StoreError> {
        let n = number.min(i64::MAX as u64) as i64;
        self.db.call(move |client| async move {
            let rows = client
                .query(
                    "SELECT job, idx, environment, since_ms, state, decided_ms
                     FROM run_gates WHERE run = $1 AND attempt = $2 ORDER BY since_ms, job, idx",
                    &[&n, &i64::from(attempt)],
                )
                .await
                .map_err(backend)?;
            Ok(rows.iter().map(rows::gate_row).collect())
        })
    }

    fn review(&self, review: &ReviewRow) -> Result<(), ReviewError> {
        let review = review.clone();
        let n = int("a run number", review.run)?;
        let at = int("a time", review.at_ms)?;
        let number = review.run;
        let changed = self.change(number, move |tx| {
            Box::pin(async move { rows::review(tx, n, at, &review).await })
        });
        self.told(number, changed)
    }

    fn reviews(
        &self,
        number: u64,
        attempt: u32,
        environment: Option<&str>,
    ) -> Result<Vec<ReviewRow>, StoreError> {
        let n = number.min(i64::MAX as u64) as i64;
        let environment = environment.map(str::to_owned);
        self.db.call(move |client| async move {
            let rows = client
                .query(
                    "SELECT run, environment, reviewer, approved, comment, at_ms FROM run_reviews
                     WHERE run = $1 AND attempt = $2 AND ($3::text IS NULL OR environment = $3)
                     ORDER BY at_ms, reviewer",
                    &[&n, &i64::from(attempt), &environment],
                )
                .await
                .map_err(backend)?;
            Ok(rows.iter().map(rows::review_row).collect())
        })
    }

    fn events(&self, number: u64) -> Result<Vec<Record>, StoreError> {
        let stream = run_stream(number);
        self.db
            .call(move |client| async move { crate::events::read(&**client, &stream, 0).await })
    }

    fn claim_delivery(
        &self,
        id: &str,
        at_ms: u64,
        forget_before_ms: u64,
    ) -> Result<bool, StoreError> {
        let id = id.to_owned();
        let at = int("a time", at_ms)?;
        let forget = forget_before_ms.min(i64::MAX as u64) as i64;
        let fence = self.fence;
        self.db.call(move |mut client| async move {
            let tx = Self::begin(&mut client, fence).await?;
            tx.execute(
                "DELETE FROM webhook_deliveries WHERE received_ms < $1",
                &[&forget],
            )
            .await
            .map_err(backend)?;
            let claimed = tx
                .execute(
                    "INSERT INTO webhook_deliveries (id, received_ms) VALUES ($1, $2)
                     ON CONFLICT (id) DO NOTHING",
                    &[&id, &at],
                )
                .await
                .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
            Ok(claimed == 1)
        })
    }

    fn release_delivery(&self, id: &str) -> Result<(), StoreError> {
        let id = id.to_owned();
        let fence = self.fence;
        self.db.call(move |mut client| async move {
            let tx = Self::begin(&mut client, fence).await?;
            tx.execute("DELETE FROM webhook_deliveries WHERE id = $1", &[&id])
                .await
                .map_err(backend)?;
            tx.commit().await.map_err(backend)
        })
    }

    fn forget_finished(
        &self,
        before_ms: u64,
        limit: u32,
        except: &[u64],
    ) -> Result<Vec<u64>, StoreError> {
        let before = before_ms.min(i64::MAX as u64) as i64;
        // A number past a BIGINT names no run: there is nothing of it to keep.
        let except: Vec<i64> = except
            .iter()
            .filter_map(|&n| i64::try_from(n).ok())
            .collect();
        let fence = self.fence;
        self.db.call(move |mut client| async move {
            let tx = Self::begin(&mut client, fence).await?;
            let candidates: Vec<i64> = tx
                .query(
                    "SELECT number FROM runs AS r
                     WHERE status NOT IN ('running', 'waiting', 'queued') AND finished_ms < $1
                     AND number < (SELECT MAX(number) FROM runs AS l WHERE l.pipeline = r.pipeline)
                     AND number <> ALL($3)
                     ORDER BY number LIMIT $2",
                    &[&before, &i64::from(limit), &except],
                )
                .await
                .map_err(backend)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            // Every change of a run holds its lock: once they are all taken, the statement
            // below sees each run as its last change left it, and keeps one started again.
            for &number in &candidates {
                tx.execute(
                    "SELECT pg_advisory_xact_lock($1, $2)",
                    &[&lock::RUN, &(number as i32)],
                )
                .await
                .map_err(backend)?;
            }
            let doomed: Vec<i64> = tx
                .query(
                    "DELETE FROM runs WHERE number = ANY($1)
                     AND status NOT IN ('running', 'waiting', 'queued') RETURNING number",
                    &[&candidates],
                )
                .await
                .map_err(backend)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            for table in ["run_jobs", "run_instances", "run_gates", "run_reviews"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE run = ANY($1)"),
                    &[&doomed],
                )
                .await
                .map_err(backend)?;
            }
            let streams: Vec<String> = doomed.iter().map(|&n| run_stream(nat(n))).collect();
            tx.execute("DELETE FROM events WHERE stream = ANY($1)", &[&streams])
                .await
                .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
            let mut doomed: Vec<u64> = doomed.into_iter().map(nat).collect();
            doomed.sort_unstable();
            Ok(doomed)
        })
    }
}
