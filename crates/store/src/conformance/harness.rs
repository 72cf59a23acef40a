//! What a check runs on: a fresh place per check, and the backend's way of opening its stores
//! there as often as the check likes.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use tempfile::TempDir;

use crate::{RunHistory, Store, StoreError};

/// How long one check may take: a backend that hangs fails the check rather than stalling
/// the whole test run.
const TIME_LIMIT: Duration = Duration::from_secs(60);

type Open<T> = Box<dyn Fn(&Path) -> Result<T, StoreError> + Send + Sync>;

/// How a backend opens its event store and its run history.
pub struct Backend {
    events: Open<Box<dyn Store>>,
    runs: Open<Box<dyn RunHistory>>,
}

impl Backend {
    /// `events` and `runs` open (creating if needed) the stores kept in `dir`, an empty
    /// directory of the check's own that lives as long as the check. Every handle opened on
    /// the same `dir` must see the same data, whether the others are still open (as another
    /// process would) or were dropped (as after a crash): that is how the suite checks both.
    /// A backend on a server names its database or schema after `dir`.
    pub fn new<E, R>(
        events: impl Fn(&Path) -> Result<E, StoreError> + Send + Sync + 'static,
        runs: impl Fn(&Path) -> Result<R, StoreError> + Send + Sync + 'static,
    ) -> Self
    where
        E: Store + 'static,
        R: RunHistory + 'static,
    {
        Self {
            events: Box::new(move |dir| Ok(Box::new(events(dir)?))),
            runs: Box::new(move |dir| Ok(Box::new(runs(dir)?))),
        }
    }
}

/// One check's stores: a place of its own, empty at the start.
pub struct Fixture {
    dir: TempDir,
    backend: Backend,
}

impl Fixture {
    /// A new handle on the event store.
    pub fn events(&self) -> Box<dyn Store> {
        (self.backend.events)(self.dir.path()).expect("the event store opens")
    }

    /// A new handle on the run history.
    pub fn runs(&self) -> Box<dyn RunHistory> {
        (self.backend.runs)(self.dir.path()).expect("the run history opens")
    }
}

/// Runs `check` against a fresh [`Fixture`] of `backend`; it fails if the check panics or
/// takes longer than a minute.
pub fn run(backend: Backend, check: fn(&Fixture)) {
    let fixture = Fixture {
        dir: tempfile::tempdir().expect("a temporary directory"),
        backend,
    };
    let (done, finished) = mpsc::channel();
    let worker = thread::spawn(move || {
        check(&fixture);
        let _ = done.send(());
    });
    match finished.recv_timeout(TIME_LIMIT) {
        Err(RecvTimeoutError::Timeout) => panic!("the check did not end within {TIME_LIMIT:?}"),
        Ok(()) | Err(RecvTimeoutError::Disconnected) => {
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}
