//! `bellwether deploy SERVICE --version V`: a new revision, rolled out under the service's
//! strategy.

use std::collections::BTreeMap;

use bellwether_api::{Commit, DeployRequest, ServiceView, paths};
use bellwether_core::time::Timestamp;
use bellwether_runner::Repo;
use clap::Args;

use crate::commands::client::Client;
use crate::exit::{self, Code};
use crate::output::{Format, print_records};

#[derive(Debug, Args)]
#[command(disable_version_flag = true)]
pub(crate) struct DeployArgs {
    #[arg(add = crate::commands::completion::services())]
    service: String,
    /// The new revision's version label (a release, a commit).
    #[arg(long)]
    version: String,
    /// An environment variable for this revision, added to the service's own; may be repeated.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// The program and arguments to run instead of the service's command; everything after it
    /// is its arguments, so put it last.
    #[arg(long, value_name = "PROGRAM [ARG]...", num_args = 1.., allow_hyphen_values = true)]
    command: Option<Vec<String>>,
    /// The environment deployed to [default: the only one the service declares]. A protected one takes deploys only from a pipeline job that passed its gate.
    #[arg(long, value_name = "NAME")]
    environment: Option<String>,
    /// The commit the version was built from (a sha, a tag, `HEAD`), read from the git repository of the current directory: its time is where the change's lead time starts.
    #[arg(long, value_name = "REV")]
    commit: Option<String>,
}

pub(crate) async fn run(client: &Client, args: DeployArgs, format: Format) -> anyhow::Result<Code> {
    let commit = args.commit.as_deref().map(source_commit).transpose()?;
    let request = DeployRequest {
        version: args.version,
        env: args.env.into_iter().collect::<BTreeMap<_, _>>(),
        command: args.command,
        environment: args.environment,
        run: None,
        commit,
    };
    let view: ServiceView = client.post(&paths::deploy(&args.service), &request).await?;
    if !print_records(format, &view)? {
        let target = view.target.as_ref().or(view.stable.as_ref());
        match target {
            Some(revision) => println!("{}: deploying {revision}", view.name),
            None => println!("{}: deploy accepted", view.name),
        }
        println!("{}: {}", view.phase, view.reason);
        println!("`bellwether get {} -w` follows it", view.name);
    }
    Ok(exit::SUCCESS)
}

/// The commit `rev` names in the repository around the current directory, with its time.
fn source_commit(rev: &str) -> anyhow::Result<Commit> {
    let here = std::env::current_dir()?;
    let repo = Repo::find(&here).ok_or_else(|| {
        anyhow::anyhow!(
            "--commit {rev}: {} is not in a git repository (expected to run where the commit is)",
            here.display()
        )
    })?;
    let found = repo.commit(rev).ok_or_else(|| {
        anyhow::anyhow!(
            "--commit {rev}: no such commit in {} (expected a sha, a tag or a branch)",
            repo.top.display()
        )
    })?;
    Ok(Commit {
        sha: found.sha,
        committed_at: Timestamp::from_millis(found.committed_at_ms),
    })
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_flags_are_key_value_pairs() {
        assert_eq!(
            parse_env("A=b=c").unwrap(),
            ("A".to_owned(), "b=c".to_owned())
        );
        assert_eq!(parse_env("EMPTY=").unwrap().1, "");
        assert!(parse_env("=x").is_err());
        assert!(parse_env("NOEQUALS").is_err());
    }
}
