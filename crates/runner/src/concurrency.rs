//! A pipeline's `concurrency` group across runs, whichever process runs them (several
//! `bellwether run`s, the control plane) as long as they share the data directory. GitHub's
//! rules: one run of a group goes on at a time and at most one waits; a newer waiting run
//! replaces the one that waited (which ends cancelled), and with `cancel-in-progress` it
//! also cancels the one going on.
//!
//! Each group is a directory under `<data>/concurrency/`: the run going on holds the lock on
//! `holder.lock` (so a holder that dies frees the group at once) and names itself in
//! `holder`; the waiting run names itself in `pending`; `cancel-<run>` asks run `<run>` to
//! stop and says why. Short changes to these files happen under the lock on `claim`.

use std::fs::{File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::data::lock_file;

/// How often a waiting run looks at its group, and a holder at its cancel requests.
pub(crate) const POLL: Duration = Duration::from_millis(200);

/// A run's place in its group once it may go on; the group is free again when it drops.
#[derive(Debug)]
pub struct GroupHold {
    dir: PathBuf,
    run: u64,
    _lock: File,
}

/// How waiting for a group ended.
#[derive(Debug)]
enum Admission {
    /// The run may go on: it holds the group until the hold drops.
    Granted(GroupHold),
    /// A newer run of the group took its place; why.
    Cancelled(String),
}

/// Group `name` in the data directory `data`.
pub(crate) struct Group {
    name: String,
    dir: PathBuf,
}

impl Group {
    pub(crate) fn new(data: &Path, name: &str) -> Group {
        let digest = Sha256::digest(name.as_bytes());
        let id: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        Group {
            name: name.to_owned(),
            dir: data.join("concurrency").join(id),
        }
    }

    /// The run going on in the group, if any other than `run`.
    fn holder(&self, run: u64) -> Option<u64> {
        read_number(&self.dir.join("holder")).filter(|&h| h != run && self.held())
    }

    fn held(&self) -> bool {
        match lock_file(&self.dir.join("holder.lock")) {
            Ok(f) => matches!(f.try_lock(), Err(TryLockError::WouldBlock)),
            Err(_) => false,
        }
    }

    /// Waits until `run` may go on in the group; `Err` with why when a newer run took its
    /// place first. `waiting` is told who holds the group, when another run does.
    pub(crate) async fn join(
        &self,
        run: u64,
        cancel_in_progress: bool,
        waiting: impl FnOnce(&str),
    ) -> Result<GroupHold, String> {
        if let Some(holder) = self.holder(run) {
            let what = if cancel_in_progress {
                "cancelling it"
            } else {
                "waiting for it"
            };
            waiting(&format!(
                "concurrency group `{}` is held by run {holder}: {what}",
                self.name
            ));
        }
        match self.enter(run, cancel_in_progress).await {
            Ok(Admission::Granted(hold)) => Ok(hold),
            Ok(Admission::Cancelled(why)) => Err(why),
            Err(e) => Err(format!("concurrency group `{}`: {e}", self.name)),
        }
    }

    /// Waits until `run` may go on in the group, or a newer run takes its place.
    async fn enter(&self, run: u64, cancel_in_progress: bool) -> io::Result<Admission> {
        std::fs::create_dir_all(&self.dir)?;
        {
            let _claim = self.claim()?;
            if let Some(waiting) = read_number(&self.dir.join("pending")).filter(|&p| p != run) {
                self.ask_to_cancel(
                    waiting,
                    &format!(
                        "run {run} is newer in concurrency group `{}` and waits in its place",
                        self.name
                    ),
                )?;
            }
            write_number(&self.dir.join("pending"), run)?;
            if let Some(holder) = self.holder(run).filter(|_| cancel_in_progress) {
                self.ask_to_cancel(
                    holder,
                    &format!(
                        "run {run} of concurrency group `{}` cancels the one in progress",
                        self.name
                    ),
                )?;
            }
        }
        loop {
            {
                let _claim = self.claim()?;
                if let Some(why) = self.cancel_requested(run) {
                    if read_number(&self.dir.join("pending")) == Some(run) {
                        let _ = std::fs::remove_file(self.dir.join("pending"));
                    }
                    let _ = std::fs::remove_file(self.cancel_file(run));
                    return Ok(Admission::Cancelled(why));
                }
                let lock = lock_file(&self.dir.join("holder.lock"))?;
                match lock.try_lock() {
                    Ok(()) => {
                        write_number(&self.dir.join("holder"), run)?;
                        if read_number(&self.dir.join("pending")) == Some(run) {
                            std::fs::remove_file(self.dir.join("pending"))?;
                        }
                        return Ok(Admission::Granted(GroupHold {
                            dir: self.dir.clone(),
                            run,
                            _lock: lock,
                        }));
                    }
                    Err(TryLockError::WouldBlock) => {}
                    Err(TryLockError::Error(e)) => return Err(e),
                }
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn claim(&self) -> io::Result<File> {
        let file = lock_file(&self.dir.join("claim"))?;
        file.lock()?;
        Ok(file)
    }

    fn cancel_file(&self, run: u64) -> PathBuf {
        self.dir.join(format!("cancel-{run}"))
    }

    fn ask_to_cancel(&self, run: u64, why: &str) -> io::Result<()> {
        std::fs::write(self.cancel_file(run), why)
    }

    fn cancel_requested(&self, run: u64) -> Option<String> {
        std::fs::read_to_string(self.cancel_file(run)).ok()
    }
}

impl GroupHold {
    /// Why a newer run of the group asked this one to stop, if one did.
    pub(crate) fn cancel_requested(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.join(format!("cancel-{}", self.run))).ok()
    }
}

impl Drop for GroupHold {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.dir.join(format!("cancel-{}", self.run)));
        if read_number(&self.dir.join("holder")) == Some(self.run) {
            let _ = std::fs::remove_file(self.dir.join("holder"));
        }
    }
}

fn read_number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn write_number(path: &Path, n: u64) -> io::Result<()> {
    std::fs::write(path, n.to_string())
}
