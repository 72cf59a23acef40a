//! `GET /v1/runs/{number}/logs?job=ID&instance=N&step=N[&offset=BYTES]`: one step's log as
//! plain text from a byte offset on, at most [`CHUNK`] of it, with the whole log's length in
//! `x-log-size` so a reader can follow a growing log by asking again from where it got to. A
//! step that has written nothing (yet) has an empty log; a 404 means the log cannot be had
//! here: no such job, leg or step, or a run whose logs are on another machine.
//!
//! The query is hostile input: it only ever selects among what the run store recorded (a job
//! and leg of the run's latest attempt, or of the attempt a kept job comes from, a step by
//! number), never names a path. The file is the
//! one in that leg's log directory whose name the runner gave the step, and is read only if it
//! really is inside that directory once links are resolved. Logs are masked when written.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use axum::extract::State;
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{internal, pipelines, run_row};
use crate::AppState;
use crate::error::Failure;
use crate::extract::Query;

/// The most one answer carries: a long log is read in pieces.
const CHUNK: u64 = 1024 * 1024;

const LOG_SIZE: HeaderName = HeaderName::from_static("x-log-size");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogQuery {
    job: String,
    /// The matrix leg, from 0.
    #[serde(default)]
    instance: u32,
    /// The step, from 1, as the run page numbers them.
    step: u32,
    #[serde(default)]
    offset: u64,
}

pub(crate) async fn logs(
    State(state): State<AppState>,
    axum::extract::Path(number): axum::extract::Path<String>,
    Query(query): Query<LogQuery>,
) -> Result<Response, Failure> {
    if query.job.is_empty() || query.job.starts_with('.') || query.job.contains(['/', '\\', '\0']) {
        return Err(Failure::bad_request(format!(
            "`job` is the id of one of the run's jobs (such as `build`), not a path: `{}`",
            query.job
        )));
    }
    if query.step == 0 {
        return Err(Failure::bad_request("steps are numbered from 1"));
    }
    let pipelines = pipelines(&state)?;
    let store = pipelines.store();
    let run = run_row(store.as_ref(), &number)?;
    // A job kept from an earlier attempt has the legs of the attempt it comes from.
    let attempt = store
        .jobs(run.number, run.attempt)
        .map_err(internal)?
        .into_iter()
        .find(|j| j.job == query.job)
        .and_then(|j| j.reused_from)
        .unwrap_or(run.attempt);
    let instances = store.instances(run.number, attempt).map_err(internal)?;
    let not_found = |message: String| Failure {
        status: StatusCode::NOT_FOUND,
        message,
    };
    let legs: Vec<_> = instances.iter().filter(|i| i.job == query.job).collect();
    if legs.is_empty() {
        let mut known: Vec<&str> = instances.iter().map(|i| i.job.as_str()).collect();
        known.dedup();
        return Err(not_found(format!(
            "run {} has no job `{}` that started (its jobs that did: {})",
            run.number,
            query.job,
            if known.is_empty() {
                "none yet".to_owned()
            } else {
                known.join(", ")
            }
        )));
    }
    let leg = legs
        .iter()
        .find(|i| i.index == query.instance)
        .ok_or_else(|| {
            not_found(format!(
                "job `{}` of run {} has no leg {} (its legs are numbered from 0 to {})",
                query.job,
                run.number,
                query.instance,
                legs.len() - 1
            ))
        })?;
    let steps = leg.steps.as_array().map_or(0, Vec::len);
    if query.step as usize > steps {
        return Err(not_found(format!(
            "job `{}` of run {} has no step {} (it has {steps} so far)",
            query.job, run.number, query.step
        )));
    }
    let dir = PathBuf::from(leg.logs.as_deref().ok_or_else(|| {
        not_found(format!(
            "job `{}` of run {} has no log directory",
            query.job, run.number
        ))
    })?);
    // `<run>/logs[-attempt]/<leg>`: the run's directory is made with the run, its logs as they
    // come. On a history several control planes share, it is on the machine that ran the run.
    let run_dir = dir.parent().and_then(Path::parent).map(Path::to_path_buf);
    let here = run_dir.filter(|d| d.starts_with(pipelines.data_dir()));
    if !tokio::fs::try_exists(here.unwrap_or_default())
        .await
        .unwrap_or(false)
    {
        return Err(not_found(format!(
            "run {}'s logs are not on this machine: they are kept on the machine whose control plane ran it",
            run.number
        )));
    }
    // `<attempt>-<step, 2 digits>-<name>.log`, named by the runner.
    let prefix = format!("{}-{:02}-", leg.job_attempt, query.step);
    let offset = query.offset;
    let read = tokio::task::spawn_blocking(move || read_log(&dir, &prefix, offset))
        .await
        .map_err(internal)?;
    let (size, text) = read
        .map_err(|e| Failure::of(StatusCode::INTERNAL_SERVER_ERROR, &e))?
        .ok_or_else(|| {
            not_found(format!(
                "step {} of job `{}` in run {} has no log here",
                query.step, query.job, run.number
            ))
        })?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (LOG_SIZE, size.to_string()),
        ],
        text,
    )
        .into_response())
}

/// The log's length and its bytes from `offset` (at most [`CHUNK`]): none for a step that has
/// written nothing (it has no file yet); `None` for a file that leads out of `dir`.
fn read_log(dir: &Path, prefix: &str, offset: u64) -> std::io::Result<Option<(u64, Vec<u8>)>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Some((0, Vec::new())));
    };
    let mut found = None;
    for entry in entries {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(prefix) && name.ends_with(".log") {
            found = Some(dir.join(&*name));
            break;
        }
    }
    let Some(path) = found else {
        return Ok(Some((0, Vec::new())));
    };
    // A link planted in the directory leads nowhere outside it.
    if !path.canonicalize()?.starts_with(dir.canonicalize()?) {
        return Ok(None);
    }
    let mut file = std::fs::File::open(&path)?;
    let size = file.metadata()?.len();
    let start = offset.min(size);
    file.seek(SeekFrom::Start(start))?;
    let mut text = Vec::new();
    file.take(CHUNK.min(size - start)).read_to_end(&mut text)?;
    Ok(Some((size, text)))
}
