//! What a local run learns from git: the repository around the project, its commit and
//! branch, the files it would commit, and what changed.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

/// Why a git command did not do its work.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git")]
    Spawn(#[source] std::io::Error),
    #[error("git {command} failed ({status})")]
    Failed { command: String, status: ExitStatus },
}

/// A commit a run's workspace holds: what its deploys were built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceCommit {
    pub sha: String,
    /// The committer date, in milliseconds since the Unix epoch.
    pub committed_at_ms: u64,
}

/// A git working tree.
#[derive(Clone, Debug)]
pub struct Repo {
    pub top: PathBuf,
}

impl Repo {
    /// The repository `dir` is in, if any (and if git is installed).
    pub fn find(dir: &Path) -> Option<Repo> {
        let top = git(dir, &["rev-parse", "--show-toplevel"])?;
        Some(Repo {
            top: PathBuf::from(top.trim()),
        })
    }

    fn run(&self, args: &[&str]) -> Option<String> {
        git(&self.top, args)
    }

    /// The commit `rev` names and its committer date, if it names one.
    pub fn commit(&self, rev: &str) -> Option<SourceCommit> {
        let spec = format!("{rev}^{{commit}}");
        let out = self.run(&["show", "-s", "--format=%H %ct", &spec, "--"])?;
        let (sha, seconds) = out.trim().split_once(' ')?;
        let seconds: u64 = seconds.parse().ok()?;
        Some(SourceCommit {
            sha: sha.to_owned(),
            committed_at_ms: seconds.saturating_mul(1000),
        })
    }

    /// The branch checked out; `None` on a detached head.
    pub fn branch(&self) -> Option<String> {
        let name = self.run(&["rev-parse", "--abbrev-ref", "HEAD"])?;
        let name = name.trim();
        (name != "HEAD" && !name.is_empty()).then(|| name.to_owned())
    }

    /// `owner/name` from the `origin` remote, or the directory's name.
    pub fn name(&self) -> String {
        let from_remote = self.run(&["remote", "get-url", "origin"]).and_then(|url| {
            let url = url.trim().trim_end_matches(".git");
            let mut parts = url.rsplit(['/', ':']);
            let name = parts.next()?;
            let owner = parts.next()?;
            Some(format!("{owner}/{name}"))
        });
        from_remote.unwrap_or_else(|| {
            self.top
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
    }

    /// The files `git add -A` would take: tracked ones and untracked ones not ignored, as
    /// paths relative to the top.
    pub fn files(&self) -> Option<Vec<String>> {
        let listed = self.run(&[
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])?;
        let mut files: Vec<String> = listed
            .split('\0')
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect();
        files.sort();
        files.dedup();
        Some(files)
    }

    /// What a push of the work here would change: the uncommitted changes, or when there are
    /// none, the last commit's.
    pub fn changed_paths(&self) -> Vec<String> {
        let lines = |out: Option<String>| -> Vec<String> {
            out.unwrap_or_default()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let mut changed = lines(self.run(&["diff", "--name-only", "HEAD"]));
        changed.extend(lines(self.run(&[
            "ls-files",
            "--others",
            "--exclude-standard",
        ])));
        if changed.is_empty() {
            changed = lines(self.run(&[
                "diff-tree",
                "--no-commit-id",
                "--name-only",
                "-r",
                "--root",
                "HEAD",
            ]));
        }
        changed.sort();
        changed.dedup();
        changed
    }

    /// Checks out `rev` into `path` as a detached worktree.
    pub fn add_worktree(&self, path: &Path, rev: &str) -> Result<(), GitError> {
        let status = Command::new("git")
            .arg("-C")
            .arg(&self.top)
            .args(["worktree", "add", "--detach", "--quiet"])
            .arg(path)
            .arg(rev)
            .status()
            .map_err(GitError::Spawn)?;
        if status.success() {
            Ok(())
        } else {
            Err(GitError::Failed {
                command: format!("worktree add {} {rev}", path.display()),
                status,
            })
        }
    }

    pub fn remove_worktree(&self, path: &Path) {
        let _ = Command::new("git")
            .arg("-C")
            .arg(&self.top)
            .args(["worktree", "remove", "--force"])
            .arg(path)
            .status();
    }
}

/// `git -C dir args…`'s output, when it succeeds.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}
