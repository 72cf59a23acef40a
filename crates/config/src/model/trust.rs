//! `trust:`: whose events run pipelines as written.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::span::Spanned;

/// Whose events run pipelines as written. A run whose event comes from a fork's pull request,
/// or from an author not trusted here, gets no secrets, cannot enter a protected environment
/// or deploy, waits for an approval before its first step, takes its pipelines from the base
/// branch, and runs its steps as an unprivileged user.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustConfig {
    /// Authors (GitHub logins, commit authors) whose events are trusted. Without it, a pull
    /// request is trusted when GitHub says its author has write access, and pushes are trusted.
    #[serde(default)]
    pub authors: Vec<Spanned<String>>,
    /// Who may approve an untrusted run: names or `group:NAME`; anyone allowed to review when
    /// empty.
    #[serde(default)]
    pub reviewers: Vec<Spanned<String>>,
    /// The OS user untrusted steps run as [default: nobody]. The control plane must run as
    /// root to switch to it.
    pub user: Option<Spanned<String>>,
}
