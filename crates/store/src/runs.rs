//! Pipeline runs' history: each run's summary, its jobs (result and outputs) and matrix
//! instances (status, steps, where their logs are), its environment gates and the reviews
//! people gave them, per attempt; and every change as an event in the run's stream
//! `run/<number>`, written together with what summarises it.
//!
//! [`RunHistory`] is the seam `bellwether run` and the control plane record runs through;
//! [`RunStore`] keeps it in the same SQLite file as everything else. Rows carry plain strings
//! and JSON: the store knows nothing of pipelines beyond what history needs.

mod rows;
mod sqlite;
mod watchers;

pub use rows::{Change, GateRow, InstanceRow, JobRow, NewRun, ReviewRow, RunRow, RunStatus};
pub use sqlite::RunStore;
pub use watchers::{Watcher, Watchers};

use crate::{Record, StoreError};

/// The stream that holds one run's events.
pub fn run_stream(number: u64) -> String {
    format!("run/{number}")
}

/// Why a review was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("run {0} does not exist")]
    NoRun(u64),
    #[error("{0}")]
    NotWaiting(String),
    #[error("{by} has already {verb} environment `{environment}` of run {run}", verb = if *.approved { "approved" } else { "rejected" })]
    Twice {
        run: u64,
        environment: String,
        by: String,
        approved: bool,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for ReviewError {
    fn from(e: rusqlite::Error) -> Self {
        ReviewError::Store(e.into())
    }
}

/// Where the history of pipeline runs lives. Each call is one transaction: it happens whole
/// or not at all, and a run's events are written with the rows they summarise.
pub trait RunHistory: Send + Sync {
    /// Calls `watcher` with a run's number after each call through this handle that changed
    /// the run commits, in the caller's thread, until it returns `false`. Another handle's or
    /// process's changes go unnoticed.
    fn watch(&self, watcher: Watcher);

    /// Records a new run and returns its number: one more than the highest so far, and at
    /// least `floor` (numbers already taken outside the store, e.g. by run directories).
    /// Its attempt is 0 until [`start_attempt`](Self::start_attempt) starts the first.
    fn create(&self, run: &NewRun, floor: u64) -> Result<u64, StoreError>;

    /// Starts attempt `attempt` of run `number` (1, or a rerun), by `actor`, of commit `sha`.
    fn start_attempt(
        &self,
        number: u64,
        attempt: u32,
        actor: &str,
        sha: &str,
        at_ms: u64,
    ) -> Result<(), StoreError>;

    /// Applies `changes` to run `number`, all in one transaction.
    fn record(&self, number: u64, changes: &[Change]) -> Result<(), StoreError>;

    fn run(&self, number: u64) -> Result<Option<RunRow>, StoreError>;

    /// The newest runs first, at most `limit`, of one pipeline or all.
    fn list(&self, pipeline: Option<&str>, limit: u32) -> Result<Vec<RunRow>, StoreError>;

    /// Runs whose last attempt has not finished: running, waiting, queued, or dead without
    /// saying so.
    fn unfinished(&self) -> Result<Vec<RunRow>, StoreError>;

    /// Marks run `number` interrupted if it has not finished; returns whether it was.
    fn interrupt(&self, number: u64, at_ms: u64, why: &str) -> Result<bool, StoreError>;

    /// The jobs of one attempt of a run, in the pipeline's order.
    fn jobs(&self, number: u64, attempt: u32) -> Result<Vec<JobRow>, StoreError>;

    /// The instances of one attempt of a run, in the pipeline's order.
    fn instances(&self, number: u64, attempt: u32) -> Result<Vec<InstanceRow>, StoreError>;

    /// The gates of one attempt of a run, waiting or decided.
    fn gates(&self, number: u64, attempt: u32) -> Result<Vec<GateRow>, StoreError>;

    /// Records `review` of the environment a gate of the run's current attempt waits for.
    fn review(&self, review: &ReviewRow) -> Result<(), ReviewError>;

    /// The reviews of `environment` (or all) in attempt `attempt` of run `number`, oldest
    /// first.
    fn reviews(
        &self,
        number: u64,
        attempt: u32,
        environment: Option<&str>,
    ) -> Result<Vec<ReviewRow>, StoreError>;

    /// Every event of run `number`, oldest first.
    fn events(&self, number: u64) -> Result<Vec<Record>, StoreError>;

    /// Claims webhook delivery `id`, received at `at_ms`: `true` when no delivery of that id
    /// is remembered (it is from now on), `false` for a redelivery. Check and claim are one
    /// statement, so of callers racing with one id exactly one gets `true`; deliveries
    /// received before `forget_before_ms` are forgotten in the same transaction.
    fn claim_delivery(
        &self,
        id: &str,
        at_ms: u64,
        forget_before_ms: u64,
    ) -> Result<bool, StoreError>;

    /// Forgets delivery `id`, so that its redelivery is claimed again: what it asked for
    /// could not be done.
    fn release_delivery(&self, id: &str) -> Result<(), StoreError>;

    /// Removes at most `limit` runs that finished before `before_ms`, the oldest first, with
    /// everything of theirs (jobs, instances, gates, reviews, events), in one transaction;
    /// returns their numbers. A run not finished (running, waiting, queued), the latest run
    /// of each pipeline and the runs in `except` (the caller's to keep: a rerun about to
    /// start) are never removed, so numbers are never given out twice and `rerun` of the
    /// latest still works. Watchers are not told: what is gone has nothing to show.
    fn forget_finished(
        &self,
        before_ms: u64,
        limit: u32,
        except: &[u64],
    ) -> Result<Vec<u64>, StoreError>;
}
