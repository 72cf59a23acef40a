//! The `bellwether` command line: parses arguments, runs one command, maps the outcome to a
//! documented exit code.

mod cli;
mod commands;
mod diagnostics;
mod exit;
mod output;

use std::process::ExitCode;

use bellwether_core::error::chain;
use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", chain(&*error));
            exit::FAILURE.into()
        }
    }
}
