//! The `bellwether` command line: parses arguments, runs one command, maps the outcome to a
//! documented exit code.

mod cli;
mod commands;
mod diagnostics;
mod exit;
mod logging;
mod output;

use std::io::Write;
use std::process::ExitCode;

use bellwether_core::error::chain;
use clap::{CommandFactory, Parser};

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::install(cli.log_format);
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", chain(&*error));
            exit::FAILURE.into()
        }
    }
}

/// Runs the command the arguments name.
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let code = match cli.command {
        Command::Demo(args) => commands::demo::run(&args)?,
        Command::Validate(args) => commands::validate::run(&args, cli.output)?,
        Command::Check(args) => commands::verify::check(&args, cli.output)?,
        Command::Verify(args) => commands::verify::verify(&args, cli.output)?,
        Command::Simulate(args) => commands::simulate::run(&args, cli.output)?,
        Command::Router(args) => commands::router::run(&args)?,
        Command::Load(args) => commands::load::run(&args)?,
        Command::Run(mut args) => {
            args.exec.server = cli.server;
            commands::run::run(&args)?
        }
        Command::Runs(args) => commands::runs::run(&args, cli.output)?,
        Command::Rerun(mut args) => {
            args.exec.server = cli.server;
            commands::rerun::run(&args)?
        }
        Command::Approve(args) => commands::review::approve(&args, cli.server.as_deref())?,
        Command::Reject(args) => commands::review::reject(&args, cli.server.as_deref())?,
        Command::Secret(args) => commands::secret::run(&args, cli.output)?,
        Command::Up(args) => commands::up::run(&args)?,
        Command::Ops(verb) => commands::ops::run(
            verb,
            &cli.server
                .unwrap_or_else(|| format!("http://{}", bellwether_server::DEFAULT_LISTEN)),
            cli.output,
        )?,
        Command::DemoService => commands::demo_service::run()?,
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
