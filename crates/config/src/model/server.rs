//! `server:`: how `bellwether up` runs, read from the file it is started with.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::span::Spanned;
use crate::values::DurationValue;

/// How `bellwether up` runs; its flags win over these.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Keep the control plane's state in this PostgreSQL database instead of the data
    /// directory's SQLite file, as `up --store` does: `postgres://USER@HOST:PORT/DATABASE`,
    /// without a password (give it in `$PGPASSWORD`). Several `up` on one database take turns
    /// leading.
    pub store: Option<Spanned<String>>,
    /// How long finished pipeline runs, their logs and artifacts, and analysis records are
    /// kept; without it, everything is kept forever.
    pub retention: Option<RetentionConfig>,
}

/// Ages past which `bellwether up` removes what piles up, swept at start and every hour.
/// A kind without an age (its own or `age`) is kept forever. Never removed: runs not
/// finished, the latest run of each pipeline, rollouts' events and the audit trail.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// The age of every kind not given one of its own, e.g. `30d`.
    pub age: Option<Spanned<DurationValue>>,
    /// Finished pipeline runs (their jobs, steps, gates, reviews and events), counted from
    /// when they finished; their logs and artifacts go with them.
    pub runs: Option<Spanned<DurationValue>>,
    /// The step logs of finished runs, if sooner than their runs.
    pub logs: Option<Spanned<DurationValue>>,
    /// The artifacts of finished runs, if sooner than their runs.
    pub artifacts: Option<Spanned<DurationValue>>,
    /// Finished analysis runs: their measurements and verdicts, which explain rollouts.
    pub analysis: Option<Spanned<DurationValue>>,
}
