//! The binary's one logging path: a `tracing` subscriber writing to stderr, filtered by
//! `RUST_LOG`, as text for people or one JSON object per line for a log collector. Every
//! crate's diagnostics, the control plane's event log and the triggers' lines go through it;
//! what a command prints as its answer (tables, banners, timelines) stays on stdout and stderr
//! as the command writes it.

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// What `RUST_LOG` is when unset: bellwether's own crates at `info`, others only `warn`.
/// Directives match target prefixes, so `bellwether` covers every `bellwether_*` crate.
const DEFAULT_FILTER: &str = "warn,bellwether=info";

/// `--log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

/// Installs the subscriber for the whole process. A `RUST_LOG` that does not parse is
/// reported and the default is used, so a typo never silences the log.
pub(crate) fn install(format: LogFormat) {
    let (filter, bad) = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => match EnvFilter::try_new(&directives) {
            Ok(filter) => (filter, None),
            Err(e) => (EnvFilter::new(DEFAULT_FILTER), Some((directives, e))),
        },
        _ => (EnvFilter::new(DEFAULT_FILTER), None),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // `main` installs it once: it cannot find another in place.
    let _ = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    if let Some((directives, e)) = bad {
        tracing::warn!(
            "RUST_LOG={directives:?} is not a valid filter ({e}); using {DEFAULT_FILTER:?}"
        );
    }
}
