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
    // A shell asking what to complete is answered, and the process ends there.
    clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(commands::completion::VAR)
        .complete();
    let cli = Cli::parse();
    quiet_on_closed_stdout();
    logging::install(cli.log_format);
    match run(cli) {
        Ok(code) => code,
        Err(error) if closed_output(&error) => exit::OUTPUT_CLOSED.into(),
        Err(error) => {
            eprintln!("error: {}", chain(&*error));
            exit::FAILURE.into()
        }
    }
}

/// A command ends quietly, as `cat` does, when whoever reads its output goes away
/// (`bellwether get web -o json | head -c1`): `println!` panics on a closed stdout, and that
/// one panic becomes exit 141, without a message. (Servers write what they print of themselves
/// with `output::say`, which ignores a reader that went away: they must not end with it.)
fn quiet_on_closed_stdout() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(exit::OUTPUT_CLOSED.status());
        }
        report(info);
    }));
}

/// Whether the command failed only because its output was closed.
fn closed_output(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
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
        Command::Runs(args) => commands::runs::run(&args, cli.output, cli.server.as_deref())?,
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
        Command::LogWriter(args) => commands::log_writer::run(&args)?,
        Command::Import(args) => commands::import::run(&args)?,
        Command::Schema => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", bellwether_config::schema())?;
            exit::SUCCESS
        }
        Command::Completions { shell } => {
            commands::completion::script(shell, &mut std::io::stdout())?;
            exit::SUCCESS
        }
    };
    Ok(code.into())
}
