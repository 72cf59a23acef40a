//! One module per command; each returns the exit code its outcome calls for.

mod client;
pub(crate) mod completion;
mod credentials;
pub(crate) mod demo;
pub(crate) mod demo_service;
pub(crate) mod import;
pub(crate) mod load;
pub(crate) mod log_writer;
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
pub(crate) mod verify;

/// Reads a project file, saying which file could not be read and why.
fn read(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
}

/// How the commands read the workflow files a project file names.
pub(crate) fn read_beside(path: &std::path::Path) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

/// Reads and loads a project file, or fails after printing each of its problems.
fn project(path: &std::path::Path) -> anyhow::Result<bellwether_core::spec::Project> {
    let name = path.display().to_string();
    let source = read(path)?;
    match bellwether_config::load_with(&name, &source, &crate::commands::read_beside) {
        Ok(loaded) => Ok(loaded.project),
        Err(diagnostics) => {
            for d in diagnostics.iter() {
                eprint!("{}", crate::diagnostics::render_in(d, &name, &source));
            }
            anyhow::bail!("{name} is not valid; fix it first (`bellwether validate {name}`)");
        }
    }
}

/// A duration flag, written as in `bellwether.yaml` (`2s`, `10m`).
pub(crate) fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    bellwether_config::values::DurationValue::parse(text)?
        .to_std()
        .ok_or_else(|| format!("`{text}` is negative (expected a duration like 2s)"))
}
