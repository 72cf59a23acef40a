//! The bridge from the synchronous seams to tokio-postgres: a runtime on a thread of its own
//! runs each call's work with a pooled connection, and the caller waits for its answer.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bellwether_store::StoreError;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio::sync::mpsc;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::Target;

/// Connections one handle keeps: the control plane makes a few store calls at once.
const POOL_SIZE: usize = 4;

/// How long a call waits for a connection of the pool, or for a new one to open.
const WAIT: Duration = Duration::from_secs(30);

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A handle on one database: its pool and the thread that runs the work.
pub(crate) struct Db {
    jobs: mpsc::UnboundedSender<Job>,
    pool: Pool,
    /// Where, for messages: never the password.
    pub(crate) at: String,
}

impl Db {
    pub(crate) fn open(target: &Target) -> Result<Self, StoreError> {
        let at = target.to_string();
        let unreachable =
            |source: Box<dyn std::error::Error + Send + Sync>| StoreError::Unreachable {
                at: at.clone(),
                source,
            };
        let manager = Manager::from_config(
            target.config.clone(),
            NoTls,
            ManagerConfig {
                // A closed connection is not handed out again. One whose call failed mid-
                // transaction needs no round trip to check: a transaction dropped unfinished
                // queues its ROLLBACK ahead of the next call's statements.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(WAIT))
            .create_timeout(Some(WAIT))
            .recycle_timeout(Some(WAIT))
            .build()
            .map_err(|e| unreachable(e.into()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| unreachable(e.into()))?;
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        // The thread ends when the handle is dropped (the queue closes); its runtime, and the
        // connections' tasks on it, end with it.
        std::thread::Builder::new()
            .name("postgres".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    while let Some(job) = queue.recv().await {
                        tokio::spawn(job);
                    }
                });
            })
            .map_err(|e| unreachable(e.into()))?;
        Ok(Self { jobs, pool, at })
    }

    /// Runs `work` with a connection of the pool and waits for its answer.
    pub(crate) fn call<T, E, F, Fut>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(Object) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let (answer, answered) = std::sync::mpsc::sync_channel(1);
        let pool = self.pool.clone();
        let at = self.at.clone();
        let job = Box::pin(async move {
            let result = match pool.get().await {
                Ok(client) => work(client).await,
                Err(e) => Err(StoreError::Unreachable {
                    at,
                    source: e.into(),
                }
                .into()),
            };
            let _ = answer.send(result);
        });
        let gone = || StoreError::Backend("the store's connection thread has ended".into());
        self.jobs.send(job).map_err(|_| gone())?;
        answered.recv().map_err(|_| gone())?
    }
}

/// A PostgreSQL error as the store's.
pub(crate) fn backend(e: tokio_postgres::Error) -> StoreError {
    StoreError::Backend(e.into())
}

/// Whether `e` is a unique violation of `constraint`: a racing writer got there first.
pub(crate) fn is_taken(e: &tokio_postgres::Error, constraint: &str) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
        && e.as_db_error().and_then(|d| d.constraint()) == Some(constraint)
}

/// `value` as a BIGINT, or the error that makes the whole call fail.
pub(crate) fn int(what: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange { what, value })
}

/// A BIGINT this store wrote from an unsigned number.
pub(crate) fn nat(value: i64) -> u64 {
    value.max(0) as u64
}

/// A BIGINT this store wrote from a `u32`.
pub(crate) fn small(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

/// Two-key advisory locks of this store's own class (the first key), so that writers whose
/// rows do not exist yet (a new run, a service's next revision) wait for each other.
pub(crate) mod lock {
    /// "bw" and a kind: what the lock guards.
    const CLASS: i32 = 0x6277_0000;
    pub(crate) const SCHEMA: i32 = CLASS;
    pub(crate) const NEW_RUN: i32 = CLASS + 1;
    pub(crate) const RUN: i32 = CLASS + 2;
    pub(crate) const REVISIONS: i32 = CLASS + 3;
}
