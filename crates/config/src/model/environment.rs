//! An environment: where deployments go and the rules that guard them.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::span::{Entries, Spanned};
use crate::values::{DurationValue, Whole};

/// Protection rules for deployments to one environment.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvironmentConfig {
    /// Branch globs allowed to deploy here, e.g. `main` or `release/*`. Default: any branch.
    #[serde(default)]
    pub branches: Vec<Spanned<String>>,
    /// Approvals from distinct people required before a deployment proceeds. Default: 0.
    pub approvals: Option<Spanned<Whole<u32>>>,
    /// A wait timer that starts when a deployment reaches the environment. Default: 0s.
    pub wait: Option<Spanned<DurationValue>>,
    /// Whether the person who triggered a deployment may approve it. Default: false.
    pub allow_self_approval: Option<bool>,
    /// Who may approve or reject, by identity (a token's name on the control plane, the OS
    /// user for `bellwether run`) or as `group:NAME` (tokens made with `--group NAME`).
    /// Default: anyone allowed to review.
    #[serde(default)]
    pub reviewers: Vec<Spanned<String>>,
    /// What must hold of a version before it comes here.
    pub requires: Option<Spanned<RequiresConfig>>,
    /// Variables of the environment: `${{ vars.NAME }}` in its jobs, and environment variables
    /// of every revision deployed to it (a deploy's own `--env` wins).
    #[serde(default)]
    pub vars: Entries<String>,
}

/// Conditions on the version deployed.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RequiresConfig {
    /// The version has been stable in another environment for a while, e.g.
    /// `{environment: staging, for: 24h}`, with no rollback since.
    pub soak: Option<Spanned<SoakConfig>>,
}

/// A soak in another environment.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SoakConfig {
    /// The environment the version must have been stable in.
    pub environment: Spanned<String>,
    /// For how long, e.g. 24h.
    #[serde(rename = "for")]
    pub duration: Spanned<DurationValue>,
}
