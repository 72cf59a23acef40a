//! The artifact store: file contents kept once each by their SHA-256 in the data directory,
//! and one manifest per artifact of a run naming its files. `download` rebuilds the files
//! from the manifest; uploading the same content twice stores it once.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::walk::{FilesError, hex, matching, sha256_file};

/// Why an artifact was not stored or rebuilt.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("artifact `{0}` was already uploaded in this run (expected each name once)")]
    Twice(String),
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
    files: Vec<Entry>,
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

    fn manifest(&self, name: &str) -> PathBuf {
        self.manifests.join(format!("{name}.json"))
    }

    /// Stores the files the patterns select under `workdir`; returns (files, bytes).
    pub fn upload(
        &self,
        name: &str,
        patterns: &[String],
        workdir: &Path,
    ) -> Result<(usize, u64), ArtifactError> {
        if self.manifest(name).exists() {
            return Err(ArtifactError::Twice(name.to_owned()));
        }
        let files = matching(workdir, patterns)?;
        if files.is_empty() {
            return Err(ArtifactError::NoFiles(patterns.join(", ")));
        }
        std::fs::create_dir_all(&self.objects).map_err(ArtifactError::CreateStore)?;
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
            entries.push(Entry {
                path: f,
                sha256: digest,
                size: meta.len(),
                executable: meta.permissions().mode() & 0o111 != 0,
            });
        }
        let count = entries.len();
        let manifest = Manifest {
            name: name.to_owned(),
            files: entries,
        };
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| ArtifactError::WriteManifest(e.into()))?;
        std::fs::create_dir_all(&self.manifests).map_err(ArtifactError::WriteManifest)?;
        std::fs::write(self.manifest(name), json).map_err(ArtifactError::WriteManifest)?;
        Ok((count, bytes))
    }

    /// Rebuilds artifact `name`'s files under `target`; returns how many.
    pub fn download(&self, name: &str, target: &Path) -> Result<usize, ArtifactError> {
        let text = std::fs::read(self.manifest(name))
            .map_err(|_| ArtifactError::NotUploaded(name.to_owned()))?;
        let manifest: Manifest =
            serde_json::from_slice(&text).map_err(|source| ArtifactError::BadManifest {
                name: name.to_owned(),
                source,
            })?;
        for entry in &manifest.files {
            if entry.path.split('/').any(|p| p == "..") || entry.path.starts_with('/') {
                return Err(ArtifactError::Outside {
                    name: name.to_owned(),
                    path: entry.path.clone(),
                });
            }
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
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode)).map_err(write)?;
        }
        Ok(manifest.files.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            store
                .upload("web", &["dist".into()], &work)
                .expect("uploaded"),
            (3, 17)
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join("objects"))
                .map(|d| d.count())
                .ok(),
            Some(2)
        );
        assert!(store.upload("web", &["dist".into()], &work).is_err());
        assert_eq!(
            store
                .upload("none", &["nothing/**".into()], &work)
                .expect_err("nothing matches")
                .to_string(),
            "no files match nothing/** (expected at least one)"
        );
        let out = dir.path().join("out");
        assert_eq!(store.download("web", &out).expect("downloaded"), 3);
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
        assert!(store.download("missing", &out).is_err());
    }
}
