//! One module per command; each returns the exit code its outcome calls for.

mod client;
mod credentials;
pub(crate) mod demo;
mod demo_service;
pub(crate) mod ops;
pub(crate) mod rerun;
pub(crate) mod review;
pub(crate) mod router;
pub(crate) mod run;
pub(crate) mod runs;
pub(crate) mod secret;
mod simulate;
mod up;
mod validate;

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::{Cli, Command};
use crate::exit;

pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let code = match cli.command {
        Command::Demo(args) => demo::run(&args)?,
        Command::Validate(args) => validate::run(&args, cli.output)?,
        Command::Simulate(args) => simulate::run(&args, cli.output)?,
        Command::Router(args) => router::run(&args)?,
        Command::Run(mut args) => {
            args.exec.server = cli.server;
            run::run(&args)?
        }
        Command::Runs(args) => runs::run(&args, cli.output)?,
        Command::Rerun(mut args) => {
            args.exec.server = cli.server;
            rerun::run(&args)?
        }
        Command::Approve(args) => review::approve(&args, cli.server.as_deref())?,
        Command::Reject(args) => review::reject(&args, cli.server.as_deref())?,
        Command::Secret(args) => secret::run(&args, cli.output)?,
        Command::Ops(command) => ops::run(
            command,
            &cli.server
                .unwrap_or_else(|| format!("http://{}", bellwether_server::DEFAULT_LISTEN)),
            cli.output,
        )?,
        Command::DemoService => demo_service::run()?,
        Command::Schema => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", bellwether_config::schema())?;
            exit::SUCCESS
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "bellwether",
                &mut std::io::stdout(),
            );
            exit::SUCCESS
        }
    };
    Ok(code.into())
}

/// Reads a project file, saying which file could not be read and why.
fn read(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
}
