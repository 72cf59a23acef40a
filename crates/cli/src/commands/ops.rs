//! The operator's verbs: `bellwether up` runs the control plane, and the rest talk to it over
//! its HTTP API (`--server`). Read verbs print `-o json|yaml` as the API returns it.

mod access;
mod control;
mod deploy;
mod dispatch;
mod dora;
mod format;
mod get;
mod history;
mod logs;
mod notifications;
mod status;
mod view;

use anyhow::Context;
use bellwether_api::{ApplyRequest, ApplySummary, ServiceSummary, paths};
use clap::{Args, Subcommand};

use super::client::Client;
use crate::exit::{self, Code};
use crate::output::{Format, print_records};

/// The verbs that talk to a running control plane.
#[derive(Debug, Subcommand)]
pub(crate) enum Verb {
    /// Hand the running control plane a bellwether.yaml (validated first): services added and changed; those it leaves out are kept unless --prune.
    Apply(ApplyArgs),
    /// Roll a service out to a new revision under its strategy.
    Deploy(deploy::DeployArgs),
    /// Start a pipeline's `manual` run on the control plane, with its inputs.
    Dispatch(dispatch::DispatchArgs),
    /// Show a service: revisions, replicas, weights, the current step, analysis and why it is where it is.
    Get(get::GetArgs),
    /// List the services with their phase, revisions and weights.
    List,
    /// Complete the current step or pause and go on; --full skips every remaining step and analysis.
    Promote(control::PromoteArgs),
    /// Send all traffic back to the stable revision at once.
    Abort(control::AbortArgs),
    /// Restart an aborted rollout from its first step.
    Retry(control::ServiceArgs),
    /// Go back to an earlier revision (the previous one by default).
    Undo(control::UndoArgs),
    /// Hold the rollout where it is.
    Pause(control::ServiceArgs),
    /// Let a paused rollout go on.
    Resume(control::ServiceArgs),
    /// Wait until a service's rollout ends, for pipelines: the exit code says how it ended.
    #[command(after_help = exit::HELP)]
    Status(status::StatusArgs),
    /// A service's revisions and the events of its rollouts.
    History(history::HistoryArgs),
    /// Emergency: abort every rollout in progress, all services at once.
    Rollback(control::RollbackArgs),
    /// A service's replica output (every revision's, or one), optionally followed.
    Logs(logs::LogsArgs),
    /// Save a token for the control plane at --server, read from standard input (never from the command line).
    Login,
    /// Print a link to the web dashboard that signs this browser tab in with your token.
    Dashboard,
    /// The notifications sent to `notifications:` targets, with how each delivery went.
    Notifications(notifications::NotificationsArgs),
    /// Make, list or revoke the control plane's tokens (admin).
    #[command(subcommand)]
    Token(access::TokenCommand),
    /// The DORA figures from the control plane's own history: deployment frequency, lead time for changes, change failure rate and time to restore, per service and environment, beside the project's targets.
    Dora(dora::DoraArgs),
    /// Who did what, when, from where and how it ended: every request that changes something and every automatic decision; `-o json` gives JSON lines, `audit verify` checks the hash chain.
    Audit(access::AuditArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// The project file.
    #[arg(short = 'f', long = "file", default_value = "bellwether.yaml")]
    file: std::path::PathBuf,
    /// Remove (and stop) the services the file leaves out; without it they keep running and are listed.
    #[arg(long)]
    prune: bool,
}

pub(crate) fn run(verb: Verb, server: &str, format: Format) -> anyhow::Result<Code> {
    // One request at a time: one thread is plenty.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let client = Client::new(server)?;
    runtime.block_on(async {
        match verb {
            Verb::Apply(args) => apply(&client, &args, format).await,
            Verb::Deploy(args) => deploy::run(&client, args, format).await,
            Verb::Dispatch(args) => dispatch::run(&client, args, format).await,
            Verb::Get(args) => get::run(&client, &args, format).await,
            Verb::List => list(&client, format).await,
            Verb::Promote(args) => control::promote(&client, args, format).await,
            Verb::Abort(args) => control::abort(&client, args, format).await,
            Verb::Retry(args) => control::retry(&client, args, format).await,
            Verb::Undo(args) => control::undo(&client, args, format).await,
            Verb::Pause(args) => control::pause(&client, args, format).await,
            Verb::Resume(args) => control::resume(&client, args, format).await,
            Verb::Status(args) => status::run(&client, &args, format).await,
            Verb::History(args) => history::run(&client, &args, format).await,
            Verb::Rollback(args) => control::rollback_all(&client, args, format).await,
            Verb::Logs(args) => logs::run(&client, &args).await,
            Verb::Token(command) => access::token(&client, command, format).await,
            Verb::Login => access::login(server).await,
            Verb::Dashboard => access::dashboard(server).await,
            Verb::Notifications(args) => notifications::run(&client, &args, format).await,
            Verb::Audit(args) => access::audit(&client, args, format).await,
            Verb::Dora(args) => dora::run(&client, &args, format).await,
        }
    })
}

/// Checks the file here first, so problems show with their source line; the control plane
/// checks it again.
async fn apply(client: &Client, args: &ApplyArgs, format: Format) -> anyhow::Result<Code> {
    let name = args.file.display().to_string();
    let source = super::read(&args.file)?;
    if let Err(diagnostics) =
        bellwether_config::load_with(&name, &source, &crate::commands::read_beside)
    {
        for d in diagnostics.iter() {
            eprint!("{}", crate::diagnostics::render_in(d, &name, &source));
        }
        anyhow::bail!("{name} is not valid; nothing was applied");
    }
    let request = ApplyRequest {
        file: name.clone(),
        source,
        prune: args.prune,
    };
    let summary: ApplySummary = client.post(paths::APPLY, &request).await?;
    if !print_records(format, &summary)? {
        println!("applied {name}");
        for (label, names) in [
            ("added", &summary.added),
            ("changed", &summary.changed),
            ("removed", &summary.removed),
            ("unchanged", &summary.unchanged),
        ] {
            if !names.is_empty() {
                println!("  {label}: {}", names.join(", "));
            }
        }
        if !summary.kept.is_empty() {
            println!(
                "  kept, not in {name}: {} (`bellwether apply --prune` would remove them)",
                summary.kept.join(", ")
            );
        }
    }
    Ok(exit::SUCCESS)
}

async fn list(client: &Client, format: Format) -> anyhow::Result<Code> {
    let services: Vec<ServiceSummary> = client.get(paths::SERVICES).await?;
    if print_records(format, &services)? {
        return Ok(exit::SUCCESS);
    }
    if services.is_empty() {
        println!("no services (`bellwether apply` adds them)");
        return Ok(exit::SUCCESS);
    }
    let dash = || "-".to_owned();
    let rows: Vec<Vec<String>> = services
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                s.strategy.clone(),
                s.phase.to_string(),
                s.stable.as_ref().map_or_else(dash, |r| r.version.clone()),
                s.target.as_ref().map_or_else(dash, |r| r.version.clone()),
                if s.target.is_some() {
                    s.target_weight.to_string()
                } else {
                    dash()
                },
                s.step.as_ref().map_or_else(dash, |step| {
                    format!("{}/{}: {}", step.index + 1, step.total, step.description)
                }),
                s.listen.map_or_else(dash, |a| a.to_string()),
                s.reason.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        format::table(
            &[
                "SERVICE", "STRATEGY", "PHASE", "STABLE", "TARGET", "WEIGHT", "STEP", "ROUTER",
                "REASON"
            ],
            &rows
        )
    );
    Ok(exit::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use crate::cli::{Cli, Command};

    #[test]
    fn the_grammar_holds_together() {
        Cli::command().debug_assert();
    }

    #[test]
    fn deploy_takes_a_version_env_and_a_trailing_command() {
        let cli = Cli::try_parse_from([
            "bellwether",
            "deploy",
            "web",
            "--version",
            "v2",
            "--env",
            "A=1",
            "--command",
            "./api",
            "--port",
            "9",
        ])
        .unwrap();
        let Command::Ops(super::Verb::Deploy(args)) = cli.command else {
            panic!("not a deploy: {:?}", cli.command);
        };
        let text = format!("{args:?}");
        for expected in ["\"v2\"", "(\"A\", \"1\")", "[\"./api\", \"--port\", \"9\"]"] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
        assert!(Cli::try_parse_from(["bellwether", "rollback"]).is_err());
    }
}
