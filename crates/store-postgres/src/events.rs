//! The event store in PostgreSQL: streams, snapshots and revisions.

use bellwether_store::group::{self, Group};
use bellwether_store::{Record, Snapshot, Store, StoreError, StoredRevision};
use deadpool_postgres::{Object, Transaction};
use tokio_postgres::GenericClient;
use tokio_postgres::types::ToSql;

use crate::db::{Db, backend, int, is_taken, lock, nat};
use crate::{Target, lease};

/// Events, snapshots and revisions in a PostgreSQL database.
pub struct PgStore {
    db: Db,
    /// Writes waiting to be committed together (see [`group`]).
    writes: Group<Write, Result<u64, StoreError>>,
    /// Whether writes are grouped, or each committed on its own.
    grouped: bool,
    /// The lease token every write must still hold, when this handle is a leader's.
    fence: Option<u64>,
}

/// One write as the group's writer needs it. Each answers a number: an append its stream's new
/// last position, a revision its number, a pruning how many revisions it removed, a
/// forgetting how many events.
enum Write {
    Append(Append),
    Revision {
        service: String,
        version: String,
        template: String,
        at_ms: i64,
    },
    Prune {
        service: String,
        keep: u32,
        pinned: Vec<u64>,
    },
    Forget {
        prefix: String,
        before_ms: i64,
    },
}

/// One append as the group's writer needs it: owned, its values checked and encoded by the
/// caller.
struct Append {
    stream: String,
    expected: u64,
    rows: Vec<(i64, String, String)>,
    snapshot: Option<String>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgStore({})", self.db.at)
    }
}

impl PgStore {
    /// Connects to `target` and brings its schema up to date.
    pub fn open(target: &Target) -> Result<Self, StoreError> {
        let db = Db::open(target)?;
        let at = db.at.clone();
        db.call(move |client| crate::schema::migrate(client, at))?;
        Ok(Self {
            db,
            writes: Group::new(group::MOST, group::lost),
            grouped: true,
            fence: None,
        })
    }

    /// Refuses every write (`StoreError::Fenced`) once the lease is no longer `token`'s:
    /// the handle of a control plane that leads with that token (see [`crate::Leases`]).
    pub fn fenced(mut self, token: u64) -> Self {
        self.fence = Some(token);
        self
    }

    /// Commits each write on its own instead of grouping those that arrive together: the
    /// baseline that measures what grouping gains.
    pub fn ungrouped(mut self) -> Self {
        self.grouped = false;
        self
    }

    fn append_keeping(
        &self,
        stream: &str,
        expected: u64,
        records: &[Record],
        state: Option<&serde_json::Value>,
    ) -> Result<u64, StoreError> {
        let rows = records
            .iter()
            .map(|r| Ok((int("a time", r.at_ms)?, r.kind.clone(), encode(&r.body)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.write(Write::Append(Append {
            stream: stream.to_owned(),
            expected,
            rows,
            snapshot: state.map(encode).transpose()?,
        }))
    }

    /// Does `write` in the next group's transaction.
    fn write(&self, write: Write) -> Result<u64, StoreError> {
        let fence = self.fence;
        let commit = |writes: Vec<Write>| {
            let n = writes.len();
            self.db
                .call(move |client| write_group(client, writes, fence))
                .unwrap_or_else(|e| group::all_failed(e, n))
        };
        if !self.grouped {
            // On a connection of its own, beside other callers' commits, as before grouping.
            return commit(vec![write]).pop().unwrap_or_else(group::lost);
        }
        self.writes.submit(write, commit)
    }
}

fn encode(value: &serde_json::Value) -> Result<String, StoreError> {
    Ok(serde_json::to_string(value)?)
}

/// Writes a group in one transaction, each write in a savepoint of its own: one that
/// conflicts or fails is undone alone, and the others are committed. An error outside the
/// writes' own statements (a savepoint, the commit) fails the whole group.
async fn write_group(
    mut client: Object,
    writes: Vec<Write>,
    fence: Option<u64>,
) -> Result<Vec<Result<u64, StoreError>>, StoreError> {
    if let [write] = writes.as_slice() {
        return Ok(vec![write_alone(client, write, fence).await]);
    }
    let appends: Option<Vec<&Append>> = writes
        .iter()
        .map(|w| match w {
            Write::Append(append) => Some(append),
            _ => None,
        })
        .collect();
    if let Some(appends) = appends
        && let Some(answers) = append_at_once(&mut client, &appends, fence).await?
    {
        return Ok(answers);
    }
    let mut tx = client.transaction().await.map_err(backend)?;
    lease::check(&*tx, fence).await?;
    let mut answers = Vec::with_capacity(writes.len());
    for write in &writes {
        let savepoint = tx.savepoint("write").await.map_err(backend)?;
        let answer = match write_in(&savepoint, write).await {
            Ok(seq) => {
                savepoint.commit().await.map_err(backend)?;
                Ok(seq)
            }
            Err(failed) => {
                savepoint.rollback().await.map_err(backend)?;
                match failed {
                    Failed::Taken { stream, expected } => Err(StoreError::Conflict {
                        actual: last_seq(&*tx, &stream).await?,
                        stream,
                        expected,
                    }),
                    Failed::Store(e) => Err(e),
                }
            }
        };
        answers.push(answer);
    }
    tx.commit().await.map_err(backend)?;
    Ok(answers)
}

/// Appends all of `appends` in one transaction, their statements sent together without waiting
/// for each answer (one round trip for the group, not several per append). Each statement
/// checks its stream's position and inserts only if it is the expected one, so a conflict
/// writes nothing and fails nothing else. `None` when a statement failed (a racing handle's
/// row, say): the transaction is rolled back and the group must be written with a savepoint
/// per append instead.
async fn append_at_once(
    client: &mut Object,
    appends: &[&Append],
    fence: Option<u64>,
) -> Result<Option<Vec<Result<u64, StoreError>>>, StoreError> {
    let tx = client.transaction().await.map_err(backend)?;
    lease::check(&*tx, fence).await?;
    let statement = tx
        .prepare_cached(
            "WITH inserted AS (
                 INSERT INTO events (stream, seq, at_ms, kind, body)
                 SELECT $1, $2::bigint + r.ord, r.at_ms, r.kind, r.body
                 FROM unnest($3::bigint[], $4::text[], $5::text[])
                      WITH ORDINALITY AS r(at_ms, kind, body, ord)
                 WHERE (SELECT COALESCE(MAX(seq), 0) FROM events WHERE stream = $1) = $2
                 RETURNING seq
             ), kept AS (
                 INSERT INTO snapshots (stream, seq, body)
                 SELECT $1, MAX(seq), $6::text FROM inserted HAVING COUNT(*) > 0 AND $6::text IS NOT NULL
                 ON CONFLICT (stream) DO UPDATE SET seq = excluded.seq, body = excluded.body
                 WHERE excluded.seq > snapshots.seq
             )
             SELECT COUNT(*) FROM inserted",
        )
        .await
        .map_err(backend)?;
    let mut params = Vec::with_capacity(appends.len());
    for append in appends {
        let expected = int("a position", append.expected)?;
        int("a position", append.expected + append.rows.len() as u64)?;
        let at: Vec<i64> = append.rows.iter().map(|r| r.0).collect();
        let kinds: Vec<&str> = append.rows.iter().map(|r| r.1.as_str()).collect();
        let bodies: Vec<&str> = append.rows.iter().map(|r| r.2.as_str()).collect();
        params.push((expected, at, kinds, bodies, append.snapshot.as_deref()));
    }
    let bound: Vec<[&(dyn ToSql + Sync); 6]> = params
        .iter()
        .zip(appends)
        .map(|((expected, at, kinds, bodies, snapshot), append)| {
            [
                &append.stream as &(dyn ToSql + Sync),
                expected,
                at,
                kinds,
                bodies,
                snapshot,
            ]
        })
        .collect();
    let sent = bound.iter().map(|params| tx.query_one(&statement, params));
    let rows = all(sent.collect()).await;
    let mut answers = Vec::with_capacity(appends.len());
    for (row, append) in rows.into_iter().zip(appends) {
        let Ok(row) = row else {
            return Ok(None);
        };
        let inserted: i64 = row.get(0);
        answers.push(match inserted {
            0 if !append.rows.is_empty() => Err(StoreError::Conflict {
                stream: append.stream.clone(),
                expected: append.expected,
                actual: last_seq(&*tx, &append.stream).await?,
            }),
            _ => Ok(append.expected + append.rows.len() as u64),
        });
    }
    tx.commit().await.map_err(backend)?;
    Ok(Some(answers))
}

/// Runs `futures` together on this task, each polled first in order (so that requests on one
/// connection are sent in that order), and gives their outputs in the same order.
async fn all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(done) => *output = Some(done),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// Writes `write` in a transaction of its own, which a failure rolls back.
async fn write_alone(
    mut client: Object,
    write: &Write,
    fence: Option<u64>,
) -> Result<u64, StoreError> {
    let tx = client.transaction().await.map_err(backend)?;
    lease::check(&*tx, fence).await?;
    match write_in(&tx, write).await {
        Ok(answer) => {
            tx.commit().await.map_err(backend)?;
            Ok(answer)
        }
        Err(Failed::Taken { stream, expected }) => {
            drop(tx);
            Err(StoreError::Conflict {
                actual: last_seq(&**client, &stream).await?,
                stream,
                expected,
            })
        }
        Err(Failed::Store(e)) => Err(e),
    }
}

/// Why an append was not written.
enum Failed {
    /// A racing writer holds one of an append's positions; the stream's position says where
    /// it left it.
    Taken {
        stream: String,
        expected: u64,
    },
    Store(StoreError),
}

impl From<StoreError> for Failed {
    fn from(e: StoreError) -> Self {
        Failed::Store(e)
    }
}

/// Does `write` in `tx`; its answer.
async fn write_in(tx: &Transaction<'_>, write: &Write) -> Result<u64, Failed> {
    match write {
        Write::Append(append) => append_in(tx, append).await,
        Write::Revision {
            service,
            version,
            template,
            at_ms,
        } => {
            lock_revisions(&**tx, service).await?;
            let row = tx
                .query_one(
                    "INSERT INTO revisions (service, number, version, template, created_at_ms)
                     SELECT $1, COALESCE(MAX(number), 0) + 1, $2, $3, $4 FROM revisions WHERE service = $1
                     RETURNING number",
                    &[service, version, template, at_ms],
                )
                .await
                .map_err(backend)?;
            Ok(nat(row.get(0)))
        }
        Write::Prune {
            service,
            keep,
            pinned,
        } => {
            lock_revisions(&**tx, service).await?;
            let numbers: Vec<u64> = revisions(&**tx, service)
                .await?
                .iter()
                .map(|r| r.number)
                .collect();
            let cut = numbers.len().saturating_sub(*keep as usize);
            let doomed: Vec<i64> = numbers[..cut]
                .iter()
                .filter(|n| !pinned.contains(n))
                .map(|&n| n as i64)
                .collect();
            tx.execute(
                "DELETE FROM revisions WHERE service = $1 AND number = ANY($2)",
                &[service, &doomed],
            )
            .await
            .map_err(backend)?;
            Ok(doomed.len() as u64)
        }
        Write::Forget { prefix, before_ms } => {
            // The prefix as a range of the key: the streams under it, not the whole table.
            let end = bellwether_store::prefix_end(prefix);
            let below = if end.is_some() {
                "AND e.stream < $3"
            } else {
                ""
            };
            let delete = format!(
                "DELETE FROM events AS e WHERE e.stream >= $1 {below} AND e.at_ms < $2
                 AND e.seq < (SELECT MAX(seq) FROM events AS last WHERE last.stream = e.stream)"
            );
            let forgotten = match &end {
                Some(end) => tx.execute(&delete, &[prefix, before_ms, end]).await,
                None => tx.execute(&delete, &[prefix, before_ms]).await,
            }
            .map_err(backend)?;
            Ok(forgotten)
        }
    }
}

/// Appends if the stream is at its expected position, with its snapshot if it has one; the new
/// last position. Of writers racing at one position, the first to commit wins; the others'
/// inserts meet its rows (a unique violation).
async fn append_in(tx: &Transaction<'_>, append: &Append) -> Result<u64, Failed> {
    let actual = last_seq(&**tx, &append.stream).await?;
    if actual != append.expected {
        return Err(Failed::Store(StoreError::Conflict {
            stream: append.stream.clone(),
            expected: append.expected,
            actual,
        }));
    }
    let insert = tx
        .prepare_cached(
            "INSERT INTO events (stream, seq, at_ms, kind, body) VALUES ($1, $2, $3, $4, $5)",
        )
        .await
        .map_err(backend)?;
    let mut seq = actual;
    for (at_ms, kind, body) in &append.rows {
        seq += 1;
        let position = int("a position", seq)?;
        if let Err(e) = tx
            .execute(&insert, &[&append.stream, &position, at_ms, kind, body])
            .await
        {
            return Err(match is_taken(&e, "events_pkey") {
                true => Failed::Taken {
                    stream: append.stream.clone(),
                    expected: append.expected,
                },
                false => Failed::Store(backend(e)),
            });
        }
    }
    if let Some(body) = &append.snapshot {
        save_snapshot(&**tx, &append.stream, int("a position", seq)?, body).await?;
    }
    Ok(seq)
}

async fn last_seq(client: &impl GenericClient, stream: &str) -> Result<u64, StoreError> {
    let row = client
        .query_one(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE stream = $1",
            &[&stream],
        )
        .await
        .map_err(backend)?;
    Ok(nat(row.get(0)))
}

/// Keeps a snapshot unless a newer one of its stream is kept already.
async fn save_snapshot(
    client: &impl GenericClient,
    stream: &str,
    seq: i64,
    body: &str,
) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO snapshots (stream, seq, body) VALUES ($1, $2, $3)
             ON CONFLICT (stream) DO UPDATE SET seq = excluded.seq, body = excluded.body
             WHERE excluded.seq > snapshots.seq",
            &[&stream, &seq, &body],
        )
        .await
        .map_err(backend)?;
    Ok(())
}

/// The events of `stream` after position `after`, oldest first: what every reader of the
/// events table (rollouts and pipeline runs alike) goes through.
pub(crate) async fn read(
    client: &impl GenericClient,
    stream: &str,
    after: u64,
) -> Result<Vec<Record>, StoreError> {
    // A position past what a BIGINT holds has nothing after it.
    let Ok(after) = i64::try_from(after) else {
        return Ok(Vec::new());
    };
    let rows = client
        .query(
            "SELECT seq, at_ms, kind, body FROM events WHERE stream = $1 AND seq > $2 ORDER BY seq",
            &[&stream, &after],
        )
        .await
        .map_err(backend)?;
    rows.iter()
        .map(|r| {
            Ok(Record {
                seq: nat(r.get(0)),
                at_ms: nat(r.get(1)),
                kind: r.get(2),
                body: serde_json::from_str(r.get(3))?,
            })
        })
        .collect()
}

impl Store for PgStore {
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
        let stream = stream.to_owned();
        self.db
            .call(move |client| async move { read(&**client, &stream, after).await })
    }

    fn last_seq(&self, stream: &str) -> Result<u64, StoreError> {
        let stream = stream.to_owned();
        self.db
            .call(move |client| async move { last_seq(&**client, &stream).await })
    }

    fn streams(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let prefix = prefix.to_owned();
        self.db.call(move |client| async move {
            let rows = client
                .query(
                    "SELECT DISTINCT stream FROM events WHERE starts_with(stream, $1) ORDER BY stream",
                    &[&prefix],
                )
                .await
                .map_err(backend)?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let stream = snapshot.stream.clone();
        let seq = int("a position", snapshot.seq)?;
        let body = encode(&snapshot.body)?;
        let fence = self.fence;
        self.db.call(move |mut client| async move {
            let tx = client.transaction().await.map_err(backend)?;
            lease::check(&*tx, fence).await?;
            save_snapshot(&*tx, &stream, seq, &body).await?;
            tx.commit().await.map_err(backend)
        })
    }

    fn snapshot(&self, stream: &str) -> Result<Option<Snapshot>, StoreError> {
        let stream = stream.to_owned();
        self.db.call(move |client| async move {
            let row = client
                .query_opt(
                    "SELECT seq, body FROM snapshots WHERE stream = $1",
                    &[&stream],
                )
                .await
                .map_err(backend)?;
            row.map(|r| {
                Ok(Snapshot {
                    seq: nat(r.get(0)),
                    body: serde_json::from_str(r.get(1))?,
                    stream,
                })
            })
            .transpose()
        })
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
            template: encode(template)?,
            at_ms: int("a time", at_ms)?,
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
        let service = service.to_owned();
        self.db
            .call(move |client| async move { revisions(&**client, &service).await })
    }

    fn forget_events(&self, prefix: &str, before_ms: u64) -> Result<u64, StoreError> {
        self.write(Write::Forget {
            prefix: prefix.to_owned(),
            before_ms: before_ms.min(i64::MAX as u64) as i64,
        })
    }

    fn prune_revisions(&self, service: &str, keep: u32, pinned: &[u64]) -> Result<u64, StoreError> {
        self.write(Write::Prune {
            service: service.to_owned(),
            keep,
            pinned: pinned.to_vec(),
        })
    }
}

/// Holds the service's revisions for the transaction: the next number is one more than the
/// highest, which no other writer may take meanwhile.
async fn lock_revisions(client: &impl GenericClient, service: &str) -> Result<(), StoreError> {
    client
        .execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            &[&lock::REVISIONS, &service],
        )
        .await
        .map_err(backend)?;
    Ok(())
}

async fn revisions(
    client: &impl GenericClient,
    service: &str,
) -> Result<Vec<StoredRevision>, StoreError> {
    let rows = client
        .query(
            "SELECT number, version, template, created_at_ms FROM revisions WHERE service = $1 ORDER BY number",
            &[&service],
        )
        .await
        .map_err(backend)?;
    rows.iter()
        .map(|r| {
            Ok(StoredRevision {
                service: service.to_owned(),
                number: nat(r.get(0)),
                version: r.get(1),
                template: serde_json::from_str(r.get(2))?,
                created_at_ms: nat(r.get(3)),
            })
        })
        .collect()
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use std::str::FromStr;
    use std::time::{Duration, Instant};

    use tokio_postgres::NoTls;

    use super::*;
    use crate::testing::Cluster;

    fn append(stream: &str, kind: &str) -> Write {
        Write::Append(Append {
            stream: stream.to_owned(),
            expected: 0,
            rows: vec![(1, kind.to_owned(), "null".to_owned())],
            snapshot: None,
        })
    }

    /// A group sent at once whose first append meets a racing handle's row (uncommitted when
    /// the group is sent) is written again with a savepoint per append: that append is told
    /// the conflict, the other lands.
    #[test]
    fn a_group_that_meets_a_racing_row_is_written_again_append_by_append() {
        const DATABASE: &str = "group_meets_a_racing_row";
        let cluster = Cluster::shared();
        let store = PgStore::open(&cluster.database(DATABASE)).expect("the store opens");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let mut config = tokio_postgres::Config::from_str(&cluster.url(DATABASE)).expect("a URL");
        config.password(cluster.password());
        let racer = runtime.block_on(async {
            let (client, connection) = config.connect(NoTls).await.expect("connected");
            tokio::spawn(connection);
            client
                .batch_execute(
                    "BEGIN; INSERT INTO events (stream, seq, at_ms, kind, body)
                     VALUES ('s', 1, 1, 'racer', 'null')",
                )
                .await
                .expect("the racer's row");
            client
        });
        let group = std::thread::scope(|scope| {
            let group = scope.spawn(|| {
                store.db.call(|client| {
                    write_group(
                        client,
                        vec![append("s", "group"), append("t", "group")],
                        None,
                    )
                })
            });
            // The group waits on the racer's row; then the racer commits.
            let deadline = Instant::now() + Duration::from_secs(30);
            runtime.block_on(async {
                loop {
                    let waiting: i64 = racer
                        .query_one(
                            "SELECT count(*) FROM pg_stat_activity
                             WHERE datname = current_database() AND wait_event_type = 'Lock'",
                            &[],
                        )
                        .await
                        .expect("activity")
                        .get(0);
                    if waiting > 0 {
                        break;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "the group never met the racer's row"
                    );
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                racer.batch_execute("COMMIT").await.expect("committed");
            });
            group.join().expect("the group's thread")
        });
        let answers = group.expect("the group was written");
        assert!(
            matches!(
                &answers[0],
                Err(StoreError::Conflict {
                    expected: 0,
                    actual: 1,
                    ..
                })
            ),
            "{answers:?}"
        );
        assert_eq!(answers[1].as_ref().ok(), Some(&1), "{answers:?}");
        let kinds = |stream| -> Vec<String> {
            store
                .read(stream, 0)
                .expect("read")
                .into_iter()
                .map(|r| r.kind)
                .collect()
        };
        assert_eq!(kinds("s"), ["racer"]);
        assert_eq!(kinds("t"), ["group"]);
    }
}
