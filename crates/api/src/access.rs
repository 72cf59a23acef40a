//! Tokens and the audit trail through the API.

use bellwether_core::access::{Role, TokenInfo};
use serde::{Deserialize, Serialize};

/// `POST /v1/tokens`: make a token (admin).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub name: String,
    pub role: Role,
    /// Seconds until it expires; never without.
    #[serde(default)]
    pub expires_in_secs: Option<u64>,
    /// The environments it may act in; every one without.
    #[serde(default)]
    pub environments: Vec<String>,
    /// The groups it belongs to, which environments may name as reviewers.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// The answer to `POST /v1/tokens`: the only time the token is shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreatedToken {
    pub token: String,
    pub info: TokenInfo,
}
