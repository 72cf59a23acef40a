//! Files in the workspace that match path patterns: a file, a directory (everything under
//! it), or a glob; a leading `!` excludes, the last matching pattern deciding. `.git` is
//! never entered, and symbolic links to directories are not followed.

use std::io::Read;
use std::path::{Path, PathBuf};

use bellwether_pipeline_core::glob::Pattern;
use sha2::{Digest, Sha256};

/// Why files could not be selected or read.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// A pattern that is not a valid glob; the message says which and why.
    #[error("{0}")]
    Pattern(String),
    #[error("cannot read {file}")]
    Read {
        file: String,
        source: std::io::Error,
    },
}

impl FilesError {
    pub(crate) fn read(file: &str) -> impl FnOnce(std::io::Error) -> FilesError {
        move |source| FilesError::Read {
            file: file.to_owned(),
            source,
        }
    }
}

/// The files under `root` that the patterns select, as paths relative to `root`, sorted.
/// The directory the patterns' search paths have in common, as GitHub's upload-artifact finds
/// it: a pattern's search path is what comes before its first wildcard, a file's directory, or
/// a directory itself; exclusions (`!`) count for nothing. Empty: the workspace.
pub(crate) fn common_root(root: &Path, patterns: &[String]) -> PathBuf {
    let searched = patterns.iter().filter(|p| !p.starts_with('!')).map(|p| {
        let body = p.trim_start_matches("./").trim_end_matches('/');
        let literal: Vec<&str> = body
            .split('/')
            .take_while(|part| !part.contains(['*', '?', '[', '{']))
            .collect();
        let whole = literal.len() == body.split('/').count();
        let mut dir: PathBuf = literal.iter().collect();
        // A path without a wildcard names a file, whose directory is searched, or a directory.
        if whole && !root.join(&dir).is_dir() {
            dir.pop();
        }
        dir
    });
    searched
        .reduce(|common, next| {
            common
                .components()
                .zip(next.components())
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a)
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn matching(root: &Path, patterns: &[String]) -> Result<Vec<String>, FilesError> {
    let mut compiled = Vec::new();
    for p in patterns {
        let (negated, body) = p
            .strip_prefix('!')
            .map_or((false, p.as_str()), |b| (true, b));
        let body = body.trim_start_matches("./").trim_end_matches('/');
        let bang = if negated { "!" } else { "" };
        // A plain directory stands for everything under it.
        if root.join(body).is_dir() {
            compiled
                .push(Pattern::parse(&format!("{bang}{body}/**")).map_err(FilesError::Pattern)?);
        } else {
            compiled.push(Pattern::parse(&format!("{bang}{body}")).map_err(FilesError::Pattern)?);
        }
    }
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(root.join(&dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let relative = dir.join(entry.file_name());
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if entry.file_name() != ".git" {
                    stack.push(relative);
                }
                continue;
            }
            let text = relative.to_string_lossy().replace('\\', "/");
            let mut selected = false;
            for p in &compiled {
                if p.matches(&text) {
                    selected = !p.is_negated();
                }
            }
            if selected {
                out.push(text);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `hashFiles(...)`: the SHA-256 of the SHA-256s of the matching files, in path order, as
/// GitHub computes it; empty when nothing matches.
pub fn hash_files(root: &Path, patterns: &[String]) -> Result<String, FilesError> {
    let files = matching(root, patterns)?;
    if files.is_empty() {
        return Ok(String::new());
    }
    let mut all = Sha256::new();
    for f in &files {
        let digest = sha256_file(&root.join(f)).map_err(FilesError::read(f))?;
        all.update(digest);
    }
    Ok(hex(&all.finalize()))
}

pub(crate) fn sha256_file(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_root_is_where_githubs_upload_artifact_puts_it() {
        let dir = tempfile::tempdir().expect("a temp dir");
        for f in [
            "dist/app/main.js",
            "dist/app/css/a.css",
            "path/to/some/directory/foo1.txt",
        ] {
            let path = dir.path().join(f);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(&path, f).expect("write");
        }
        let root = |p: &[&str]| {
            common_root(
                dir.path(),
                &p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
            )
        };
        assert_eq!(root(&["dist/app/"]), Path::new("dist/app"));
        assert_eq!(root(&["dist/app/main.js"]), Path::new("dist/app"));
        assert_eq!(root(&["coverage.txt"]), Path::new(""));
        assert_eq!(
            root(&["path/to/*/directory/foo?.txt"]),
            Path::new("path/to")
        );
        assert_eq!(
            root(&["dist/app/**/*.css", "dist/app/main.js"]),
            Path::new("dist/app")
        );
        assert_eq!(root(&["dist/app", "path/to/some"]), Path::new(""));
        assert_eq!(root(&["dist/app", "!dist/app/css"]), Path::new("dist/app"));
    }

    #[test]
    fn patterns_select_files() {
        let dir = tempfile::tempdir().expect("a temp dir");
        for f in [
            "Cargo.lock",
            "src/main.rs",
            "src/lib.rs",
            "docs/a.md",
            ".git/HEAD",
            "target/x/y.o",
        ] {
            let path = dir.path().join(f);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(&path, f).expect("write");
        }
        let select = |p: &[&str]| {
            matching(
                dir.path(),
                &p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
            )
            .ok()
        };
        assert_eq!(
            select(&["src"]),
            Some(vec!["src/lib.rs".into(), "src/main.rs".into()])
        );
        assert_eq!(
            select(&["**/*.rs", "!src/lib.rs"]),
            Some(vec!["src/main.rs".into()])
        );
        assert_eq!(select(&["**/HEAD"]), Some(vec![]));
        assert_eq!(select(&["./target/"]), Some(vec!["target/x/y.o".into()]));
        let one = hash_files(dir.path(), &["Cargo.lock".into()]).expect("hashed");
        assert_eq!(one.len(), 64);
        assert_eq!(
            hash_files(dir.path(), &["nothing".into()]).expect("hashed"),
            ""
        );
        assert!(select(&["src/[a"]).is_none());
    }
}
