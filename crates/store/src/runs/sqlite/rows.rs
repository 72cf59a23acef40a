//! How each change of a run is written to SQLite, and each row read back.

use rusqlite::{Row, Transaction, params};

use super::append;
use crate::StoreError;
use crate::runs::{Change, GateRow, InstanceRow, JobRow, ReviewRow, RunRow, RunStatus};

pub(super) fn apply(tx: &Transaction<'_>, run: u64, change: &Change) -> Result<(), StoreError> {
    match change {
        Change::Status {
            attempt,
            status,
            at_ms,
        } => {
            let finished = status.is_final().then_some(*at_ms);
            tx.execute(
                "UPDATE runs SET status = ?3, finished_ms = ?4 WHERE number = ?1 AND attempt = ?2",
                params![run, attempt, status.as_str(), finished],
            )?;
            let body = serde_json::json!({ "attempt": attempt, "status": status });
            append(tx, run, *at_ms, "status", &body)?;
        }
        Change::Job {
            attempt,
            row,
            at_ms,
        } => {
            tx.execute(
                "INSERT INTO run_jobs (run, attempt, job, position, name, conclusion, message, outputs, reused_from)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (run, attempt, job) DO UPDATE SET name = excluded.name,
                   conclusion = excluded.conclusion, message = excluded.message,
                   outputs = excluded.outputs, reused_from = excluded.reused_from",
                params![
                    run,
                    attempt,
                    row.job,
                    row.position,
                    row.name,
                    row.conclusion,
                    row.message,
                    serde_json::to_string(&row.outputs)?,
                    row.reused_from
                ],
            )?;
            if let Some(conclusion) = &row.conclusion {
                let body = serde_json::json!({
                    "attempt": attempt,
                    "job": row.job,
                    "conclusion": conclusion,
                    "message": row.message,
                });
                append(tx, run, *at_ms, "job", &body)?;
            }
        }
        Change::Instance { attempt, row } => {
            tx.execute(
                "INSERT INTO run_instances (run, attempt, job, idx, position, name, status, job_attempt,
                   started_ms, finished_ms, message, steps, logs)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                 ON CONFLICT (run, attempt, job, idx) DO UPDATE SET name = excluded.name,
                   status = excluded.status, job_attempt = excluded.job_attempt,
                   started_ms = excluded.started_ms, finished_ms = excluded.finished_ms,
                   message = excluded.message, steps = excluded.steps, logs = excluded.logs",
                params![
                    run,
                    attempt,
                    row.job,
                    row.index,
                    row.position,
                    row.name,
                    row.status,
                    row.job_attempt,
                    row.started_ms,
                    row.finished_ms,
                    row.message,
                    serde_json::to_string(&row.steps)?,
                    row.logs
                ],
            )?;
        }
        Change::Gate {
            attempt,
            row,
            at_ms,
        } => {
            tx.execute(
                "INSERT INTO run_gates (run, attempt, job, idx, environment, since_ms, state, decided_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (run, attempt, job, idx) DO UPDATE SET state = excluded.state,
                   decided_ms = excluded.decided_ms",
                params![
                    run,
                    attempt,
                    row.job,
                    row.index,
                    row.environment,
                    row.since_ms,
                    row.state,
                    row.decided_ms
                ],
            )?;
            let body = serde_json::json!({
                "attempt": attempt,
                "job": row.job,
                "index": row.index,
                "environment": row.environment,
                "state": row.state,
            });
            append(tx, run, *at_ms, "gate", &body)?;
        }
        Change::Note {
            attempt,
            job,
            text,
            at_ms,
        } => {
            let body = serde_json::json!({ "attempt": attempt, "job": job, "text": text });
            append(tx, run, *at_ms, "note", &body)?;
        }
    }
    Ok(())
}

pub(super) const SELECT_RUN: &str = "SELECT number, pipeline, attempt, status, actor, summary, sha, trigger, started_ms, finished_ms FROM runs";

pub(super) fn run_row(r: &Row<'_>) -> rusqlite::Result<RunRow> {
    let status: String = r.get(3)?;
    Ok(RunRow {
        number: r.get(0)?,
        pipeline: r.get(1)?,
        attempt: r.get(2)?,
        status: RunStatus::parse(&status).unwrap_or(RunStatus::Interrupted),
        actor: r.get(4)?,
        summary: r.get(5)?,
        sha: r.get(6)?,
        trigger: json(r, 7)?,
        started_ms: r.get(8)?,
        finished_ms: r.get(9)?,
    })
}

pub(super) fn job_row(r: &Row<'_>) -> rusqlite::Result<JobRow> {
    Ok(JobRow {
        job: r.get(0)?,
        position: r.get(1)?,
        name: r.get(2)?,
        conclusion: r.get(3)?,
        message: r.get(4)?,
        outputs: json(r, 5)?,
        reused_from: r.get(6)?,
    })
}

pub(super) fn instance_row(r: &Row<'_>) -> rusqlite::Result<InstanceRow> {
    Ok(InstanceRow {
        job: r.get(0)?,
        index: r.get(1)?,
        position: r.get(2)?,
        name: r.get(3)?,
        status: r.get(4)?,
        job_attempt: r.get(5)?,
        started_ms: r.get(6)?,
        finished_ms: r.get(7)?,
        message: r.get(8)?,
        steps: json(r, 9)?,
        logs: r.get(10)?,
    })
}

/// A JSON column, decoded.
fn json<T: serde::de::DeserializeOwned>(r: &Row<'_>, index: usize) -> rusqlite::Result<T> {
    let text: String = r.get(index)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

pub(super) fn gate_row(r: &Row<'_>) -> rusqlite::Result<GateRow> {
    Ok(GateRow {
        job: r.get(0)?,
        index: r.get(1)?,
        environment: r.get(2)?,
        since_ms: r.get(3)?,
        state: r.get(4)?,
        decided_ms: r.get(5)?,
    })
}

pub(super) fn review_row(r: &Row<'_>) -> rusqlite::Result<ReviewRow> {
    Ok(ReviewRow {
        run: r.get(0)?,
        environment: r.get(1)?,
        by: r.get(2)?,
        approved: r.get(3)?,
        comment: r.get(4)?,
        at_ms: r.get(5)?,
    })
}
