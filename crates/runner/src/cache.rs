//! The local cache behind `cache:` steps: entries by key in the data directory, restored by
//! exact key or by the newest entry whose key starts with a restore key, saved once (entries
//! never change), and evicted least recently used first when the cache passes its size limit.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::copy::{copy_tree, size};
use crate::walk::hex;

#[derive(Clone, Debug)]
pub struct Cache {
    dir: PathBuf,
    limit: u64,
    /// Serialises the use counter among this process's jobs.
    clock: Arc<Mutex<()>>,
}

/// Why a cache entry was not restored or saved.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot read the cache entry")]
    ReadEntry(#[source] std::io::Error),
    #[error("cannot restore the cache")]
    Restore(#[source] std::io::Error),
    #[error("cannot save {path}")]
    SavePath {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot save the cache")]
    Save(#[source] std::io::Error),
}

/// What a restore found.
#[derive(Debug, PartialEq, Eq)]
pub enum Restored {
    Exact,
    Partial(String),
    Miss,
}

impl Cache {
    /// A cache under `dir` that keeps at most `limit` bytes.
    pub fn new(dir: impl Into<PathBuf>, limit: u64) -> Cache {
        Cache {
            dir: dir.into(),
            limit,
            clock: Arc::default(),
        }
    }

    /// Marks an entry as used now: a counter rather than a file time, whose resolution
    /// could not order two uses in quick succession.
    fn touch(&self, entry: &Path) {
        let _guard = self.clock.lock();
        let clock = self.dir.join(".clock");
        let now = std::fs::read_to_string(&clock)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
            .unwrap_or(0)
            + 1;
        let _ = std::fs::write(&clock, now.to_string());
        let _ = std::fs::write(entry.join("used"), now.to_string());
    }

    fn last_used(entry: &Path) -> u64 {
        std::fs::read_to_string(entry.join("used"))
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0)
    }

    fn entry(&self, key: &str) -> PathBuf {
        self.dir.join(hex(&Sha256::digest(key.as_bytes())))
    }

    /// Copies the entry's paths into `workdir`: the exact key's, or the newest one matching a
    /// restore key.
    pub fn restore(
        &self,
        key: &str,
        restore_keys: &[String],
        workdir: &Path,
    ) -> Result<Restored, CacheError> {
        let exact = self.entry(key);
        let (found, how) = if exact.join("key").exists() {
            (exact, Restored::Exact)
        } else {
            match restore_keys.iter().find_map(|prefix| self.newest(prefix)) {
                Some((dir, key)) => (dir, Restored::Partial(key)),
                None => return Ok(Restored::Miss),
            }
        };
        let files = found.join("files");
        for entry in std::fs::read_dir(&files)
            .map_err(CacheError::ReadEntry)?
            .flatten()
        {
            copy_tree(&entry.path(), &workdir.join(entry.file_name()))
                .map_err(CacheError::Restore)?;
        }
        self.touch(&found);
        Ok(how)
    }

    /// The most recently used entry whose key starts with `prefix`.
    fn newest(&self, prefix: &str) -> Option<(PathBuf, String)> {
        std::fs::read_dir(&self.dir)
            .ok()?
            .flatten()
            .filter_map(|e| {
                let key = std::fs::read_to_string(e.path().join("key")).ok()?;
                key.starts_with(prefix)
                    .then(|| (Self::last_used(&e.path()), e.path(), key))
            })
            .max_by_key(|(used, _, _)| *used)
            .map(|(_, path, key)| (path, key))
    }

    /// Saves `paths` (relative to `workdir`) under `key`, unless an entry exists; returns the
    /// bytes saved. Then evicts old entries down to the limit.
    pub fn save(
        &self,
        key: &str,
        paths: &[String],
        workdir: &Path,
    ) -> Result<Option<u64>, CacheError> {
        let target = self.entry(key);
        if target.exists() {
            return Ok(None);
        }
        // Unique per save: matrix combinations of one job save the same key at the same time.
        static SAVES: AtomicU64 = AtomicU64::new(0);
        let staging = self.dir.join(format!(
            ".staging-{}-{}-{}",
            std::process::id(),
            SAVES.fetch_add(1, Ordering::Relaxed),
            hex(&Sha256::digest(key.as_bytes()))
        ));
        let _ = std::fs::remove_dir_all(&staging);
        let mut bytes = 0;
        for p in paths {
            let from = workdir.join(p);
            if from.exists() {
                bytes += copy_tree(&from, &staging.join("files").join(p)).map_err(|source| {
                    CacheError::SavePath {
                        path: p.clone(),
                        source,
                    }
                })?;
            }
        }
        std::fs::create_dir_all(staging.join("files")).map_err(CacheError::Save)?;
        std::fs::write(staging.join("key"), key).map_err(CacheError::Save)?;
        // Renaming makes the entry appear whole or not at all.
        if std::fs::rename(&staging, &target).is_err() {
            let _ = std::fs::remove_dir_all(&staging);
            return Ok(None);
        }
        self.touch(&target);
        self.evict();
        Ok(Some(bytes))
    }

    /// Removes the least recently used entries until the cache fits its limit.
    fn evict(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut all: Vec<(u64, PathBuf, u64)> = entries
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| (Self::last_used(&e.path()), e.path(), size(&e.path())))
            .collect();
        all.sort();
        let mut total: u64 = all.iter().map(|(_, _, s)| s).sum();
        for (_, path, bytes) in all {
            if total <= self.limit {
                break;
            }
            if std::fs::remove_dir_all(&path).is_ok() {
                total = total.saturating_sub(bytes);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_exact_then_by_prefix_and_evict_the_oldest() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let cache = Cache::new(dir.path().join("cache"), 10_000);
        let work = dir.path().join("work");
        std::fs::create_dir_all(work.join("target")).expect("mkdir");
        std::fs::write(work.join("target/a.o"), vec![1u8; 3000]).expect("write");
        assert_eq!(
            cache.restore("deps-1", &[], &work).ok(),
            Some(Restored::Miss)
        );
        assert_eq!(
            cache.save("deps-1", &["target".into()], &work).ok(),
            Some(Some(3000))
        );
        assert_eq!(
            cache.save("deps-1", &["target".into()], &work).ok(),
            Some(None),
            "entries never change"
        );
        std::fs::remove_dir_all(work.join("target")).expect("clean");
        assert_eq!(
            cache.restore("deps-1", &[], &work).ok(),
            Some(Restored::Exact)
        );
        assert_eq!(
            std::fs::read(work.join("target/a.o")).map(|b| b.len()).ok(),
            Some(3000)
        );
        assert_eq!(
            cache.restore("deps-2", &["deps-".into()], &work).ok(),
            Some(Restored::Partial("deps-1".into()))
        );
        for key in ["other-1", "other-2", "other-3"] {
            assert!(cache.save(key, &["target".into()], &work).is_ok());
        }
        // Four entries of 3000 bytes do not fit in 10,000: the least recently used goes.
        assert_eq!(
            cache.restore("deps-1", &[], &work).ok(),
            Some(Restored::Miss)
        );
        assert_eq!(
            cache.restore("other-3", &[], &work).ok(),
            Some(Restored::Exact)
        );
    }
}
