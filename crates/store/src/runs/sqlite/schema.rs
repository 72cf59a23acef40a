//! The tables of run history. `IF NOT EXISTS` makes opening idempotent.

pub(super) const TABLES: &str = "
CREATE TABLE IF NOT EXISTS runs (
    number INTEGER PRIMARY KEY,
    pipeline TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status TEXT NOT NULL,
    actor TEXT NOT NULL,
    summary TEXT NOT NULL,
    sha TEXT NOT NULL,
    trigger TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    finished_ms INTEGER
);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status);
CREATE INDEX IF NOT EXISTS runs_by_pipeline ON runs (pipeline, number);
CREATE TABLE IF NOT EXISTS run_jobs (
    run INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    job TEXT NOT NULL,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    conclusion TEXT,
    message TEXT,
    outputs TEXT NOT NULL,
    reused_from INTEGER,
    PRIMARY KEY (run, attempt, job)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run_instances (
    run INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    job TEXT NOT NULL,
    idx INTEGER NOT NULL,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    job_attempt INTEGER NOT NULL,
    started_ms INTEGER,
    finished_ms INTEGER,
    message TEXT,
    steps TEXT NOT NULL,
    logs TEXT,
    PRIMARY KEY (run, attempt, job, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run_gates (
    run INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    job TEXT NOT NULL,
    idx INTEGER NOT NULL,
    environment TEXT NOT NULL,
    since_ms INTEGER NOT NULL,
    state TEXT NOT NULL,
    decided_ms INTEGER,
    PRIMARY KEY (run, attempt, job, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run_reviews (
    run INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    environment TEXT NOT NULL,
    by TEXT NOT NULL,
    approved INTEGER NOT NULL,
    comment TEXT,
    at_ms INTEGER NOT NULL,
    PRIMARY KEY (run, attempt, environment, by)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id TEXT PRIMARY KEY,
    received_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_age ON webhook_deliveries (received_ms);
";
