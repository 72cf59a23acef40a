//! The command-line grammar: every verb, its flags and its help.

use clap::{Parser, Subcommand};

use crate::exit;
use crate::logging::LogFormat;
use crate::output::Format;

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
    /// rollouts here; without it they are stand-ins. With `runs`, `approve` and `reject`, the
    /// runs are its; without it, the data directory's.
    #[arg(long, global = true, env = "BELLWETHER_SERVER", value_name = "URL")]
    pub(crate) server: Option<String>,

    /// How diagnostics and the control plane's log are written to stderr: `text` for people,
    /// `json` for one JSON object per line. `RUST_LOG` filters them [default: warn,bellwether=info].
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Watch bellwether release five versions of a demo service on this machine: a canary promoted, one rolled back by itself, blue-green and rolling; then a summary.
    #[command(after_help = exit::HELP)]
    Demo(crate::commands::demo::DemoArgs),
    /// Check bellwether.yaml files: every problem with file:line:column and what was expected.
    #[command(after_help = exit::HELP)]
    Validate(crate::commands::validate::ValidateArgs),
    /// Print the JSON Schema of bellwether.yaml, for editors and linters.
    Schema,
    /// Check a running service once: HTTP status, body, JSON values, headers, time, TCP, TLS certificate expiry.
    #[command(after_help = exit::HELP)]
    Check(crate::commands::verify::CheckArgs),
    /// Run suites of checks in rounds for a while, passing on a minimum success rate.
    #[command(after_help = exit::HELP)]
    Verify(crate::commands::verify::VerifyArgs),
    /// Play a service's next rollout on a simulated clock: each step, weight, analysis and how long it all takes.
    #[command(after_help = exit::HELP)]
    Simulate(crate::commands::simulate::SimulateArgs),
    /// Load-test a service from a k6-style file: scenarios and executors, requests, checks, thresholds; k6's summary, exit 99 when a threshold fails.
    #[command(after_help = exit::HELP)]
    Load(crate::commands::load::LoadArgs),
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
    /// Run the control plane in the foreground: the controller, each service's router and the HTTP API the other verbs talk to.
    Up(crate::commands::up::UpArgs),
    #[command(flatten)]
    Ops(crate::commands::ops::Verb),
    /// A small HTTP service to try bellwether with (the examples' replicas run it): GET /health, and answers with its version; configured by PORT, DEMO_VERSION (else BELLWETHER_VERSION), DEMO_ERROR_RATE, DEMO_LATENCY, DEMO_LATENCY_SIGMA, DEMO_FAILURES, DEMO_SEED, DEMO_EXIT_AFTER.
    DemoService,
    /// Convert another tool's files into a bellwether.yaml: `import argo-rollouts FILE...`.
    Import(crate::commands::import::ImportArgs),
    /// A replica's log writer, which the local platform starts with the replica's output on standard input.
    #[command(name = bellwether_platform_local::LOG_WRITER, hide = true)]
    LogWriter(crate::commands::log_writer::LogWriterArgs),
    /// Print a shell completion script, e.g. `source <(bellwether completions bash)` in ~/.bashrc; it asks this binary what to complete, so services, runs and pipelines are completed by name.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}
