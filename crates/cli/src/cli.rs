//! The command-line grammar: every verb, its flags and its help.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit;

#[derive(Debug, Parser)]
#[command(
    name = "bellwether",
    version,
    about = "Take a commit to production safely: pipelines, canary, blue-green and rolling releases judged by live metrics, automatic rollback.",
    after_help = exit::HELP,
    propagate_version = true
)]
pub(crate) struct Cli {
    /// Output format of commands that print data.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Format::Table)]
    pub(crate) output: Format,

    /// The control plane the operator commands talk to.
    /// [default: http://127.0.0.1:7070]. With `run` and `rerun`, deploy steps start their
    /// rollouts here; without it they are stand-ins.
    #[arg(long, global = true, env = "BELLWETHER_SERVER", value_name = "URL")]
    pub(crate) server: Option<String>,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// `-o table` is for people; `-o json` and `-o yaml` are stable, for scripts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Watch bellwether release five versions of a demo service on this machine: a canary promoted, one rolled back by itself, blue-green and rolling; then a summary.
    #[command(after_help = exit::HELP)]
    Demo(crate::commands::demo::DemoArgs),
    /// Check bellwether.yaml files: every problem with file:line:column and what was expected.
    #[command(after_help = exit::HELP)]
    Validate(ValidateArgs),
    /// Print the JSON Schema of bellwether.yaml, for editors and linters.
    Schema,
    /// Play a service's next rollout on a simulated clock: each step, weight, analysis and how long it all takes.
    #[command(after_help = exit::HELP)]
    Simulate(SimulateArgs),
    /// Run the built-in router on its own: weighted and header routing between revisions, with an admin API.
    Router(crate::commands::router::RouterArgs),
    /// Run pipelines here, in the foreground, with a live job tree; the event's filters apply for real.
    #[command(after_help = exit::HELP)]
    Run(crate::commands::run::RunArgs),
    /// Past and current pipeline runs, newest first; with a number, one run's jobs, gates and reviews.
    Runs(crate::commands::runs::RunsArgs),
    /// Run a finished or interrupted run again; with --failed, only what failed or never ran.
    #[command(after_help = exit::HELP)]
    Rerun(crate::commands::rerun::RerunArgs),
    /// Approve a run's environment gate (from any terminal, while the run waits).
    Approve(crate::commands::review::ReviewArgs),
    /// Reject a run's environment gate: the job waiting at it fails.
    Reject(crate::commands::review::ReviewArgs),
    /// Pipeline secrets, stored encrypted in the data directory: set (from standard input), list, rm.
    Secret(crate::commands::secret::SecretArgs),
    #[command(flatten)]
    Ops(crate::commands::ops::Ops),
    /// A small HTTP service for demos and benchmarks, configured by PORT, DEMO_ERROR_RATE, DEMO_LATENCY, DEMO_LATENCY_SIGMA, DEMO_FAILURES, DEMO_SEED, DEMO_VERSION.
    #[command(hide = true)]
    DemoService,
    /// Print a shell completion script, e.g. `bellwether completions bash > /etc/bash_completion.d/bellwether`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Files to check [default: bellwether.yaml].
    #[arg(value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
    /// A file to check (may be repeated; same as a positional FILE).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub(crate) file_flags: Vec<PathBuf>,
    /// Treat warnings as errors.
    #[arg(long)]
    pub(crate) strict: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SimulateArgs {
    /// The service to roll out; may be omitted when the file has only one.
    pub(crate) service: Option<String>,
    /// The project file.
    #[arg(short = 'f', long = "file", default_value = "bellwether.yaml")]
    pub(crate) file: PathBuf,
    /// Make every analysis of the new revision fail, to see the rollback.
    #[arg(long, conflicts_with = "inconclusive")]
    pub(crate) fail: bool,
    /// Make every analysis of the new revision inconclusive.
    #[arg(long)]
    pub(crate) inconclusive: bool,
    /// Promote whenever the rollout waits for a human, as an operator would.
    #[arg(long)]
    pub(crate) promote: bool,
    /// How long a replica takes to become ready.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub(crate) startup: std::time::Duration,
    /// How long an analysis takes to reach its verdict.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub(crate) analysis_time: std::time::Duration,
}

pub(crate) fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    bellwether_config::values::DurationValue::parse(text)?
        .to_std()
        .ok_or_else(|| format!("`{text}` is negative (expected a duration like 2s)"))
}
