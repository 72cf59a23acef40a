//! The data directory pipelines share, whoever runs them (`bellwether run` in a terminal or
//! the control plane): its store of run history, each run's directory, and the lock each
//! running run holds on `runs/<n>/lock`, by which the others tell a run that is going on from
//! one whose process died.

mod retention;

pub use retention::{Cutoffs, Swept};

use crate::artifacts::Artifacts;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bellwether_store::{NewRun, RunHistory, RunRow, RunStore, StoreError};

use crate::clock::now_ms;
use crate::{orphans, untrusted};

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot use {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the run history in {dir}")]
    Store { dir: PathBuf, source: StoreError },
    #[error("run {0} is locked by another process")]
    Locked(u64),
}

/// An open data directory.
#[derive(Clone)]
pub struct DataDir {
    pub dir: PathBuf,
    /// Where the runs of `store` keep their files (`runs/<n>/`, `artifacts/objects/`): `dir`
    /// for the directory's own history, `dir/shared` for a history other machines write too,
    /// whose run numbers are not this directory's to give and whose runs' artifacts no sweep
    /// of the own history may judge.
    home: PathBuf,
    /// The run history: the directory's SQLite file, or the control plane's own store.
    pub store: Arc<dyn RunHistory>,
}

/// A run's lock: held for as long as this lives.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl DataDir {
    /// Opens (creating) the data directory `dir` and its store, and marks the runs whose
    /// process has died as interrupted.
    pub fn open(dir: &Path) -> Result<DataDir, DataError> {
        let dir = Self::make(dir, "")?;
        let store =
            RunStore::open(&dir.join("bellwether.db")).map_err(|source| DataError::Store {
                dir: dir.clone(),
                source,
            })?;
        let data = DataDir {
            home: dir.clone(),
            dir,
            store: Arc::new(store),
        };
        data.sweep()?;
        Ok(data)
    }

    /// The data directory `dir` with the run history in `store`, a database other machines
    /// share. Its runs keep their files (logs, artifacts) in `shared/`, apart from the
    /// directory's own history. Nothing is swept: on a shared history only the one who
    /// leads may tell a run whose process died, with [`DataDir::sweep`].
    pub fn shared(dir: &Path, store: Arc<dyn RunHistory>) -> Result<DataDir, DataError> {
        let dir = Self::make(dir, "shared")?;
        Ok(DataDir {
            home: dir.join("shared"),
            dir,
            store,
        })
    }

    /// Creates `dir` and the `runs` of its `home`, and names it by its canonical path.
    fn make(dir: &Path, home: &str) -> Result<PathBuf, DataError> {
        let io = |source| DataError::Io {
            path: dir.to_path_buf(),
            source,
        };
        private_dir(dir).map_err(io)?;
        std::fs::create_dir_all(dir.join(home).join("runs")).map_err(io)?;
        Ok(dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()))
    }

    fn runs(&self) -> PathBuf {
        self.home.join("runs")
    }

    pub fn run_dir(&self, number: u64) -> PathBuf {
        self.runs().join(number.to_string())
    }

    /// The contents of the artifacts of every run of this history.
    fn objects(&self) -> PathBuf {
        self.home.join("artifacts/objects")
    }

    /// Run `number`'s artifacts, their contents shared by every run.
    pub fn artifacts(&self, number: u64) -> Artifacts {
        Artifacts::new(self.objects(), self.run_dir(number).join("artifacts"))
    }

    fn store_error(&self, source: StoreError) -> DataError {
        DataError::Store {
            dir: self.dir.clone(),
            source,
        }
    }

    /// Marks interrupted every unfinished run whose lock nobody holds: its process is gone.
    /// On a shared history, runs that other machines started have no lock here: only a
    /// control plane that holds the store's lease may sweep, when every write of those who
    /// held it before is refused, so none of their runs can go on.
    pub fn sweep(&self) -> Result<(), DataError> {
        let _claim = self.claim()?;
        let unfinished = self.store.unfinished().map_err(|e| self.store_error(e))?;
        for run in unfinished {
            let lock = self.run_dir(run.number).join("lock");
            let alive = match OpenOptions::new().write(true).open(&lock) {
                Ok(f) => matches!(f.try_lock(), Err(TryLockError::WouldBlock)),
                Err(_) => false,
            };
            if !alive {
                self.clear_up(run.number);
                self.store
                    .interrupt(run.number, now_ms(), "its process ended before the run did")
                    .map_err(|e| self.store_error(e))?;
            }
        }
        Ok(())
    }

    /// What a run whose process died left behind: the steps it was running, killed before
    /// anything can run them again, its scratch directories (scripts, step files) and an
    /// untrusted run's sandbox.
    fn clear_up(&self, number: u64) {
        let scratch = std::fs::read_dir(self.run_dir(number))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("tmp"));
        for entry in scratch {
            orphans::kill_recorded(&entry.path().join(orphans::STEP_GROUPS));
            untrusted::remove_recorded(&entry.path().join(untrusted::SANDBOX));
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }

    /// Records a new run and takes its lock.
    pub fn create(&self, run: &NewRun) -> Result<(u64, RunLock), DataError> {
        let _claim = self.claim()?;
        let number = self
            .store
            .create(run, self.last_dir_number() + 1)
            .map_err(|e| self.store_error(e))?;
        let lock = self.lock_run(number)?.ok_or(DataError::Locked(number))?;
        Ok((number, lock))
    }

    /// Held while a run is created and locked, and while runs are swept, so that a sweep
    /// never sees a run between its row and its lock.
    fn claim(&self) -> Result<File, DataError> {
        let path = self.runs().join(".claim");
        let io = |source| DataError::Io {
            path: path.clone(),
            source,
        };
        let file = lock_file(&path).map_err(io)?;
        file.lock().map_err(io)?;
        Ok(file)
    }

    /// Run `number` as the store has it now, with its lock unless another process holds it
    /// (`None` when there is no such run). Read under the claim that retention sweeps under,
    /// so a sweep either finds the lock held and keeps the run, or removed it before.
    pub fn lock_existing(
        &self,
        number: u64,
    ) -> Result<Option<(RunRow, Option<RunLock>)>, DataError> {
        let _claim = self.claim()?;
        let Some(run) = self.store.run(number).map_err(|e| self.store_error(e))? else {
            return Ok(None);
        };
        Ok(Some((run, self.lock_run(number)?)))
    }

    /// Takes run `number`'s lock for as long as the returned lock lives; `None` when another
    /// process holds it.
    pub fn lock_run(&self, number: u64) -> Result<Option<RunLock>, DataError> {
        let dir = self.run_dir(number);
        let path = dir.join("lock");
        let io = |source| DataError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let file = lock_file(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(RunLock { _file: file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(io(e)),
        }
    }

    /// The highest run number the run directories already use, so that a new run never
    /// reuses a directory left from before the store.
    fn last_dir_number(&self) -> u64 {
        std::fs::read_dir(self.runs())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_string_lossy().parse::<u64>().ok())
            .max()
            .unwrap_or(0)
    }
}

/// Makes `dir` (its parents too) readable by its owner only, whatever the umask, and tells
/// git to leave it out, since it usually sits in the repository it works on and holds the
/// secrets' key.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let ignore = dir.join(".gitignore");
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&ignore)
    {
        Ok(mut file) => {
            file.write_all(b"# Written by bellwether: nothing here belongs in git.\n*\n")
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Opens (creating, never truncating) a file that is only ever locked.
pub(crate) fn lock_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_run() -> NewRun {
        NewRun {
            pipeline: "ci".into(),
            actor: "ada".into(),
            summary: "manual".into(),
            trigger: serde_json::Value::Null,
            at_ms: 1,
        }
    }

    /// Two data directories on one history, as two machines on one database: numbers are the
    /// history's, each run's directory is in the data directory that made it, and opening a
    /// shared one ends nobody's run; a sweep ends every run but those it holds the lock of.
    #[test]
    fn a_shared_history_is_swept_only_when_asked() {
        let tmp = tempfile::tempdir().unwrap();
        let history: Arc<dyn RunHistory> =
            Arc::new(RunStore::open(&tmp.path().join("shared.db")).unwrap());
        let first = DataDir::shared(&tmp.path().join("first"), Arc::clone(&history)).unwrap();
        let (one, _lock) = first.create(&new_run()).unwrap();
        let (two, held) = first.create(&new_run()).unwrap();
        drop(held);
        assert_eq!((one, two), (1, 2));
        assert!(
            first
                .run_dir(one)
                .starts_with(first.dir.join("shared/runs"))
        );

        let second = DataDir::shared(&tmp.path().join("second"), Arc::clone(&history)).unwrap();
        let (three, _lock) = second.create(&new_run()).unwrap();
        assert_eq!(three, 3);
        assert!(!second.run_dir(one).exists());
        let unfinished = || -> Vec<u64> {
            history
                .unfinished()
                .unwrap()
                .iter()
                .map(|r| r.number)
                .collect()
        };
        assert_eq!(unfinished(), [1, 2, 3]);

        // A sweep, a leader's, keeps the runs whose lock is held in its own directory and ends
        // every other: run 2, whose lock is free, and run 3, made elsewhere.
        first.sweep().unwrap();
        assert_eq!(unfinished(), [1]);
    }
}
