//! Replica output: through a pipe to the log writer (`writer.rs`), which stamps each line
//! with its time and appends it to the replica's log file, rotated in place by copying and
//! truncating. This module is the only code that knows the files' layout: readers get lines
//! (`follow.rs`).

mod files;
mod follow;
mod lines;
mod reader;
mod stamp;
mod writer;

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

pub(crate) use follow::start as read;
pub use writer::{Rotation, write_log};

/// Where the logs of a service's replicas are: `<dir>/<revision>/<index>.log`.
pub(crate) fn log_dir(data_dir: &Path, service: &str) -> PathBuf {
    data_dir.join("logs").join(service)
}

pub(crate) fn log_path(data_dir: &Path, service: &str, revision: u64, index: u32) -> PathBuf {
    log_dir(data_dir, service)
        .join(revision.to_string())
        .join(format!("{index}.log"))
}

/// Opens the log for appending.
fn open(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

/// When the log is over `max_bytes`: `x.log.1` becomes `x.log.2` and so on up to `keep`, the
/// log is copied to `x.log.1` and truncated. The writer appends, so it continues at the new end.
fn rotate_if_large(path: &Path, max_bytes: u64, keep: u32) -> std::io::Result<bool> {
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if len <= max_bytes || keep == 0 {
        return Ok(false);
    }
    let numbered = |n: u32| PathBuf::from(format!("{}.{n}", path.display()));
    for n in (1..keep).rev() {
        if numbered(n).exists() {
            std::fs::rename(numbered(n), numbered(n + 1))?;
        }
    }
    std::fs::copy(path, numbered(1))?;
    OpenOptions::new().write(true).open(path)?.set_len(0)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn rotation_keeps_the_newest_files_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        let mut writer = open(&path).unwrap();
        for round in 0..4 {
            writer
                .write_all(format!("round {round}\n").repeat(100).as_bytes())
                .unwrap();
            assert!(rotate_if_large(&path, 500, 2).unwrap());
        }
        writer.write_all(b"after\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "after\n");
        assert!(
            std::fs::read_to_string(format!("{}.1", path.display()))
                .unwrap()
                .starts_with("round 3")
        );
        assert!(
            std::fs::read_to_string(format!("{}.2", path.display()))
                .unwrap()
                .starts_with("round 2")
        );
        assert!(!PathBuf::from(format!("{}.3", path.display())).exists());
    }
}
