//! `bellwether secret set|list|rm NAME`: the data directory's secret store. Values come from
//! standard input and are stored encrypted; they are never printed.

use std::io::{IsTerminal, Read, Write};

use anyhow::Context;
use bellwether_runner::{SecretStore, now_ms};
use clap::{Args, Subcommand};
use serde::Serialize;

use super::run::data::DataArgs;
use crate::exit::{self, Code};
use crate::output::{Format, print_data};

#[derive(Debug, Args)]
pub(crate) struct SecretArgs {
    #[command(subcommand)]
    pub(crate) action: SecretAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SecretAction {
    /// Set a secret to what standard input holds (one trailing newline is dropped; typed at a terminal, it is not shown).
    Set {
        /// Letters, digits and `_`; names ignore case, as `${{ secrets.NAME }}` does.
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List the secrets' names and when each was set; never their values.
    #[command(alias = "ls")]
    List {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Remove a secret.
    #[command(alias = "remove")]
    Rm {
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Serialize)]
struct Listed {
    name: String,
    updated_at: String,
}

pub(crate) fn run(args: &SecretArgs, format: Format) -> anyhow::Result<Code> {
    match &args.action {
        SecretAction::Set { name, data } => {
            let store = SecretStore::new(&data.dir());
            let name = SecretStore::normalize(name)?;
            let value = read_value(&name)?;
            let replaced = store.set(&name, &value, now_ms())?;
            let verb = if replaced { "updated" } else { "set" };
            println!(
                "secret {name} {verb} ({} bytes, encrypted in {})",
                value.len(),
                data.dir().join("secrets").display()
            );
        }
        SecretAction::List { data } => {
            let secrets = SecretStore::new(&data.dir()).list()?;
            let listed: Vec<Listed> = secrets
                .iter()
                .map(|s| Listed {
                    name: s.name.clone(),
                    updated_at: super::runs::timestamp(s.updated_ms),
                })
                .collect();
            if !print_data(format, &listed)? {
                if listed.is_empty() {
                    println!("no secrets (`bellwether secret set NAME` sets one)");
                }
                let width = listed
                    .iter()
                    .map(|s| s.name.len())
                    .max()
                    .unwrap_or(0)
                    .max(4);
                if !listed.is_empty() {
                    println!("{:<width$}  UPDATED", "NAME");
                }
                for (s, l) in secrets.iter().zip(&listed) {
                    println!(
                        "{:<width$}  {} ({})",
                        l.name,
                        super::runs::ago(s.updated_ms),
                        l.updated_at
                    );
                }
            }
        }
        SecretAction::Rm { name, data } => {
            let name = SecretStore::normalize(name)?;
            if !SecretStore::new(&data.dir()).remove(&name)? {
                eprintln!("error: no secret {name} (`bellwether secret list` lists them)");
                return Ok(exit::FAILURE);
            }
            println!("secret {name} removed");
        }
    }
    Ok(exit::SUCCESS)
}

/// The value on standard input; at a terminal, typed without echo, up to Enter.
fn read_value(name: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let mut value = String::new();
    if stdin.is_terminal() {
        eprint!("value of {name} (not shown; Enter ends it): ");
        let _ = std::io::stderr().flush();
        let echo = hide_input(&stdin);
        let read = stdin.read_line(&mut value);
        if let Some(restore) = echo {
            restore();
        }
        eprintln!();
        read.context("cannot read the value")?;
    } else {
        stdin
            .lock()
            .read_to_string(&mut value)
            .context("cannot read the value from standard input")?;
    }
    let value = value
        .strip_suffix("\r\n")
        .or_else(|| value.strip_suffix('\n'))
        .unwrap_or(&value);
    Ok(value.to_owned())
}

/// Turns off the terminal's echo; the returned function turns it back on.
fn hide_input(stdin: &std::io::Stdin) -> Option<impl FnOnce() + '_> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let saved = tcgetattr(stdin).ok()?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    tcsetattr(stdin, SetArg::TCSANOW, &quiet).ok()?;
    Some(move || {
        let _ = tcsetattr(stdin, SetArg::TCSANOW, &saved);
    })
}
