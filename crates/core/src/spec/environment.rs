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

/// `requires: {soak: {environment: staging, for: 24h}}`: the version deployed has been the
/// stable one of a service in `environment` for `duration`, with no rollback since.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Soak {
    pub environment: String,
    pub duration: Duration,
}
