//! Where a pipeline job deploys, and the rules that guard it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentSpec {
    pub name: String,
    /// Branch globs allowed to deploy here (`main`, `release/*`); empty allows any branch.
    pub branches: Vec<String>,
    /// Approvals from distinct people required before a job may deploy.
    pub approvals: u32,
    /// Whether the person who triggered the run may approve it.
    pub allow_self_approval: bool,
    /// Who may review: identities (token names, or OS users for local runs); empty allows
    /// anyone with the right to review.
    #[serde(default)]
    pub reviewers: Vec<String>,
    /// A wait timer that starts when the job reaches the environment.
    pub wait: Duration,
    /// A version comes here only once it has been stable in another environment for a while.
    #[serde(default)]
    pub soak: Option<Soak>,
    /// Variables of the environment: the `vars` context of its jobs, and environment
    /// variables of the revisions deployed to it.
    #[serde(default)]
    pub vars: std::collections::BTreeMap<String, String>,
}

impl EnvironmentSpec {
    /// An environment with no rules, as a job's `environment:` naming an undeclared one gets.
    pub fn unprotected(name: &str) -> EnvironmentSpec {
        EnvironmentSpec {
            name: name.to_owned(),
            branches: Vec::new(),
            approvals: 0,
            allow_self_approval: false,
            reviewers: Vec::new(),
            wait: Duration::ZERO,
            soak: None,
            vars: std::collections::BTreeMap::new(),
        }
    }

    /// Whether it guards what reaches it: approvals, reviewers, branches, a wait or a soak.
    pub fn is_protected(&self) -> bool {
        self.approvals > 0
            || !self.branches.is_empty()
            || !self.reviewers.is_empty()
            || !self.wait.is_zero()
            || self.soak.is_some()
    }
}

/// `requires: {soak: {environment: staging, for: 24h}}`: the version deployed has been the
/// stable one of a service in `environment` for `duration`, with no rollback since.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Soak {
    pub environment: String,
    pub duration: Duration,
}
