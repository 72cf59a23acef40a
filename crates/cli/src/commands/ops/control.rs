//! The operator's commands on a rollout: promote, abort, retry, undo, pause, resume, and the
//! emergency `rollback --all`. Each prints what the rollout does now. Who asked is the
//! identity of the token presented, recorded by the control plane.

use bellwether_api::{
    CommandRequest, RollbackAllRequest, RollbackResult, ServiceView, UndoRequest, paths,
};
use bellwether_core::rollout::{Command, RevisionNumber};
use clap::Args;

use crate::commands::client::Client;
use crate::exit::{self, Code};
use crate::output::{Format, print_records};

#[derive(Debug, Args)]
pub(crate) struct ServiceArgs {
    #[arg(add = crate::commands::completion::services())]
    service: String,
}

#[derive(Debug, Args)]
pub(crate) struct PromoteArgs {
    #[arg(add = crate::commands::completion::services())]
    service: String,
    /// Skip every remaining step and analysis and promote now.
    #[arg(long)]
    full: bool,
}

#[derive(Debug, Args)]
pub(crate) struct AbortArgs {
    #[arg(add = crate::commands::completion::services())]
    service: String,
    /// Why, for the history and the audit trail.
    #[arg(long)]
    reason: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct UndoArgs {
    #[arg(add = crate::commands::completion::services())]
    service: String,
    /// The revision to go back to [default: the one before the stable one].
    #[arg(long, value_name = "N")]
    to_revision: Option<RevisionNumber>,
}

#[derive(Debug, Args)]
pub(crate) struct RollbackArgs {
    /// Every service with a rollout in progress (required, to say it on purpose).
    #[arg(long, required = true)]
    all: bool,
    /// Why, for the history and the audit trail.
    #[arg(long)]
    reason: Option<String>,
}

pub(crate) async fn promote(
    client: &Client,
    args: PromoteArgs,
    format: Format,
) -> anyhow::Result<Code> {
    let command = Command::Promote { full: args.full };
    send(client, &args.service, command, format).await
}

pub(crate) async fn abort(
    client: &Client,
    args: AbortArgs,
    format: Format,
) -> anyhow::Result<Code> {
    let command = Command::Abort {
        reason: args.reason,
    };
    send(client, &args.service, command, format).await
}

pub(crate) async fn retry(
    client: &Client,
    args: ServiceArgs,
    format: Format,
) -> anyhow::Result<Code> {
    send(client, &args.service, Command::Retry, format).await
}

pub(crate) async fn pause(
    client: &Client,
    args: ServiceArgs,
    format: Format,
) -> anyhow::Result<Code> {
    send(client, &args.service, Command::Pause, format).await
}

pub(crate) async fn resume(
    client: &Client,
    args: ServiceArgs,
    format: Format,
) -> anyhow::Result<Code> {
    send(client, &args.service, Command::Resume, format).await
}

pub(crate) async fn undo(client: &Client, args: UndoArgs, format: Format) -> anyhow::Result<Code> {
    let request = UndoRequest {
        to_revision: args.to_revision,
    };
    let view: ServiceView = client.post(&paths::undo(&args.service), &request).await?;
    accepted("undo", &view, format)
}

async fn send(
    client: &Client,
    service: &str,
    command: Command,
    format: Format,
) -> anyhow::Result<Code> {
    let verb = command.verb();
    let request = CommandRequest { command };
    let view: ServiceView = client.post(&paths::commands(service), &request).await?;
    accepted(verb, &view, format)
}

fn accepted(verb: &str, view: &ServiceView, format: Format) -> anyhow::Result<Code> {
    if !print_records(format, view)? {
        println!("{}: {verb} accepted", view.name);
        println!("{}: {}", view.phase, view.reason);
    }
    Ok(exit::SUCCESS)
}

/// Exit 1 when any service's abort was refused, after printing them all.
pub(crate) async fn rollback_all(
    client: &Client,
    args: RollbackArgs,
    format: Format,
) -> anyhow::Result<Code> {
    let request = RollbackAllRequest {
        reason: args.reason,
    };
    let results: Vec<RollbackResult> = client.post(paths::ROLLBACK_ALL, &request).await?;
    let failed = results.iter().any(|r| r.error.is_some());
    if !print_records(format, &results)? {
        if results.is_empty() {
            println!("no rollout in progress: nothing to roll back");
        }
        for result in &results {
            match &result.error {
                None => println!("{}: rolled back", result.service),
                Some(error) => println!("{}: not rolled back: {error}", result.service),
            }
        }
    }
    Ok(if failed { exit::FAILURE } else { exit::SUCCESS })
}
