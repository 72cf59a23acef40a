//! How each change of a run is written to PostgreSQL, and each row read back.

use bellwether_store::{
    Change, GateRow, InstanceRow, JobRow, ReviewError, ReviewRow, RunRow, RunStatus, StoreError,
};
use tokio_postgres::GenericClient;
use tokio_postgres::Row;

use super::append;
use crate::db::{backend, int, nat, small};

/// An optional time as a BIGINT.
fn opt_int(what: &'static str, value: Option<u64>) -> Result<Option<i64>, StoreError> {
    value.map(|v| int(what, v)).transpose()
}

pub(super) async fn apply(
    tx: &impl GenericClient,
    run: i64,
    change: &Change,
) -> Result<(), StoreError> {
    match change {
        Change::Status {
            attempt,
            status,
            at_ms,
        } => {
            let finished = opt_int("a time", status.is_final().then_some(*at_ms))?;
            tx.execute(
                "UPDATE runs SET status = $3, finished_ms = $4 WHERE number = $1 AND attempt = $2",
                &[&run, &i64::from(*attempt), &status.as_str(), &finished],
            )
            .await
            .map_err(backend)?;
            let body = serde_json::json!({ "attempt": attempt, "status": status });
            append(tx, run, *at_ms, "status", &body).await?;
        }
        Change::Job {
            attempt,
            row,
            at_ms,
        } => {
            tx.execute(
                "INSERT INTO run_jobs (run, attempt, job, position, name, conclusion, message, outputs, reused_from)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (run, attempt, job) DO UPDATE SET name = excluded.name,
                   conclusion = excluded.conclusion, message = excluded.message,
                   outputs = excluded.outputs, reused_from = excluded.reused_from",
                &[
                    &run,
                    &i64::from(*attempt),
                    &row.job,
                    &i64::from(row.position),
                    &row.name,
                    &row.conclusion,
                    &row.message,
                    &serde_json::to_string(&row.outputs)?,
                    &row.reused_from.map(i64::from),
                ],
            )
            .await
            .map_err(backend)?;
            if let Some(conclusion) = &row.conclusion {
                let body = serde_json::json!({
                    "attempt": attempt,
                    "job": row.job,
                    "conclusion": conclusion,
                    "message": row.message,
                });
                append(tx, run, *at_ms, "job", &body).await?;
            }
        }
        Change::Instance { attempt, row } => {
            tx.execute(
                "INSERT INTO run_instances (run, attempt, job, idx, position, name, status, job_attempt,
                   started_ms, finished_ms, message, steps, logs)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                 ON CONFLICT (run, attempt, job, idx) DO UPDATE SET name = excluded.name,
                   status = excluded.status, job_attempt = excluded.job_attempt,
                   started_ms = excluded.started_ms, finished_ms = excluded.finished_ms,
                   message = excluded.message, steps = excluded.steps, logs = excluded.logs",
                &[
                    &run,
                    &i64::from(*attempt),
                    &row.job,
                    &i64::from(row.index),
                    &i64::from(row.position),
                    &row.name,
                    &row.status,
                    &i64::from(row.job_attempt),
                    &opt_int("a time", row.started_ms)?,
                    &opt_int("a time", row.finished_ms)?,
                    &row.message,
                    &serde_json::to_string(&row.steps)?,
                    &row.logs,
                ],
            )
            .await
            .map_err(backend)?;
        }
        Change::Gate {
            attempt,
            row,
            at_ms,
        } => {
            tx.execute(
                "INSERT INTO run_gates (run, attempt, job, idx, environment, since_ms, state, decided_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (run, attempt, job, idx) DO UPDATE SET state = excluded.state,
                   decided_ms = excluded.decided_ms",
                &[
                    &run,
                    &i64::from(*attempt),
                    &row.job,
                    &i64::from(row.index),
                    &row.environment,
                    &int("a time", row.since_ms)?,
                    &row.state,
                    &opt_int("a time", row.decided_ms)?,
                ],
            )
            .await
            .map_err(backend)?;
            let body = serde_json::json!({
                "attempt": attempt,
                "job": row.job,
                "index": row.index,
                "environment": row.environment,
                "state": row.state,
            });
            append(tx, run, *at_ms, "gate", &body).await?;
        }
        Change::Note {
            attempt,
            job,
            text,
            at_ms,
        } => {
            let body = serde_json::json!({ "attempt": attempt, "job": job, "text": text });
            append(tx, run, *at_ms, "note", &body).await?;
        }
    }
    Ok(())
}

/// Records `review` if a gate of the run's current attempt waits for its environment and its
/// reviewer has not answered it in this attempt.
pub(super) async fn review(
    tx: &impl GenericClient,
    run: i64,
    at: i64,
    review: &ReviewRow,
) -> Result<(), ReviewError> {
    let state = tx
        .query_opt(
            "SELECT attempt, status FROM runs WHERE number = $1",
            &[&run],
        )
        .await
        .map_err(backend)?;
    let Some(state) = state else {
        return Err(ReviewError::NoRun(review.run));
    };
    let (attempt, status): (i64, String) = (state.get(0), state.get(1));
    let waiting: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM run_gates
             WHERE run = $1 AND attempt = $2 AND environment = $3 AND state = 'waiting')",
            &[&run, &attempt, &review.environment],
        )
        .await
        .map_err(backend)?
        .get(0);
    if !waiting {
        return Err(ReviewError::NotWaiting(format!(
            "run {} ({status}) is not waiting for environment `{}`",
            review.run, review.environment
        )));
    }
    let inserted = tx
        .execute(
            "INSERT INTO run_reviews (run, attempt, environment, reviewer, approved, comment, at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            &[
                &run,
                &attempt,
                &review.environment,
                &review.by,
                &review.approved,
                &review.comment,
                &at,
            ],
        )
        .await
        .map_err(backend)?;
    if inserted == 0 {
        let approved: bool = tx
            .query_one(
                "SELECT approved FROM run_reviews
                 WHERE run = $1 AND attempt = $2 AND environment = $3 AND reviewer = $4",
                &[&run, &attempt, &review.environment, &review.by],
            )
            .await
            .map_err(backend)?
            .get(0);
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
        "attempt": small(attempt),
        "environment": review.environment,
        "by": review.by,
        "comment": review.comment,
    });
    append(tx, run, review.at_ms, kind, &body).await?;
    Ok(())
}

pub(super) const SELECT_RUN: &str = "SELECT number, pipeline, attempt, status, actor, summary, sha, trigger, started_ms, finished_ms FROM runs";

pub(super) fn run_row(r: &Row) -> Result<RunRow, StoreError> {
    let status: &str = r.get(3);
    Ok(RunRow {
        number: nat(r.get(0)),
        pipeline: r.get(1),
        attempt: small(r.get(2)),
        status: RunStatus::parse(status).unwrap_or(RunStatus::Interrupted),
        actor: r.get(4),
        summary: r.get(5),
        sha: r.get(6),
        trigger: serde_json::from_str(r.get(7))?,
        started_ms: nat(r.get(8)),
        finished_ms: r.get::<_, Option<i64>>(9).map(nat),
    })
}

pub(super) fn job_row(r: &Row) -> Result<JobRow, StoreError> {
    Ok(JobRow {
        job: r.get(0),
        position: small(r.get(1)),
        name: r.get(2),
        conclusion: r.get(3),
        message: r.get(4),
        outputs: serde_json::from_str(r.get(5))?,
        reused_from: r.get::<_, Option<i64>>(6).map(small),
    })
}

pub(super) fn instance_row(r: &Row) -> Result<InstanceRow, StoreError> {
    Ok(InstanceRow {
        job: r.get(0),
        index: small(r.get(1)),
        position: small(r.get(2)),
        name: r.get(3),
        status: r.get(4),
        job_attempt: small(r.get(5)),
        started_ms: r.get::<_, Option<i64>>(6).map(nat),
        finished_ms: r.get::<_, Option<i64>>(7).map(nat),
        message: r.get(8),
        steps: serde_json::from_str(r.get(9))?,
        logs: r.get(10),
    })
}

pub(super) fn gate_row(r: &Row) -> GateRow {
    GateRow {
        job: r.get(0),
        index: small(r.get(1)),
        environment: r.get(2),
        since_ms: nat(r.get(3)),
        state: r.get(4),
        decided_ms: r.get::<_, Option<i64>>(5).map(nat),
    }
}

pub(super) fn review_row(r: &Row) -> ReviewRow {
    ReviewRow {
        run: nat(r.get(0)),
        environment: r.get(1),
        by: r.get(2),
        approved: r.get(3),
        comment: r.get(4),
        at_ms: nat(r.get(5)),
    }
}
