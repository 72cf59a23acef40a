//! The repository the control plane builds from: a git repository on this machine (the
//! project's own by default), or a remote URL, cloned into the data directory and fetched
//! again before each look. Its refs are what polling compares; its commits are what runs
//! check out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Why the repository could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{} is not in a git repository", dir.display())]
    NotARepository { dir: PathBuf, source: GitError },
    #[error("cannot clone into {}", path.display())]
    Clone {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Git(#[from] GitError),
}

/// Why a git command failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git")]
    Spawn(#[source] std::io::Error),
    /// What git said on its standard error.
    #[error("{0}")]
    Failed(String),
}

#[derive(Clone, Debug)]
pub struct Source {
    kind: Kind,
    /// Where a run's workspace is made from: the project's place in the repository.
    project: PathBuf,
}

#[derive(Clone, Debug)]
enum Kind {
    /// A repository here: its branches are its own.
    Local(PathBuf),
    /// A clone of `url` at `clone`: its branches are `origin`'s.
    Remote { url: String, clone: PathBuf },
}

impl Source {
    /// `given` (a directory, else a URL), or the repository around `project` when `None`.
    /// A remote is cloned under `data`.
    pub fn new(given: Option<&str>, project: &Path, data: &Path) -> Result<Source, SourceError> {
        let local = |dir: &Path| -> Result<PathBuf, SourceError> {
            let top = git(dir, &["rev-parse", "--show-toplevel"]).map_err(|source| {
                SourceError::NotARepository {
                    dir: dir.to_path_buf(),
                    source,
                }
            })?;
            Ok(PathBuf::from(top.trim()))
        };
        match given {
            None => {
                let top = local(project)?;
                Ok(Source {
                    kind: Kind::Local(top),
                    project: project.to_path_buf(),
                })
            }
            Some(dir) if Path::new(dir).is_dir() => {
                let top = local(Path::new(dir))?;
                Ok(Source {
                    project: top.clone(),
                    kind: Kind::Local(top),
                })
            }
            Some(url) => {
                let clone = data.join("source");
                Ok(Source {
                    project: clone.clone(),
                    kind: Kind::Remote {
                        url: url.to_owned(),
                        clone,
                    },
                })
            }
        }
    }

    /// Where a run's workspace is checked out from.
    pub fn project(&self) -> &Path {
        &self.project
    }

    /// What `bellwether up` says it watches.
    /// The repository for people and logs: a URL's credentials (`https://user:token@…`) are
    /// left out.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Local(top) => top.display().to_string(),
            Kind::Remote { url, .. } => without_credentials(url),
        }
    }

    fn top(&self) -> &Path {
        match &self.kind {
            Kind::Local(top) => top,
            Kind::Remote { clone, .. } => clone,
        }
    }

    /// Brings a remote's commits here (cloning it the first time); nothing for a local one.
    pub fn sync(&self) -> Result<(), SourceError> {
        let Kind::Remote { url, clone } = &self.kind else {
            return Ok(());
        };
        if !clone.join(".git").exists() {
            let cannot_clone = |source| SourceError::Clone {
                path: clone.clone(),
                source,
            };
            let parent = clone.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(parent).map_err(cannot_clone)?;
            let tmp = clone.with_extension("partial");
            let _ = std::fs::remove_dir_all(&tmp);
            run(Command::new("git")
                .args(["clone", "--quiet", "--no-checkout", url])
                .arg(&tmp))?;
            std::fs::rename(&tmp, clone).map_err(cannot_clone)?;
        }
        git(
            clone,
            &[
                "fetch",
                "--quiet",
                "--prune",
                "--force",
                "origin",
                "+refs/heads/*:refs/remotes/origin/*",
                "+refs/tags/*:refs/tags/*",
                "+refs/pull/*/head:refs/remotes/origin/pull/*",
            ],
        )?;
        Ok(())
    }

    /// Every branch (`refs/heads/…`) and tag (`refs/tags/…`) and the commit it points at.
    pub fn refs(&self) -> Result<BTreeMap<String, String>, SourceError> {
        let (heads, rename) = match &self.kind {
            Kind::Local(_) => ("refs/heads", "refs/heads/"),
            Kind::Remote { .. } => ("refs/remotes/origin", "refs/heads/"),
        };
        let listed = git(
            self.top(),
            &[
                "for-each-ref",
                "--format=%(refname) %(objectname) %(*objectname)",
                heads,
                "refs/tags",
            ],
        )?;
        let mut refs = BTreeMap::new();
        for line in listed.lines() {
            let mut parts = line.split_whitespace();
            let (Some(name), Some(object)) = (parts.next(), parts.next()) else {
                continue;
            };
            // An annotated tag points at its commit through `*objectname`.
            let commit = parts.next().unwrap_or(object);
            let name = match name.strip_prefix(heads) {
                Some(branch) if branch == "/HEAD" || branch.starts_with("/pull/") => continue,
                Some(branch) => format!("{rename}{}", &branch[1..]),
                None => name.to_owned(),
            };
            refs.insert(name, commit.to_owned());
        }
        Ok(refs)
    }

    /// The branch scheduled runs build: the one checked out here, or the remote's default.
    pub fn default_branch(&self) -> String {
        let found = match &self.kind {
            Kind::Local(top) => git(top, &["symbolic-ref", "--short", "HEAD"]).ok(),
            Kind::Remote { clone, .. } => git(
                clone,
                &["symbolic-ref", "--short", "refs/remotes/origin/HEAD"],
            )
            .ok()
            .map(|r| r.trim().trim_start_matches("origin/").to_owned()),
        };
        found
            .map(|b| b.trim().to_owned())
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| "main".to_owned())
    }

    /// The paths that differ between two commits, when both are here.
    pub fn changed_paths(&self, from: &str, to: &str) -> Option<Vec<String>> {
        let out = git(self.top(), &["diff", "--name-only", from, to, "--"]).ok()?;
        Some(out.lines().map(str::to_owned).collect())
    }

    /// Whether the commit is here to check out.
    pub fn has_commit(&self, sha: &str) -> bool {
        git(
            self.top(),
            &["cat-file", "-e", &format!("{sha}^{{commit}}")],
        )
        .is_ok()
    }

    /// The project file `file` as commit `sha` has it: at its place in the repository when it
    /// is in the repository here, else at the top under its own name.
    pub fn file_at(&self, sha: &str, file: &Path) -> Result<String, GitError> {
        let top = self
            .top()
            .canonicalize()
            .unwrap_or_else(|_| self.top().to_path_buf());
        let file = file.canonicalize().unwrap_or_else(|_| file.to_path_buf());
        let relative = match file.strip_prefix(&top) {
            Ok(inside) => inside.to_path_buf(),
            Err(_) => PathBuf::from(file.file_name().unwrap_or_default()),
        };
        git(
            self.top(),
            &["show", &format!("{sha}:{}", relative.display())],
        )
    }

    /// The author of a commit, as the actor of a push found by polling.
    pub fn author(&self, sha: &str) -> Option<String> {
        git(self.top(), &["log", "-1", "--format=%an", sha])
            .ok()
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
    }
}

fn git(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    run(Command::new("git").arg("-C").arg(dir).args(args))
}

/// Runs a git command without a terminal to prompt on; its output, or its error.
fn run(command: &mut Command) -> Result<String, GitError> {
    let out = command
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .output()
        .map_err(GitError::Spawn)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(GitError::Failed(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ))
    }
}

/// `url` with any user information before the host replaced by `***`.
fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://***@{host}{}", &rest[authority.len()..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::without_credentials;

    #[test]
    fn credentials_in_a_url_are_never_described() {
        for (url, shown) in [
            (
                "https://bot:ghp_s3cret@github.com/o/r.git",
                "https://***@github.com/o/r.git",
            ),
            ("https://github.com/o/r.git", "https://github.com/o/r.git"),
            ("git@github.com:o/r.git", "git@github.com:o/r.git"),
            ("https://h.example/a@b", "https://h.example/a@b"),
        ] {
            assert_eq!(without_credentials(url), shown);
        }
    }
}
