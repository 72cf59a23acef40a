//! `bellwether logs SERVICE [--revision R] [-f] [--tail N] [--timestamps]`: the replicas'
//! output as the control plane streams it, each line prefixed with its replica (`r2/0 | `)
//! and, with `--timestamps`, first with its time.
//! `bellwether logs RUN [JOB]` (a run number): a pipeline run's step logs, from the data
//! directory (`$BELLWETHER_DATA_DIR`, else `.bellwether` here).

use std::io::Write;

use anyhow::Context;
use bellwether_api::paths;
use bellwether_core::rollout::RevisionNumber;
use clap::Args;
use serde::Serialize;

use crate::commands::client::Client;
use crate::commands::run::data::DataArgs;
use crate::commands::runs::run_logs;
use crate::exit::{self, Code};

#[derive(Debug, Args, Serialize)]
pub(crate) struct LogsArgs {
    /// A service, or a pipeline run's number.
    #[serde(skip)]
    #[arg(value_name = "SERVICE|RUN", add = crate::commands::completion::services())]
    service: String,
    /// With a run number: only this job's logs.
    #[serde(skip)]
    job: Option<String>,
    /// Only this revision's replicas [default: every revision's].
    #[arg(long, value_name = "N")]
    revision: Option<RevisionNumber>,
    /// Keep printing output as it is written, across log rotations, until interrupted.
    #[arg(short = 'f', long)]
    follow: bool,
    /// Start with the last N lines of each replica.
    #[arg(long, value_name = "N")]
    tail: Option<usize>,
    /// Start each line with when the replica wrote it (RFC 3339, UTC, to the millisecond).
    #[arg(long)]
    timestamps: bool,
}

pub(crate) async fn run(client: &Client, args: &LogsArgs) -> anyhow::Result<Code> {
    if let Ok(number) = args.service.parse::<u64>() {
        let data = DataArgs {
            file: "bellwether.yaml".into(),
            data_dir: std::env::var_os("BELLWETHER_DATA_DIR").map(Into::into),
        };
        return run_logs(&data, number, args.job.as_deref());
    }
    if let Some(job) = &args.job {
        anyhow::bail!("`{job}`: a job name goes with a run number, not with a service");
    }
    let mut response = client.stream(&paths::logs(&args.service), args).await?;
    let mut out = std::io::stdout().lock();
    let mut any = false;
    while let Some(chunk) = response
        .chunk()
        .await
        .context("the control plane broke off the logs")?
    {
        any |= !chunk.is_empty();
        // A closed pipe (`| head`) is the reader saying it has seen enough.
        if out.write_all(&chunk).and_then(|()| out.flush()).is_err() {
            break;
        }
    }
    if !any {
        // Silence would read as "nothing wrong"; a service that never started says so in `get`.
        let of = args
            .revision
            .map_or(String::new(), |r| format!(" of revision {r}"));
        eprintln!(
            "{}: no output from any replica{of} (none has written anything, or none has run: `bellwether get {}` shows why)",
            args.service, args.service
        );
    }
    Ok(exit::SUCCESS)
}
