//! A replica's state file: enough to find the process again after the control plane restarts,
//! and to tell it from an unrelated process that later got the same pid.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use bellwether_procfs as procfs;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ReplicaRecord {
    pub(crate) pid: u32,
    pub(crate) port: u16,
    pub(crate) start_time: u64,
}

pub(crate) fn path(data_dir: &Path, service: &str, revision: u64, index: u32) -> PathBuf {
    data_dir
        .join("replicas")
        .join(service)
        .join(revision.to_string())
        .join(format!("{index}.json"))
}

/// Writes the record through a temporary file and a rename, so it is never half-written.
pub(crate) fn write(path: &Path, record: &ReplicaRecord) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec(record).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(tmp, path)
}

/// The record at `path` if its process still runs; a stale record is removed.
pub(crate) fn find_alive(path: &Path) -> Option<ReplicaRecord> {
    let record: ReplicaRecord = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    if procfs::start_time(record.pid) == Some(record.start_time) {
        Some(record)
    } else {
        let _ = std::fs::remove_file(path);
        None
    }
}

pub(crate) fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}

/// Every record under the data directory: replicas a previous control plane left running.
pub(crate) fn all(data_dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![data_dir.join("replicas")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|e| e == "json") {
                out.push(p);
            }
        }
    }
    out
}
