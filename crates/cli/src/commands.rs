//! One module per command; each returns the exit code its outcome calls for.

mod client;
mod credentials;
pub(crate) mod demo;
pub(crate) mod demo_service;
pub(crate) mod load;
pub(crate) mod ops;
pub(crate) mod rerun;
pub(crate) mod review;
pub(crate) mod router;
pub(crate) mod run;
pub(crate) mod runs;
pub(crate) mod secret;
pub(crate) mod simulate;
pub(crate) mod up;
pub(crate) mod validate;

/// Reads a project file, saying which file could not be read and why.
fn read(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
}

/// A duration flag, written as in `bellwether.yaml` (`2s`, `10m`).
pub(crate) fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    bellwether_config::values::DurationValue::parse(text)?
        .to_std()
        .ok_or_else(|| format!("`{text}` is negative (expected a duration like 2s)"))
}
