//! `notifications:`: where people are told what happens, and about what.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One named target and the notices it wants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationSpec {
    pub name: String,
    pub target: Target,
    /// The kinds it wants; empty is every kind.
    pub on: Vec<NoticeKind>,
    /// Only notices about these services, environments or pipelines; an empty list is any.
    pub services: Vec<String>,
    pub environments: Vec<String>,
    pub pipelines: Vec<String>,
    /// Attempts before a notice is given up on and listed as failed.
    pub attempts: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// A Slack incoming webhook: a message with blocks.
    Slack { url: Url },
    /// Any HTTP endpoint: the notice as JSON, signed with HMAC-SHA256 when a key is named.
    Webhook {
        url: Url,
        /// The secret holding the signing key.
        signing_secret: Option<String>,
    },
    /// A program given the notice as JSON on standard input.
    Command { command: Vec<String> },
}

/// An address, written out or kept in the secret store (webhook URLs are credentials).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Url {
    Literal(String),
    Secret(String),
}

/// What a notice is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    RolloutStarted,
    Step,
    /// Waiting for a person: a pause until promoted, or an inconclusive analysis.
    Paused,
    Promoted,
    /// Aborted, by a person or by its analysis, with the reason.
    Aborted,
    /// Every rollout in progress aborted at once (`rollback --all`).
    EmergencyRollback,
    RunStarted,
    RunSucceeded,
    RunFailed,
    ApprovalNeeded,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 10] = [
        NoticeKind::RolloutStarted,
        NoticeKind::Step,
        NoticeKind::Paused,
        NoticeKind::Promoted,
        NoticeKind::Aborted,
        NoticeKind::EmergencyRollback,
        NoticeKind::RunStarted,
        NoticeKind::RunSucceeded,
        NoticeKind::RunFailed,
        NoticeKind::ApprovalNeeded,
    ];

    pub fn name(self) -> &'static str {
        match self {
            NoticeKind::RolloutStarted => "rollout_started",
            NoticeKind::Step => "step",
            NoticeKind::Paused => "paused",
            NoticeKind::Promoted => "promoted",
            NoticeKind::Aborted => "aborted",
            NoticeKind::EmergencyRollback => "emergency_rollback",
            NoticeKind::RunStarted => "run_started",
            NoticeKind::RunSucceeded => "run_succeeded",
            NoticeKind::RunFailed => "run_failed",
            NoticeKind::ApprovalNeeded => "approval_needed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == text)
    }
}

impl fmt::Display for NoticeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
