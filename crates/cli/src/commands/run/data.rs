//! The data directory the pipeline commands share: where it is, its store of run history,
//! who is at the keyboard, and the lock each running run holds on its directory, by which
//! the others tell a run that is going on from one whose process died.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use bellwether_executor_host::now_ms;
use bellwether_store::RunStore;
use clap::Args;

/// `-f` and `--data-dir`, for the commands that only need the data directory.
#[derive(Debug, Args)]
pub(crate) struct DataArgs {
    /// The project file; its directory holds the data directory by default.
    #[arg(short = 'f', long = "file", default_value = "bellwether.yaml")]
    pub(crate) file: PathBuf,
    /// Where runs, logs, secrets, the cache and artifacts are kept [default: .bellwether beside the file].
    #[arg(long, env = "BELLWETHER_DATA_DIR", value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
}

impl DataArgs {
    /// The data directory: `--data-dir`, else `.bellwether` beside the project file.
    pub(crate) fn dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| project_dir(&self.file).join(".bellwether"))
    }
}

/// The directory of the project file.
pub(crate) fn project_dir(file: &Path) -> PathBuf {
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf())
}

/// Who runs, approves or rejects: `$BELLWETHER_USER`, else the login name.
pub(crate) fn whoami() -> String {
    ["BELLWETHER_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.trim().is_empty()))
        .unwrap_or_else(|| "local".to_owned())
}

/// An open data directory.
pub(crate) struct Data {
    pub(crate) dir: PathBuf,
    pub(crate) store: Arc<RunStore>,
}

impl Data {
    /// Opens (creating) the data directory for `file` and its store, and marks the runs whose
    /// process has died as interrupted.
    pub(crate) fn open(args: &DataArgs) -> anyhow::Result<Data> {
        let dir = args.dir();
        std::fs::create_dir_all(dir.join("runs"))
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let dir = dir.canonicalize().unwrap_or(dir);
        let store = RunStore::open(&dir.join("bellwether.db"))
            .with_context(|| format!("cannot open the run history in {}", dir.display()))?;
        let data = Data {
            dir,
            store: Arc::new(store),
        };
        data.sweep()?;
        Ok(data)
    }

    pub(crate) fn run_dir(&self, number: u64) -> PathBuf {
        self.dir.join("runs").join(number.to_string())
    }

    /// Marks interrupted every unfinished run whose lock nobody holds: its process is gone.
    fn sweep(&self) -> anyhow::Result<()> {
        let _claim = self.claim()?;
        for run in self.store.unfinished()? {
            let lock = self.run_dir(run.number).join("lock");
            let alive = match OpenOptions::new().write(true).open(&lock) {
                Ok(f) => matches!(f.try_lock(), Err(TryLockError::WouldBlock)),
                Err(_) => false,
            };
            if !alive {
                self.store.interrupt(
                    run.number,
                    now_ms(),
                    "its process ended before the run did",
                )?;
            }
        }
        Ok(())
    }

    /// Held while a run is created and locked, and while runs are swept, so that a sweep
    /// never sees a run between its row and its lock.
    pub(crate) fn claim(&self) -> anyhow::Result<File> {
        let path = self.dir.join("runs/.claim");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        file.lock()
            .with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(file)
    }

    /// Takes run `number`'s lock for as long as the returned file lives; `None` when another
    /// process holds it.
    pub(crate) fn lock_run(&self, number: u64) -> anyhow::Result<Option<File>> {
        let dir = self.run_dir(number);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }

    /// The highest run number the run directories already use, so that a new run never
    /// reuses a directory left from before the store.
    pub(crate) fn last_dir_number(&self) -> u64 {
        std::fs::read_dir(self.dir.join("runs"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_string_lossy().parse::<u64>().ok())
            .max()
            .unwrap_or(0)
    }
}
