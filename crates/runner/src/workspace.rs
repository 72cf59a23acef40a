//! A clean workspace for each run, so that a run never sees build outputs of earlier ones
//! and never changes the files being worked on.
//!
//! In a git repository the workspace is the repository as it would be committed: a copy of
//! its tracked files and its untracked files that are not ignored, uncommitted changes
//! included ([`Checkout::Tree`], the default, for trying a change before committing it); or
//! exactly a commit, checked out with `git worktree` ([`Checkout::Commit`], what CI sees).
//! Outside git it is a copy of the project directory. Steps start in the project directory's
//! place inside it.
//!
//! An attempt prepares that source once and gives each job instance (each matrix leg) a
//! fresh copy of it, as GitHub gives each job a fresh checkout ([`Instances`]): files pass
//! between jobs only through artifacts and the cache, and parallel legs never share a
//! directory. A copy of a tree is a copy of its files (`copy_file_range`, so a reflink where
//! the filesystem has them); a commit gets a worktree per instance.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bellwether_pipeline_core::run::Workspaces;

use crate::copy::copy_tree;
use crate::git::{GitError, Repo, SourceCommit};
use crate::untrusted::RunAs;

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

    /// A fresh copy of this workspace at `root`, which must not exist yet: a worktree of the
    /// same commit, or a copy of the files.
    pub fn copy_to(&self, root: &Path) -> Result<Workspace, WorkspaceError> {
        let io = |source| WorkspaceError::Io {
            path: root.to_path_buf(),
            source,
        };
        match &self.worktree_of {
            Some(repo) => {
                if let Some(parent) = root.parent() {
                    std::fs::create_dir_all(parent).map_err(io)?;
                }
                repo.add_worktree(root, &self.sha)
                    .map_err(WorkspaceError::Git)?;
            }
            None => {
                copy_tree(&self.root, root).map_err(io)?;
            }
        }
        Ok(Workspace {
            root: root.to_path_buf(),
            workdir: root.join(self.within()),
            sha: self.sha.clone(),
            commit: self.commit.clone(),
            repository: self.repository.clone(),
            worktree_of: self.worktree_of.clone(),
        })
    }

    /// The project directory's place in the copy.
    fn within(&self) -> &Path {
        self.workdir
            .strip_prefix(&self.root)
            .unwrap_or(Path::new(""))
    }

    /// Removes the workspace (and its worktree registration).
    pub fn remove(&self) {
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

/// The workspaces of one attempt's job instances, each a fresh copy of the attempt's source,
/// under one directory and named by [`Run::instance_name`](bellwether_pipeline_core::run::Run::instance_name).
#[derive(Debug)]
pub struct Instances {
    source: Workspace,
    root: PathBuf,
    /// The user an untrusted run's steps run as, who gets each copy.
    owner: Option<RunAs>,
    keep: bool,
    made: Mutex<BTreeMap<String, Workspace>>,
}

impl Instances {
    /// Instances' workspaces under `root`, copies of `source`; `keep` keeps them all when
    /// their instances end.
    pub fn new(source: Workspace, root: PathBuf, owner: Option<RunAs>, keep: bool) -> Instances {
        Instances {
            source,
            root,
            owner,
            keep,
            made: Mutex::new(BTreeMap::new()),
        }
    }

    /// The source every instance copies.
    pub fn source(&self) -> &Workspace {
        &self.source
    }

    /// Where the core places each instance's steps.
    pub fn layout(&self) -> Workspaces {
        Workspaces::PerInstance {
            root: self.root.display().to_string(),
            within: self.source.within().display().to_string(),
        }
    }

    /// Makes the workspace of the instance `name`, afresh. It blocks while it copies.
    pub fn make(&self, name: &str) -> Result<(), WorkspaceError> {
        let root = self.root.join(name);
        if let Some(old) = self.take(name) {
            old.remove();
        }
        let _ = std::fs::remove_dir_all(&root);
        let made = self.source.copy_to(&root)?;
        if let Some(owner) = &self.owner
            && let Err(source) = owner.hand_over(&root)
        {
            made.remove();
            return Err(WorkspaceError::Io { path: root, source });
        }
        self.lock().insert(name.to_owned(), made);
        Ok(())
    }

    /// The instance `name` ended: its workspace goes, unless they are all kept. It blocks
    /// while it deletes.
    pub fn remove(&self, name: &str) {
        if !self.keep
            && let Some(made) = self.take(name)
        {
            made.remove();
        }
    }

    /// Removes the source and, unless they are kept, what is left of the instances'
    /// workspaces; `Some` with the directory that holds them when they are kept.
    pub fn finish(&self) -> Option<PathBuf> {
        let made = std::mem::take(&mut *self.lock());
        self.source.remove();
        if self.keep {
            return Some(self.root.clone());
        }
        made.values().for_each(Workspace::remove);
        let _ = std::fs::remove_dir_all(&self.root);
        None
    }

    fn take(&self, name: &str) -> Option<Workspace> {
        self.lock().remove(name)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Workspace>> {
        self.made
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
