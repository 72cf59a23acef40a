//! Runs from untrusted sources (a fork's pull request, an author the project's `trust:` does
//! not name). The boundary:
//!
//! - the run waits for an approval before its first step: its pipeline gains a job with no
//!   steps in the reserved environment `outside-contribution`, which every job without `needs`
//!   needs ([`guard`]); reviewers are `trust.reviewers`;
//! - it gets no secrets, may not enter a protected environment, deploy, or use the shared cache
//!   and artifact stores (files the control plane would copy as root);
//! - its steps run as `trust.user` (`nobody`) in a [`Sandbox`] outside the data directory,
//!   which stays readable by its owner only; so a step cannot read the secrets' key, the run
//!   history or the project file, nor write anything but its own workspace and `/tmp`.
//!   Switching users needs root: without it, the run is refused.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt, lchown};
use std::path::{Path, PathBuf};

use bellwether_core::spec::{APPROVAL_ENVIRONMENT, EnvironmentSpec, Trust};
use bellwether_pipeline_core::expr::Template;
use bellwether_pipeline_core::spec::{EnvironmentRef, JobSpec, PipelineSpec};
use nix::unistd::{Uid, User};

/// The file, in the runner's scratch space, that names an attempt's sandbox for the sweep.
pub(crate) const SANDBOX: &str = "sandbox";
const PREFIX: &str = "bellwether-untrusted-";

/// Removes the sandbox named in `file` (by [`SANDBOX`]), if it is one.
pub(crate) fn remove_recorded(file: &Path) {
    let Ok(named) = std::fs::read(file) else {
        return;
    };
    let path = PathBuf::from(std::ffi::OsStr::from_bytes(&named));
    let ours = path.parent() == Some(std::env::temp_dir().as_path())
        && path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(PREFIX));
    if ours {
        let _ = std::fs::remove_dir_all(path);
    }
}

/// Why a run is untrusted, and the policy it runs under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Untrusted {
    pub reason: String,
    pub trust: Trust,
}

/// The approval an untrusted run waits for, as an environment's rules.
pub fn approval_environment(trust: &Trust) -> EnvironmentSpec {
    EnvironmentSpec {
        name: APPROVAL_ENVIRONMENT.to_owned(),
        branches: Vec::new(),
        approvals: 1,
        allow_self_approval: false,
        reviewers: trust.reviewers.clone(),
        wait: std::time::Duration::ZERO,
        soak: None,
        vars: BTreeMap::new(),
    }
}

/// Whether an environment guards what reaches it: untrusted runs may not enter it.
pub fn protected(environment: &EnvironmentSpec) -> bool {
    environment.is_protected()
}

/// Puts an approval before every job of `spec`: a job with no steps in the approval
/// environment, needed by every job that needs nothing else.
pub fn guard(
    spec: &mut PipelineSpec,
    environments: &mut BTreeMap<String, EnvironmentSpec>,
    trust: &Trust,
) {
    let mut id = "approve-outside-contribution".to_owned();
    while spec.jobs.iter().any(|j| j.id == id) {
        id.push('_');
    }
    for job in spec.jobs.iter_mut().filter(|j| j.needs.is_empty()) {
        job.needs.push(id.clone());
    }
    spec.jobs.insert(
        0,
        JobSpec {
            id,
            name: Some(Template::literal("approval of an outside contribution")),
            environment: Some(EnvironmentRef {
                name: Template::literal(APPROVAL_ENVIRONMENT),
                url: None,
            }),
            ..JobSpec::default()
        },
    );
    environments.insert(APPROVAL_ENVIRONMENT.to_owned(), approval_environment(trust));
}

/// An OS user steps run as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunAs {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Its home for the steps: a directory of the sandbox.
    pub home: PathBuf,
}

impl RunAs {
    /// Gives `path` and everything under it to this user, links themselves and not what they
    /// point to.
    pub fn hand_over(&self, path: &Path) -> std::io::Result<()> {
        lchown(path, Some(self.uid), Some(self.gid))?;
        let meta = std::fs::symlink_metadata(path)?;
        if meta.is_dir() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
            for entry in std::fs::read_dir(path)? {
                self.hand_over(&entry?.path())?;
            }
        }
        Ok(())
    }
}

/// Where an untrusted attempt's steps work, owned by the user they run as: a fresh directory
/// in the system's temporary directory holding the workspace, the step files and a home.
#[derive(Debug)]
pub struct Sandbox {
    pub root: PathBuf,
    pub run_as: RunAs,
}

impl Sandbox {
    /// Makes the sandbox for steps that run as `user`; `Err` says why they cannot.
    pub fn create(user: &str) -> Result<Sandbox, String> {
        if !Uid::effective().is_root() {
            return Err(format!(
                "its steps must run as user `{user}`, and switching to another user needs the control plane to run as root"
            ));
        }
        let found = User::from_name(user)
            .map_err(|e| format!("cannot look up user `{user}`: {e}"))?
            .ok_or_else(|| format!("there is no user `{user}` here (trust.user names it)"))?;
        if found.uid.is_root() {
            return Err(format!(
                "user `{user}` is root: untrusted steps need an unprivileged user"
            ));
        }
        let root = tempfile::Builder::new()
            .prefix(PREFIX)
            .tempdir()
            .map_err(|e| format!("cannot make the sandbox: {e}"))?
            .keep();
        let home = root.join("home");
        let sandbox = Sandbox {
            run_as: RunAs {
                name: user.to_owned(),
                uid: found.uid.as_raw(),
                gid: found.gid.as_raw(),
                home: home.clone(),
            },
            root,
        };
        let made = std::fs::DirBuilder::new().mode(0o700).create(&home);
        if let Err(e) = made.and_then(|()| sandbox.hand_over(&sandbox.root)) {
            sandbox.remove();
            return Err(format!("cannot make the sandbox: {e}"));
        }
        Ok(sandbox)
    }

    /// The workspace's place in the sandbox.
    pub fn workspace(&self) -> PathBuf {
        self.root.join("workspace")
    }

    /// The step files' place in the sandbox.
    pub fn scratch(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Gives `path` and everything under it to the sandbox's user.
    pub fn hand_over(&self, path: &Path) -> std::io::Result<()> {
        self.run_as.hand_over(path)
    }

    /// Removes the sandbox and whatever the steps left in it.
    pub fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, needs: &[&str]) -> JobSpec {
        JobSpec {
            id: id.to_owned(),
            needs: needs.iter().map(|n| (*n).to_owned()).collect(),
            ..JobSpec::default()
        }
    }

    #[test]
    fn every_first_job_waits_for_the_approval() {
        let mut spec = PipelineSpec {
            name: "ci".to_owned(),
            triggers: Vec::new(),
            env: Vec::new(),
            defaults: Default::default(),
            concurrency: None,
            jobs: vec![
                job("build", &[]),
                job("lint", &[]),
                job("ship", &["build", "lint"]),
            ],
        };
        let mut environments = BTreeMap::new();
        let trust = Trust {
            reviewers: vec!["alice".to_owned()],
            ..Trust::default()
        };
        guard(&mut spec, &mut environments, &trust);
        let needs: Vec<(&str, Vec<&str>)> = spec
            .jobs
            .iter()
            .map(|j| (j.id.as_str(), j.needs.iter().map(String::as_str).collect()))
            .collect();
        let gate = "approve-outside-contribution";
        assert_eq!(
            needs,
            [
                (gate, vec![]),
                ("build", vec![gate]),
                ("lint", vec![gate]),
                ("ship", vec!["build", "lint"]),
            ]
        );
        let approval = &environments[APPROVAL_ENVIRONMENT];
        assert_eq!(
            (approval.approvals, approval.reviewers.as_slice()),
            (1, &["alice".to_owned()][..])
        );
        assert!(protected(approval));
        assert!(!protected(&EnvironmentSpec {
            approvals: 0,
            reviewers: Vec::new(),
            ..approval.clone()
        }));
    }
}
