//! Retention of the data directory: finished runs past their age are forgotten by the store,
//! then their directories removed; the logs and artifacts of older finished runs may go sooner;
//! last, the artifact contents that no manifest names any more. Rows go first and files after,
//! so a crash in between leaves only directories that no run names, which the next sweep finds
//! and removes. Runs not finished, the latest run of each pipeline and a run whose lock a
//! process holds (a rerun about to start) keep everything.

use std::collections::BTreeMap;
use std::fs::{OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::{DataDir, DataError};
use crate::artifacts;

/// How many runs one transaction of the store forgets: a big first sweep holds the store's
/// writer (and the claim) for many short transactions, not one long one.
const BATCH: u32 = 500;

/// What a sweep removes: each kind that finished before its instant (milliseconds since the
/// epoch), or nothing of that kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cutoffs {
    pub runs: Option<u64>,
    pub logs: Option<u64>,
    pub artifacts: Option<u64>,
}

/// What a sweep removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub runs: usize,
    /// Step log files, of the runs removed and of those whose logs went sooner.
    pub log_files: usize,
    /// Artifacts (one manifest each) of the runs removed and of those whose artifacts went.
    pub artifacts: usize,
    /// Stored artifact contents no artifact names any more.
    pub contents: usize,
    /// The bytes of every file removed.
    pub bytes: u64,
}

impl Swept {
    pub fn is_empty(&self) -> bool {
        *self == Swept::default()
    }
}

impl DataDir {
    /// Removes what `cut` says is old. The claim that creating a run takes (and a rerun, to
    /// read its run and take its lock) is held while the store forgets each batch and while
    /// each directory is judged, never for the whole sweep: runs start meanwhile.
    pub fn sweep_old(&self, cut: &Cutoffs) -> Result<Swept, DataError> {
        let mut swept = Swept::default();
        if let Some(before) = cut.runs {
            loop {
                let gone = {
                    let _claim = self.claim()?;
                    let held = self.held_runs();
                    self.store
                        .forget_finished(before, BATCH, &held)
                        .map_err(|e| self.store_error(e))?
                };
                // No run names these directories any more: nothing else touches them.
                for &number in &gone {
                    swept.runs += 1;
                    remove(&self.run_dir(number), Part::Run, &mut swept);
                }
                if gone.len() < BATCH as usize {
                    break;
                }
            }
        }
        let mut latest = BTreeMap::new();
        for (number, dir) in self.run_dirs() {
            let _claim = self.claim()?;
            if is_held(&dir) {
                continue;
            }
            let Some(run) = self.store.run(number).map_err(|e| self.store_error(e))? else {
                // Left by a sweep that ended between the rows and the files.
                if cut.runs.is_some() {
                    remove(&dir, Part::Run, &mut swept);
                }
                continue;
            };
            let Some(finished) = run.finished_ms.filter(|_| run.status.is_final()) else {
                continue;
            };
            let newest = match latest.get(&run.pipeline) {
                Some(&newest) => newest,
                None => {
                    let listed = self
                        .store
                        .list(Some(&run.pipeline), 1)
                        .map_err(|e| self.store_error(e))?;
                    let newest = listed.first().map_or(number, |r| r.number);
                    latest.insert(run.pipeline.clone(), newest);
                    newest
                }
            };
            if number >= newest {
                continue;
            }
            let past = |cut: Option<u64>| cut.is_some_and(|before| finished < before);
            if past(cut.logs) {
                for logs in log_dirs(&dir) {
                    remove(&logs, Part::Logs, &mut swept);
                }
            }
            if past(cut.artifacts) {
                remove(&dir.join("artifacts"), Part::Artifacts, &mut swept);
            }
        }
        if cut.artifacts.is_some() || cut.runs.is_some() {
            let manifests = self.run_dirs().map(|(_, dir)| dir.join("artifacts"));
            let objects = self.objects();
            let (contents, bytes) =
                artifacts::remove_unnamed(&objects, manifests).map_err(|source| DataError::Io {
                    path: objects.clone(),
                    source,
                })?;
            swept.contents += contents;
            swept.bytes += bytes;
        }
        Ok(swept)
    }

    /// Every run directory with its number.
    fn run_dirs(&self) -> impl Iterator<Item = (u64, PathBuf)> {
        std::fs::read_dir(self.runs())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let number = e.file_name().to_str()?.parse::<u64>().ok()?;
                Some((number, e.path()))
            })
    }

    /// The runs whose lock another process holds: going on, or about to be run again.
    fn held_runs(&self) -> Vec<u64> {
        self.run_dirs()
            .filter(|(_, dir)| is_held(dir))
            .map(|(number, _)| number)
            .collect()
    }
}

/// Whether another process holds the lock of the run in `dir`.
fn is_held(dir: &Path) -> bool {
    OpenOptions::new()
        .write(true)
        .open(dir.join("lock"))
        .is_ok_and(|f| matches!(f.try_lock(), Err(TryLockError::WouldBlock)))
}

/// The directories in `dir` that hold step logs: `logs`, and `logs-N` of later attempts.
fn log_dirs(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with("logs"))
        })
        .map(|e| e.path())
        .collect()
}

/// What is removed, counted: a whole run's directory, its logs, or its artifacts.
enum Part {
    Run,
    Logs,
    Artifacts,
}

/// Removes `dir`, counting what it held into `swept`. What cannot be removed now is found
/// again by the next sweep.
fn remove(dir: &Path, part: Part, swept: &mut Swept) {
    if !std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        return;
    }
    let logs = match part {
        Part::Run => log_dirs(dir).iter().map(|d| files(d).0).sum(),
        Part::Logs => files(dir).0,
        Part::Artifacts => 0,
    };
    let manifests = match part {
        Part::Run => manifests(&dir.join("artifacts")),
        Part::Artifacts => manifests(dir),
        Part::Logs => 0,
    };
    let bytes = files(dir).1;
    if std::fs::remove_dir_all(dir).is_ok() {
        swept.log_files += logs;
        swept.artifacts += manifests;
        swept.bytes += bytes;
    }
}

/// How many files `dir` holds, at any depth, and their bytes.
fn files(dir: &Path) -> (usize, u64) {
    let mut total = (0, 0);
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => {
                let (n, bytes) = files(&entry.path());
                total = (total.0 + n, total.1 + bytes);
            }
            Ok(_) => {
                total = (
                    total.0 + 1,
                    total.1 + entry.metadata().map_or(0, |m| m.len()),
                );
            }
            Err(_) => {}
        }
    }
    total
}

/// How many artifacts' manifests a run's `artifacts` directory holds.
fn manifests(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .count()
}
