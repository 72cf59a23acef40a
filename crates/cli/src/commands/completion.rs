//! Shell completion. `bellwether completions SHELL` prints a script that asks the binary itself
//! what to complete (`BELLWETHER_COMPLETE=SHELL bellwether -- WORDS...`, clap_complete's
//! protocol), so the names it offers are those of the moment: services and runs from the
//! control plane at `$BELLWETHER_SERVER` (with the token the other verbs present), pipelines
//! from `bellwether.yaml` here. Whatever cannot be read offers nothing rather than an error.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use bellwether_api::{RunView, ServiceSummary, paths};
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};
use clap_complete::env::Shells;
use serde::de::DeserializeOwned;

use super::client::Client;

/// The environment variable that tells the binary a shell is asking; named for bellwether, so
/// that a `COMPLETE` set for something else never turns a command into a completion.
pub(crate) const VAR: &str = "BELLWETHER_COMPLETE";
/// A completion that waits longer than this is worse than none.
const PATIENCE: Duration = Duration::from_secs(2);

/// Writes the script that registers completion for `shell`, calling this very binary.
pub(crate) fn script(shell: clap_complete::Shell, out: &mut dyn Write) -> anyhow::Result<()> {
    let name = shell.to_string();
    let shells = Shells::builtins();
    let completer = shells
        .completer(&name)
        .with_context(|| format!("no completion for {name}"))?;
    let exe = std::env::current_exe().context("cannot tell where this binary is")?;
    completer.write_registration(VAR, "bellwether", "bellwether", &exe.to_string_lossy(), out)?;
    Ok(())
}

/// The services of the control plane.
pub(crate) fn services() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        from_api(paths::SERVICES, |services: Vec<ServiceSummary>| {
            services
                .into_iter()
                .map(|s| CompletionCandidate::new(s.name).help(Some(s.phase.to_string().into())))
                .collect()
        })
    })
}

/// The control plane's pipeline runs, newest first.
pub(crate) fn runs() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        from_api(paths::RUNS, |runs: Vec<RunView>| {
            runs.into_iter()
                .map(|r| {
                    let about = format!("{} {}", r.pipeline, r.status);
                    CompletionCandidate::new(r.number.to_string()).help(Some(about.into()))
                })
                .collect()
        })
    })
}

/// The pipelines of `bellwether.yaml` in the current directory.
pub(crate) fn pipelines() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        let file = "bellwether.yaml";
        let Ok(source) = std::fs::read_to_string(file) else {
            return Vec::new();
        };
        bellwether_config::load_with(file, &source, &crate::commands::read_beside)
            .map(|loaded| {
                loaded
                    .pipelines
                    .into_iter()
                    .map(|p| CompletionCandidate::new(p.name))
                    .collect()
            })
            .unwrap_or_default()
    })
}

fn from_api<T: DeserializeOwned>(
    path: &'static str,
    candidates: impl FnOnce(T) -> Vec<CompletionCandidate>,
) -> Vec<CompletionCandidate> {
    let server = std::env::var("BELLWETHER_SERVER")
        .unwrap_or_else(|_| format!("http://{}", bellwether_server::DEFAULT_LISTEN));
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    let answer = runtime.block_on(async {
        let client = Client::new(&server).ok()?;
        tokio::time::timeout(PATIENCE, client.get::<T>(path))
            .await
            .ok()?
            .ok()
    });
    answer.map(candidates).unwrap_or_default()
}
