//! `bellwether secret set|list|rm NAME [--env E]`: the data directory's secret store. Values
//! come from standard input and are stored encrypted; they are never printed. A secret with
//! `--env` belongs to that environment: only its jobs see it, over the project's.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use anyhow::Context;
use bellwether_runner::{SecretInfo, SecretStore, now_ms};
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
        /// Only for the jobs of this environment, which see it over the project's secret of the
        /// same name.
        #[arg(long = "env", value_name = "ENVIRONMENT")]
        environment: Option<String>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List the secrets' names and when each was set; never their values.
    #[command(alias = "ls")]
    List {
        /// Only this environment's secrets.
        #[arg(long = "env", value_name = "ENVIRONMENT")]
        environment: Option<String>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Remove a secret.
    #[command(alias = "remove")]
    Rm {
        name: String,
        /// The environment's secret, not the project's.
        #[arg(long = "env", value_name = "ENVIRONMENT")]
        environment: Option<String>,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Serialize)]
struct Listed {
    name: String,
    environment: Option<String>,
    updated_at: String,
}

pub(crate) fn run(args: &SecretArgs, format: Format) -> anyhow::Result<Code> {
    match &args.action {
        SecretAction::Set {
            name,
            environment,
            data,
        } => {
            let store = SecretStore::new(&data.dir());
            let name = SecretStore::normalize(name)?;
            let environment = environment.as_deref();
            if let Some(e) = environment {
                declared(&data.file, e)?;
            }
            let value = read_value(&name)?;
            let replaced = store.set(environment, &name, &value, now_ms())?;
            let verb = if replaced { "updated" } else { "set" };
            let scope = environment.map_or(String::new(), |e| format!(" for environment {e}"));
            println!(
                "secret {name} {verb}{scope} ({} bytes, encrypted in {})",
                value.len(),
                data.dir().join("secrets").display()
            );
        }
        SecretAction::List { environment, data } => {
            let secrets: Vec<SecretInfo> = SecretStore::new(&data.dir())
                .list()?
                .into_iter()
                .filter(|s| environment.is_none() || s.environment == *environment)
                .collect();
            let listed: Vec<Listed> = secrets
                .iter()
                .map(|s| Listed {
                    name: s.name.clone(),
                    environment: s.environment.clone(),
                    updated_at: super::runs::timestamp(s.updated_ms),
                })
                .collect();
            if !print_data(format, &listed)? {
                print_table(&secrets, &listed);
            }
        }
        SecretAction::Rm {
            name,
            environment,
            data,
        } => {
            let name = SecretStore::normalize(name)?;
            let environment = environment.as_deref();
            let scope = environment.map_or(String::new(), |e| format!(" for environment {e}"));
            if !SecretStore::new(&data.dir()).remove(environment, &name)? {
                eprintln!("error: no secret {name}{scope} (`bellwether secret list` lists them)");
                return Ok(exit::FAILURE);
            }
            println!("secret {name}{scope} removed");
        }
    }
    Ok(exit::SUCCESS)
}

fn print_table(secrets: &[SecretInfo], listed: &[Listed]) {
    if listed.is_empty() {
        println!("no secrets (`bellwether secret set NAME [--env ENVIRONMENT]` sets one)");
        return;
    }
    let width = listed
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(0)
        .max(4);
    let scope_width = listed
        .iter()
        .filter_map(|s| s.environment.as_ref().map(String::len))
        .max()
        .unwrap_or(0)
        .max("ENVIRONMENT".len());
    println!(
        "{:<width$}  {:<scope_width$}  UPDATED",
        "NAME", "ENVIRONMENT"
    );
    for (s, l) in secrets.iter().zip(listed) {
        println!(
            "{:<width$}  {:<scope_width$}  {} ({})",
            l.name,
            l.environment.as_deref().unwrap_or("(all)"),
            super::runs::ago(s.updated_ms),
            l.updated_at
        );
    }
}

/// A secret for an environment the project does not declare would never be given to anyone:
/// refused, when the project file can be read to tell.
fn declared(file: &Path, environment: &str) -> anyhow::Result<()> {
    SecretStore::check_environment(environment)?;
    let Ok(source) = std::fs::read_to_string(file) else {
        eprintln!(
            "note: cannot read {} to check that it declares environment `{environment}`",
            file.display()
        );
        return Ok(());
    };
    let Ok(loaded) = bellwether_config::load_with(
        &file.display().to_string(),
        &source,
        &crate::commands::read_beside,
    ) else {
        eprintln!(
            "note: {} is not valid (`bellwether validate`), so environment `{environment}` is not checked",
            file.display()
        );
        return Ok(());
    };
    let known = &loaded.project.environments;
    if known.contains_key(environment) {
        return Ok(());
    }
    let names: Vec<&str> = known.keys().map(String::as_str).collect();
    let expected = if names.is_empty() {
        "it declares none".to_owned()
    } else {
        format!("expected one of {}", names.join(", "))
    };
    anyhow::bail!(
        "{} does not declare environment `{environment}` ({expected})",
        file.display()
    )
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
