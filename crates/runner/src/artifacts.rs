//! The artifact store: file contents kept once each by their SHA-256 in the data directory,
//! and one manifest per artifact of a run naming its files. `download` rebuilds the files
//! from the manifests; uploading the same content twice stores it once.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::walk::{FilesError, common_root, hex, matching, sha256_file};

/// Why an artifact was not stored or rebuilt.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("artifact `{0}` was already uploaded in this run (expected each name once)")]
    Twice(String),
    #[error(
        "`{0}` is not an artifact name (expected letters, digits, `.`, `_` and `-`, not starting with `.`)"
    )]
    BadName(String),
    #[error("no files match {0} (expected at least one)")]
    NoFiles(String),
    #[error(transparent)]
    Files(#[from] FilesError),
    #[error("cannot create the artifact store")]
    CreateStore(#[source] std::io::Error),
    #[error("cannot store {file}")]
    Store {
        file: String,
        source: std::io::Error,
    },
    #[error("cannot write the manifest")]
    WriteManifest(#[source] std::io::Error),
    #[error("artifact `{0}` was not uploaded in this run (did the job that uploads it succeed?)")]
    NotUploaded(String),
    #[error("artifact `{name}` has a bad manifest")]
    BadManifest {
        name: String,
        source: serde_json::Error,
    },
    #[error("artifact `{name}` names a path outside the workspace: {path}")]
    Outside { name: String, path: String },
    #[error(
        "artifacts `{first}` and `{second}` both hold {path}, and one would overwrite the other (expected a download step per artifact, each with its own `path`)"
    )]
    Overlap {
        path: String,
        first: String,
        second: String,
    },
    #[error("cannot write {path}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

#[derive(Clone, Debug)]
pub struct Artifacts {
    /// `<data>/artifacts/objects`, shared by every run.
    objects: PathBuf,
    /// `<run>/artifacts`, one manifest per name.
    manifests: PathBuf,
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    name: String,
    /// Who uploaded it; absent in manifests written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    by: Option<Uploader>,
    files: Vec<Entry>,
}

/// The job, and its matrix leg, that uploaded an artifact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uploader {
    pub job: String,
    pub leg: usize,
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    path: String,
    sha256: String,
    size: u64,
    executable: bool,
}

impl Artifacts {
    pub fn new(objects: impl Into<PathBuf>, manifests: impl Into<PathBuf>) -> Artifacts {
        Artifacts {
            objects: objects.into(),
            manifests: manifests.into(),
        }
    }

    /// Where artifact `name`'s manifest is. A name may be computed from what a run was given
    /// (`${{ matrix.x }}`, `${{ github.head_ref }}`): one that could reach out of the run's
    /// directory is refused.
    fn manifest(&self, name: &str) -> Result<PathBuf, ArtifactError> {
        let valid = !name.is_empty()
            && !name.starts_with('.')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid {
            return Err(ArtifactError::BadName(name.to_owned()));
        }
        Ok(self.manifests.join(format!("{name}.json")))
    }

    /// Stores the files the patterns select under `workdir`, as uploaded `by` a job, each by
    /// its path from the workspace or, `from_common_root`, from the directory the patterns
    /// have in common (GitHub's layout: `dist/` uploads `app.js`, not `dist/app.js`); returns
    /// (files, bytes).
    pub fn upload(
        &self,
        name: &str,
        patterns: &[String],
        workdir: &Path,
        by: Uploader,
        from_common_root: bool,
    ) -> Result<(usize, u64), ArtifactError> {
        let manifest_path = self.manifest(name)?;
        if manifest_path.exists() {
            return Err(ArtifactError::Twice(name.to_owned()));
        }
        let files = matching(workdir, patterns)?;
        if files.is_empty() {
            return Err(ArtifactError::NoFiles(patterns.join(", ")));
        }
        let root = if from_common_root {
            common_root(workdir, patterns)
        } else {
            PathBuf::new()
        };
        std::fs::create_dir_all(&self.objects).map_err(ArtifactError::CreateStore)?;
        // Until the manifest names them, the contents stored are named by nothing: retention
        // waits for the upload to end before it removes what nothing names.
        let _uploading = guard(&self.objects)
            .and_then(|file| file.lock_shared().map(|()| file))
            .map_err(ArtifactError::CreateStore)?;
        let mut entries = Vec::new();
        let mut bytes = 0;
        for f in files {
            let path = workdir.join(&f);
            let digest = hex(&sha256_file(&path).map_err(FilesError::read(&f))?);
            let meta = std::fs::metadata(&path).map_err(FilesError::read(&f))?;
            let object = self.objects.join(&digest);
            if !object.exists() {
                // Copy under a temporary name first, so that an object is never half there.
                let partial = self
                    .objects
                    .join(format!(".{digest}.{}", std::process::id()));
                let store = |source| ArtifactError::Store {
                    file: f.clone(),
                    source,
                };
                std::fs::copy(&path, &partial).map_err(store)?;
                std::fs::rename(&partial, &object).map_err(store)?;
            }
            bytes += meta.len();
            let kept = Path::new(&f)
                .strip_prefix(&root)
                .map_or_else(|_| f.clone(), |p| p.to_string_lossy().into_owned());
            entries.push(Entry {
                path: kept,
                sha256: digest,
                size: meta.len(),
                executable: meta.permissions().mode() & 0o111 != 0,
            });
        }
        let count = entries.len();
        let manifest = Manifest {
            name: name.to_owned(),
            by: Some(by),
            files: entries,
        };
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| ArtifactError::WriteManifest(e.into()))?;
        std::fs::create_dir_all(&self.manifests).map_err(ArtifactError::WriteManifest)?;
        std::fs::write(manifest_path, json).map_err(ArtifactError::WriteManifest)?;
        Ok((count, bytes))
    }

    /// Removes the run's artifacts that `doomed` picks, given each one's name and uploader,
    /// so that the jobs a rerun runs again can upload theirs again.
    pub fn forget(&self, doomed: impl Fn(&str, Option<&Uploader>) -> bool) {
        let Ok(entries) = std::fs::read_dir(&self.manifests) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let read = std::fs::read(&path)
                .ok()
                .and_then(|text| serde_json::from_slice::<Manifest>(&text).ok());
            if let Some(manifest) = read
                && doomed(&manifest.name, manifest.by.as_ref())
            {
                let _ = std::fs::remove_file(&path);
            }
        }
    }

    /// Rebuilds the files of the artifacts `names` under `target`; returns how many each had.
    /// Every manifest is read and checked before any file is written, so a download that
    /// fails writes nothing, and two artifacts holding the same path are refused rather than
    /// one silently overwriting the other.
    pub fn download(
        &self,
        names: &[String],
        target: &Path,
    ) -> Result<Vec<(String, usize)>, ArtifactError> {
        let mut manifests = Vec::with_capacity(names.len());
        let mut holders: BTreeMap<&str, &str> = BTreeMap::new();
        for name in names {
            manifests.push(self.read(name)?);
        }
        for manifest in &manifests {
            for entry in &manifest.files {
                if entry.path.split('/').any(|p| p == "..") || entry.path.starts_with('/') {
                    return Err(ArtifactError::Outside {
                        name: manifest.name.clone(),
                        path: entry.path.clone(),
                    });
                }
                if let Some(first) = holders.insert(&entry.path, &manifest.name) {
                    return Err(ArtifactError::Overlap {
                        path: entry.path.clone(),
                        first: first.to_owned(),
                        second: manifest.name.clone(),
                    });
                }
            }
        }
        for manifest in &manifests {
            for entry in &manifest.files {
                let write = |source| ArtifactError::Write {
                    path: entry.path.clone(),
                    source,
                };
                let to = target.join(&entry.path);
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent).map_err(write)?;
                }
                std::fs::copy(self.objects.join(&entry.sha256), &to).map_err(write)?;
                let mode = if entry.executable { 0o755 } else { 0o644 };
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode))
                    .map_err(write)?;
            }
        }
        Ok(manifests
            .into_iter()
            .map(|m| (m.name, m.files.len()))
            .collect())
    }

    fn read(&self, name: &str) -> Result<Manifest, ArtifactError> {
        let text = std::fs::read(self.manifest(name)?)
            .map_err(|_| ArtifactError::NotUploaded(name.to_owned()))?;
        serde_json::from_slice(&text).map_err(|source| ArtifactError::BadManifest {
            name: name.to_owned(),
            source,
        })
    }
}

/// The lock beside the contents `objects`: shared by uploads, taken alone by
/// [`remove_unnamed`].
fn guard(objects: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(objects.with_file_name("objects.lock"))
}

/// Removes the contents in `objects` that no manifest in the directories `manifests` names
/// (their runs are gone, or an upload died before its manifest); returns how many and their
/// bytes. Nothing is removed while an upload goes on, nor when a manifest cannot be read,
/// since then what it names is unknown: the next sweep tries again.
pub(crate) fn remove_unnamed(
    objects: &Path,
    manifests: impl Iterator<Item = PathBuf>,
) -> std::io::Result<(usize, u64)> {
    if !objects.is_dir() {
        return Ok((0, 0));
    }
    let lock = guard(objects)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok((0, 0)),
        Err(std::fs::TryLockError::Error(e)) => return Err(e),
    }
    let mut named = std::collections::BTreeSet::new();
    for dir in manifests {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let read = std::fs::read(&path)
                .ok()
                .and_then(|text| serde_json::from_slice::<Manifest>(&text).ok());
            let Some(manifest) = read else {
                return Ok((0, 0));
            };
            named.extend(manifest.files.into_iter().map(|f| f.sha256));
        }
    }
    let (mut count, mut bytes) = (0, 0);
    for entry in std::fs::read_dir(objects)?.flatten() {
        let name = entry.file_name();
        if named.contains(name.to_string_lossy().as_ref()) {
            continue;
        }
        let size = entry.metadata().map_or(0, |m| m.len());
        if std::fs::remove_file(entry.path()).is_ok() {
            count += 1;
            bytes += size;
        }
    }
    Ok((count, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    /// Two artifacts with the same path are refused together, and nothing is written.
    #[test]
    fn overlapping_artifacts_are_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).expect("mkdir");
        std::fs::write(work.join("coverage.txt"), "c").expect("write");
        std::fs::write(work.join("api.txt"), "a").expect("write");
        let store = Artifacts::new(dir.path().join("objects"), dir.path().join("run"));
        for (leg, name) in ["cover-api", "cover-web"].into_iter().enumerate() {
            let by = Uploader {
                job: "test".to_owned(),
                leg,
            };
            let paths = ["coverage.txt".into(), "api.txt".into()];
            store
                .upload(name, &paths[..paths.len() - leg], &work, by, false)
                .expect("uploaded");
        }
        let out = dir.path().join("out");
        let refused = store
            .download(&names(&["cover-web", "cover-api"]), &out)
            .expect_err("the same path twice");
        assert_eq!(
            refused.to_string(),
            "artifacts `cover-web` and `cover-api` both hold coverage.txt, and one would overwrite the other (expected a download step per artifact, each with its own `path`)"
        );
        assert!(!out.exists());
    }

    #[test]
    fn contents_are_stored_once_and_come_back_whole() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let work = dir.path().join("work");
        std::fs::create_dir_all(work.join("dist")).expect("mkdir");
        std::fs::write(work.join("dist/app.js"), "same").expect("write");
        std::fs::write(work.join("dist/copy.js"), "same").expect("write");
        std::fs::write(work.join("dist/run.sh"), "#!/bin/sh").expect("write");
        std::fs::set_permissions(
            work.join("dist/run.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .expect("chmod");
        let store = Artifacts::new(dir.path().join("objects"), dir.path().join("run"));
        let by = |job: &str, leg| Uploader {
            job: job.to_owned(),
            leg,
        };
        assert_eq!(
            store
                .upload("web", &["dist".into()], &work, by("build", 0), false)
                .expect("uploaded"),
            (3, 17)
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join("objects"))
                .map(|d| d.count())
                .ok(),
            Some(2)
        );
        assert!(
            store
                .upload("web", &["dist".into()], &work, by("build", 1), false)
                .is_err()
        );
        assert_eq!(
            store
                .upload("none", &["nothing/**".into()], &work, by("build", 0), false)
                .expect_err("nothing matches")
                .to_string(),
            "no files match nothing/** (expected at least one)"
        );
        let out = dir.path().join("out");
        assert_eq!(
            store.download(&names(&["web"]), &out).expect("downloaded"),
            vec![("web".to_owned(), 3)]
        );
        assert_eq!(
            std::fs::read_to_string(out.join("dist/copy.js"))
                .ok()
                .as_deref(),
            Some("same")
        );
        let mode = std::fs::metadata(out.join("dist/run.sh"))
            .map(|m| m.permissions().mode() & 0o777)
            .ok();
        assert_eq!(mode, Some(0o755));
        assert!(store.download(&names(&["missing"]), &out).is_err());
    }

    #[test]
    fn a_computed_name_cannot_leave_the_run_and_a_rerun_forgets_by_uploader() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).expect("mkdir");
        std::fs::write(work.join("report"), "r").expect("write");
        let store = Artifacts::new(dir.path().join("objects"), dir.path().join("run"));
        let by = |leg| Uploader {
            job: "test".to_owned(),
            leg,
        };
        for bad in ["../escape", "a/b", ".hidden", "", "sp ace"] {
            assert!(
                matches!(
                    store.upload(bad, &["report".into()], &work, by(0), false),
                    Err(ArtifactError::BadName(_))
                ),
                "{bad}"
            );
            assert!(matches!(
                store.download(&names(&[bad]), &work),
                Err(ArtifactError::BadName(_))
            ));
        }
        for (leg, name) in ["report-api", "report-web"].into_iter().enumerate() {
            store
                .upload(name, &["report".into()], &work, by(leg), false)
                .expect("uploaded");
        }
        store.forget(|_, by| by.is_some_and(|b| b.leg == 1));
        assert!(
            store
                .download(&names(&["report-api"]), &dir.path().join("o"))
                .is_ok()
        );
        assert!(matches!(
            store.download(&names(&["report-web"]), &dir.path().join("o")),
            Err(ArtifactError::NotUploaded(_))
        ));
        store
            .upload("report-web", &["report".into()], &work, by(1), false)
            .expect("uploaded again after a rerun forgot it");
    }
}
