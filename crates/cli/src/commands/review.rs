//! `bellwether approve RUN` and `bellwether reject RUN`: answer the environment gates a run
//! waits at, from any terminal. With `--server` (or `$BELLWETHER_SERVER`) the answer goes
//! through the control plane as the token's identity; without, it goes straight to the data
//! directory's store as the OS user, for runs of `bellwether run` on this machine. Either way
//! the environment's rules decide (reviewers, self-approval, one approval per identity; see
//! `bellwether_runner::review`), and who answered what, when and why stays in the run's
//! history.

use bellwether_api::{ReviewAnswer, ReviewRequest, paths};
use bellwether_runner::{ReviewOrder, now_ms};
use clap::Args;

use super::client::Client;
use super::run::data::{DataArgs, whoami};
use crate::exit::{self, Code};

#[derive(Debug, Args)]
pub(crate) struct ReviewArgs {
    /// The run, by number (`bellwether runs` lists them).
    #[arg(add = crate::commands::completion::runs())]
    pub(crate) run: u64,
    /// The environment to answer for [default: every environment the run waits for].
    #[arg(long = "env", value_name = "ENVIRONMENT")]
    pub(crate) environment: Option<String>,
    /// Why, for the record.
    #[arg(long, short = 'm')]
    pub(crate) comment: Option<String>,
    #[command(flatten)]
    pub(crate) data: DataArgs,
}

pub(crate) fn approve(args: &ReviewArgs, server: Option<&str>) -> anyhow::Result<Code> {
    review(args, true, server)
}

pub(crate) fn reject(args: &ReviewArgs, server: Option<&str>) -> anyhow::Result<Code> {
    review(args, false, server)
}

fn review(args: &ReviewArgs, approved: bool, server: Option<&str>) -> anyhow::Result<Code> {
    let verb = if approved { "approved" } else { "rejected" };
    if let Some(server) = server {
        return remote(args, approved, server, verb);
    }
    let data = args.data.open()?;
    let order = ReviewOrder {
        run: args.run,
        environment: args.environment.clone(),
        by: whoami(),
        // An OS user belongs to no group: groups come with tokens.
        groups: Vec::new(),
        approved,
        comment: args.comment.clone(),
        at_ms: now_ms(),
    };
    let answers = match bellwether_runner::review(
        data.store.as_ref(),
        &order,
        bellwether_triggers::environment_spec,
    ) {
        Ok(answers) => answers,
        Err(e @ bellwether_runner::ReviewRefused::Store(_)) => return Err(e.into()),
        Err(bellwether_runner::ReviewRefused::NoRun(n)) => {
            eprintln!("error: no run {n} in {}", data.dir.display());
            return Ok(exit::FAILURE);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::FAILURE);
        }
    };
    let mut failed = false;
    for answer in answers {
        match answer.outcome {
            Ok(()) => println!(
                "{} {verb} environment `{}` of run {} (as the local user: no control plane given)",
                order.by, answer.environment, order.run
            ),
            Err(reason) => {
                eprintln!("error: {reason}");
                failed = true;
            }
        }
    }
    Ok(if failed { exit::FAILURE } else { exit::SUCCESS })
}

/// Through the control plane, as the token's identity.
fn remote(args: &ReviewArgs, approved: bool, server: &str, verb: &str) -> anyhow::Result<Code> {
    let client = Client::new(server)?;
    let request = ReviewRequest {
        environment: args.environment.clone(),
        approved,
        comment: args.comment.clone(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let path = paths::reviews(&args.run.to_string());
    let answers: Vec<ReviewAnswer> = match runtime.block_on(client.post(&path, &request)) {
        Ok(answers) => answers,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(exit::FAILURE);
        }
    };
    let mut failed = false;
    for a in answers {
        match a.refused {
            None => println!(
                "{} {verb} environment `{}` of run {}",
                a.by, a.environment, args.run
            ),
            Some(reason) => {
                eprintln!("error: {reason}");
                failed = true;
            }
        }
    }
    Ok(if failed { exit::FAILURE } else { exit::SUCCESS })
}
