//! Copying files and directory trees, keeping symbolic links as links and permissions as
//! they were.

use std::io;
use std::path::Path;

/// Copies `from` (a file, a link or a directory) to `to`, creating parents as needed.
pub(crate) fn copy_tree(from: &Path, to: &Path) -> io::Result<u64> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    copy_into(from, to)
}

/// [`copy_tree`] where `to`'s parent exists: each directory is made once, as it is reached,
/// which on a slow filesystem is most of what a copy of many small files costs.
fn copy_into(from: &Path, to: &Path) -> io::Result<u64> {
    let meta = std::fs::symlink_metadata(from)?;
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(from)?;
        let _ = std::fs::remove_file(to);
        std::os::unix::fs::symlink(target, to)?;
        return Ok(0);
    }
    if meta.is_dir() {
        match std::fs::create_dir(to) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        let mut total = 0;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            total += copy_into(&entry.path(), &to.join(entry.file_name()))?;
        }
        return Ok(total);
    }
    std::fs::copy(from, to)
}

/// The bytes under `path`, links not followed.
pub(crate) fn size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| size(&e.path())).sum())
        .unwrap_or(0)
}
