//! `notifications:`: targets told what happens, each with the notices it wants.

use schemars::JsonSchema;
use serde::Deserialize;

use super::Command;
use crate::span::Spanned;

/// One target, by name: exactly one of `slack`, `webhook` or `command`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationConfig {
    /// A Slack incoming webhook: each notice as a message with blocks.
    pub slack: Option<Spanned<UrlConfig>>,
    /// Any HTTP endpoint: each notice as JSON, signed with HMAC-SHA256 in
    /// `X-Bellwether-Signature-256` when `signingSecret` names the key.
    pub webhook: Option<Spanned<WebhookConfig>>,
    /// A program given each notice as JSON on standard input, e.g. `["./page-oncall.sh"]`.
    pub command: Option<Spanned<Command>>,
    /// The kinds wanted: rollout_started, step, paused (for a person), promoted, aborted,
    /// emergency_rollback, run_started, run_succeeded, run_failed, approval_needed. Default:
    /// all of them.
    #[serde(default)]
    pub on: Vec<Spanned<String>>,
    /// Only notices about these services. Default: any.
    #[serde(default)]
    pub services: Vec<Spanned<String>>,
    /// Only notices about these environments. Default: any.
    #[serde(default)]
    pub environments: Vec<Spanned<String>>,
    /// Only notices about these pipelines' runs. Default: any.
    #[serde(default)]
    pub pipelines: Vec<Spanned<String>>,
    /// Attempts at each notice before it is given up on and listed by
    /// `bellwether notifications --failed`. Default: 12 (about eight minutes of retries).
    pub attempts: Option<Spanned<u32>>,
}

/// Where to post: the address itself, or the name of the secret that holds it.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UrlConfig {
    /// An http:// or https:// address.
    pub url: Option<Spanned<String>>,
    /// A secret (`bellwether secret set NAME`) holding the address, as webhook addresses are
    /// credentials.
    pub url_secret: Option<Spanned<String>>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebhookConfig {
    pub url: Option<Spanned<String>>,
    pub url_secret: Option<Spanned<String>>,
    /// A secret holding the HMAC-SHA256 key the body is signed with.
    pub signing_secret: Option<Spanned<String>>,
}
