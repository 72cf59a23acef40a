//! The API's routes, shared by the server's router and the client so they cannot drift.

pub const HEALTH: &str = "/v1/health";
pub const SERVICES: &str = "/v1/services";
pub const APPLY: &str = "/v1/apply";
pub const ROLLBACK_ALL: &str = "/v1/rollback-all";
pub const EVENTS: &str = "/v1/events";
/// `POST`: a delivery in GitHub's format (`X-GitHub-Event`, `X-Hub-Signature-256`).
pub const GITHUB_WEBHOOK: &str = "/v1/webhooks/github";
/// Query: `pipeline=NAME`, `limit=N`.
pub const RUNS: &str = "/v1/runs";
/// Server-sent events: a `data:` line with a run's number whenever its history changes.
pub const RUN_EVENTS: &str = "/v1/runs/events";
/// `GET` lists tokens, `POST` makes one (admin).
pub const TOKENS: &str = "/v1/tokens";
/// The audit trail, oldest first. Query: `after=N` (entries after the Nth).
pub const AUDIT: &str = "/v1/audit";
/// `GET`: the token's identity and what it may do.
pub const WHOAMI: &str = "/v1/whoami";
/// The control plane's own metrics, for Prometheus: at its default scrape path.
pub const METRICS: &str = "/metrics";
/// The DORA figures. Query: `service=S`, `env=E`, `since=30d` (the default).
pub const DORA: &str = "/v1/dora";
/// `GET`: the project's pipelines and their manual inputs.
pub const PIPELINES: &str = "/v1/pipelines";
/// Notifications queued, delivered and given up on. Query: `failed=true` for the last only.
pub const NOTIFICATIONS: &str = "/v1/notifications";

/// `POST`: revoke the token (admin).
pub fn revoke_token(name: &str) -> String {
    format!("{TOKENS}/{name}/revoke")
}

pub fn run(number: &str) -> String {
    format!("{RUNS}/{number}")
}

/// Query: `job=ID`, `instance=N` (a matrix leg, from 0), `step=N` (from 1), `offset=BYTES`.
/// Plain text: a step's log from the offset on; `x-log-size` is the whole log's length.
pub fn run_logs(number: &str) -> String {
    format!("{RUNS}/{number}/logs")
}

/// `POST`: approve or reject the run's gates.
pub fn reviews(number: &str) -> String {
    format!("{RUNS}/{number}/reviews")
}

pub fn dispatch(pipeline: &str) -> String {
    format!("/v1/pipelines/{pipeline}/dispatch")
}

pub fn service(name: &str) -> String {
    format!("{SERVICES}/{name}")
}

pub fn deploy(name: &str) -> String {
    format!("{SERVICES}/{name}/deploy")
}

pub fn commands(name: &str) -> String {
    format!("{SERVICES}/{name}/commands")
}

pub fn undo(name: &str) -> String {
    format!("{SERVICES}/{name}/undo")
}

pub fn history(name: &str) -> String {
    format!("{SERVICES}/{name}/history")
}

pub fn revisions(name: &str) -> String {
    format!("{SERVICES}/{name}/revisions")
}

/// Query: `revision=N`, `follow=true`, `tail=N`. Plain text, streamed when following.
pub fn logs(name: &str) -> String {
    format!("{SERVICES}/{name}/logs")
}
