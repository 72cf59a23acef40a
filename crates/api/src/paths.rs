//! The API's routes, shared by the server's router and the client so they cannot drift.

pub const HEALTH: &str = "/v1/health";
pub const SERVICES: &str = "/v1/services";
pub const APPLY: &str = "/v1/apply";
pub const ROLLBACK_ALL: &str = "/v1/rollback-all";
pub const EVENTS: &str = "/v1/events";

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
