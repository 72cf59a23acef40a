//! `server:`: how `bellwether up` runs, read from the file it is started with.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::span::Spanned;

/// How `bellwether up` runs; its flags win over these.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Keep the control plane's state in this PostgreSQL database instead of the data
    /// directory's SQLite file, as `up --store` does: `postgres://USER@HOST:PORT/DATABASE`,
    /// without a password (give it in `$PGPASSWORD`). Several `up` on one database take turns
    /// leading.
    pub store: Option<Spanned<String>>,
}
