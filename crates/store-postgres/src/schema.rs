//! The schema's migrations, applied in order when a handle opens: the database is at version
//! n (table `bellwether_schema`) once the first n have run. Openers wait for each other on an
//! advisory lock, so of many opening a new database at once one migrates and the others find
//! it done; a database at a version this binary does not know is refused.

use bellwether_store::StoreError;
use deadpool_postgres::Object;

use crate::db::{backend, lock};

/// Text columns that are keys are compared and ordered byte by byte (`COLLATE "C"`), as SQLite
/// does, whatever the database's locale: streams list in byte order.
const V1: &str = r#"
CREATE TABLE events (
    stream TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    CONSTRAINT events_pkey PRIMARY KEY (stream, seq)
);
CREATE TABLE snapshots (
    stream TEXT COLLATE "C" PRIMARY KEY,
    seq BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE revisions (
    service TEXT COLLATE "C" NOT NULL,
    number BIGINT NOT NULL,
    version TEXT NOT NULL,
    template TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (service, number)
);
CREATE TABLE runs (
    number BIGINT PRIMARY KEY,
    pipeline TEXT COLLATE "C" NOT NULL,
    attempt BIGINT NOT NULL,
    status TEXT NOT NULL,
    actor TEXT NOT NULL,
    summary TEXT NOT NULL,
    sha TEXT NOT NULL,
    trigger TEXT NOT NULL,
    started_ms BIGINT NOT NULL,
    finished_ms BIGINT
);
CREATE INDEX runs_by_status ON runs (status);
CREATE TABLE run_jobs (
    run BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    job TEXT COLLATE "C" NOT NULL,
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    conclusion TEXT,
    message TEXT,
    outputs TEXT NOT NULL,
    reused_from BIGINT,
    PRIMARY KEY (run, attempt, job)
);
CREATE TABLE run_instances (
    run BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    job TEXT COLLATE "C" NOT NULL,
    idx BIGINT NOT NULL,
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    job_attempt BIGINT NOT NULL,
    started_ms BIGINT,
    finished_ms BIGINT,
    message TEXT,
    steps TEXT NOT NULL,
    logs TEXT,
    PRIMARY KEY (run, attempt, job, idx)
);
CREATE TABLE run_gates (
    run BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    job TEXT COLLATE "C" NOT NULL,
    idx BIGINT NOT NULL,
    environment TEXT COLLATE "C" NOT NULL,
    since_ms BIGINT NOT NULL,
    state TEXT NOT NULL,
    decided_ms BIGINT,
    PRIMARY KEY (run, attempt, job, idx)
);
CREATE TABLE run_reviews (
    run BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    environment TEXT COLLATE "C" NOT NULL,
    reviewer TEXT COLLATE "C" NOT NULL,
    approved BOOLEAN NOT NULL,
    comment TEXT,
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (run, attempt, environment, reviewer)
);
CREATE TABLE webhook_deliveries (
    id TEXT COLLATE "C" PRIMARY KEY,
    received_ms BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_by_age ON webhook_deliveries (received_ms);
"#;

/// The lease of the control plane that leads (see `lease.rs`): the holder, the token its
/// writes carry (one more at each new holder), and until when it holds by the database's clock.
const V2: &str = r#"
CREATE TABLE leases (
    name TEXT COLLATE "C" PRIMARY KEY,
    holder TEXT NOT NULL,
    token BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    address TEXT NOT NULL
);
"#;

/// Each pipeline's runs by number: its latest (which retention keeps) and `runs --pipeline`.
const V3: &str = r#"
CREATE INDEX runs_by_pipeline ON runs (pipeline, number);
"#;

const MIGRATIONS: &[&str] = &[V1, V2, V3];

/// The schema version this binary makes and knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database to [`SCHEMA_VERSION`], or refuses one past it.
pub(crate) async fn migrate(mut client: Object, at: String) -> Result<(), StoreError> {
    let tx = client.transaction().await.map_err(backend)?;
    tx.execute("SELECT pg_advisory_xact_lock($1, 0)", &[&lock::SCHEMA])
        .await
        .map_err(backend)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS bellwether_schema (version BIGINT NOT NULL)")
        .await
        .map_err(backend)?;
    let found: Option<i64> = tx
        .query_opt("SELECT version FROM bellwether_schema", &[])
        .await
        .map_err(backend)?
        .map(|row| row.get(0));
    let found = found.unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            at,
            found,
            known: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    for migration in &MIGRATIONS[found.max(0) as usize..] {
        tx.batch_execute(migration).await.map_err(backend)?;
    }
    tx.execute("DELETE FROM bellwether_schema", &[])
        .await
        .map_err(backend)?;
    tx.execute(
        "INSERT INTO bellwether_schema (version) VALUES ($1)",
        &[&SCHEMA_VERSION],
    )
    .await
    .map_err(backend)?;
    tx.commit().await.map_err(backend)
}
