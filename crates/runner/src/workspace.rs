//! A clean workspace for each run, so that a run never sees build outputs of earlier ones
//! and never changes the files being worked on.
//!
//! In a git repository the workspace is the repository as it would be committed: a copy of
//! its tracked files and its untracked files that are not ignored, uncommitted changes
//! included ([`Checkout::Tree`], the default, for trying a change before committing it); or
//! exactly a commit, checked out with `git worktree` ([`Checkout::Commit`], what CI sees).
//! Outside git it is a copy of the project directory. Steps start in the project directory's
//! place inside it.

use std::path::{Path, PathBuf};

use crate::copy::copy_tree;
use crate::git::{GitError, Repo, SourceCommit};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Checkout {
    /// The working tree as it would be committed.
    Tree,
    /// This commit (`HEAD`, a branch, a tag, a sha), with `git worktree`.
    Commit(String),
}

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("--checkout {0} needs a git repository, and {1} is not in one")]
    NotARepository(String, PathBuf),
    #[error("cannot prepare the workspace in {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot check out the commit")]
    Git(#[source] GitError),
}

#[derive(Debug)]
pub struct Workspace {
    /// The top of the copy (the repository's, or the project directory's).
    pub root: PathBuf,
    /// Where steps start: the project directory's place in the copy.
    pub workdir: PathBuf,
    /// The commit it holds, or zeros outside git.
    pub sha: String,
    /// That commit with its time, in git.
    pub commit: Option<SourceCommit>,
    /// `owner/name` or the directory's name.
    pub repository: String,
    worktree_of: Option<Repo>,
}

impl Workspace {
    /// Prepares a workspace for `project` (the directory of `bellwether.yaml`) at `root`,
    /// which must not exist yet. Files under `skip` (the data directory) are left out.
    pub fn create(
        project: &Path,
        root: &Path,
        checkout: &Checkout,
        skip: &Path,
    ) -> Result<Workspace, WorkspaceError> {
        let io = |source| WorkspaceError::Io {
            path: root.to_path_buf(),
            source,
        };
        let repo = Repo::find(project);
        let Some(repo) = repo else {
            if let Checkout::Commit(rev) = checkout {
                return Err(WorkspaceError::NotARepository(
                    rev.clone(),
                    project.to_path_buf(),
                ));
            }
            copy_dir_except(project, root, skip).map_err(io)?;
            let repository = project
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            return Ok(Workspace {
                root: root.to_path_buf(),
                workdir: root.to_path_buf(),
                sha: "0".repeat(40),
                commit: None,
                repository,
                worktree_of: None,
            });
        };
        let top = repo.top.canonicalize().unwrap_or_else(|_| repo.top.clone());
        let project = project
            .canonicalize()
            .unwrap_or_else(|_| project.to_path_buf());
        let within = project
            .strip_prefix(&top)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let repository = repo.name();
        match checkout {
            Checkout::Tree => {
                std::fs::create_dir_all(root).map_err(io)?;
                let skip = skip.canonicalize().unwrap_or_else(|_| skip.to_path_buf());
                for file in repo.files().unwrap_or_default() {
                    let from = top.join(&file);
                    // Listed but deleted in the working tree, or inside the data directory.
                    if std::fs::symlink_metadata(&from).is_err() || from.starts_with(&skip) {
                        continue;
                    }
                    copy_tree(&from, &root.join(&file)).map_err(io)?;
                }
                let commit = repo.commit("HEAD");
                let sha = commit
                    .as_ref()
                    .map_or_else(|| "0".repeat(40), |c| c.sha.clone());
                Ok(Workspace {
                    root: root.to_path_buf(),
                    workdir: root.join(within),
                    sha,
                    commit,
                    repository,
                    worktree_of: None,
                })
            }
            Checkout::Commit(rev) => {
                if let Some(parent) = root.parent() {
                    std::fs::create_dir_all(parent).map_err(io)?;
                }
                repo.add_worktree(root, rev).map_err(WorkspaceError::Git)?;
                let commit = Repo {
                    top: root.to_path_buf(),
                }
                .commit("HEAD");
                let sha = commit
                    .as_ref()
                    .map_or_else(|| rev.clone(), |c| c.sha.clone());
                Ok(Workspace {
                    root: root.to_path_buf(),
                    workdir: root.join(within),
                    sha,
                    commit,
                    repository,
                    worktree_of: Some(repo),
                })
            }
        }
    }

    /// Removes the workspace (and its worktree registration).
    pub fn remove(self) {
        if let Some(repo) = &self.worktree_of {
            repo.remove_worktree(&self.root);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn copy_dir_except(from: &Path, to: &Path, skip: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    let skip = skip.canonicalize().unwrap_or_else(|_| skip.to_path_buf());
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let path = entry.path();
        let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
        if canonical == skip || canonical.starts_with(&skip) {
            continue;
        }
        copy_tree(&path, &to.join(entry.file_name()))?;
    }
    Ok(())
}
