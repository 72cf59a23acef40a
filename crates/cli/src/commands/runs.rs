//! `bellwether runs [RUN]`: the run history, newest first, or one run's jobs, gates and
//! reviews; with `--logs`, a run's (or one job's) logs as its steps wrote them. With
//! `--server` (or `$BELLWETHER_SERVER`) the history is the control plane's, through its API
//! ([`remote`]); without, the data directory's ([`run_logs`] reads its logs). Either way the
//! run is the API's [`RunView`], printed by the same code ([`render`]).

mod remote;
mod render;

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::Context;
use bellwether_api::{RunInstanceView, RunJobView, RunView};
use bellwether_runner::now_ms;
use bellwether_store::{InstanceRow, RunHistory};
use clap::Args;

use super::run::data::DataArgs;
use crate::exit::{self, Code};
use crate::output::{Format, print_records};

#[derive(Debug, Args)]
pub(crate) struct RunsArgs {
    /// One run to show in full: its jobs, gates and who reviewed them.
    #[arg(add = crate::commands::completion::runs())]
    pub(crate) run: Option<u64>,
    /// Only the runs of this pipeline.
    #[arg(long, short = 'p', add = crate::commands::completion::pipelines())]
    pub(crate) pipeline: Option<String>,
    /// How many runs to list, newest first (a control plane lists at most 1000).
    #[arg(long, default_value_t = 20)]
    pub(crate) limit: u32,
    /// Print the run's logs instead: notes and each step's output, job by job.
    #[arg(long, requires = "run")]
    pub(crate) logs: bool,
    /// With --logs, only this job's (by id or display name).
    #[arg(long, requires = "logs", value_name = "JOB")]
    pub(crate) job: Option<String>,
    /// Where the history is when no control plane is given (`--server`).
    #[command(flatten)]
    pub(crate) data: DataArgs,
}

/// Lists or shows runs, or prints a run's logs: the control plane's at `server`, else the
/// data directory's.
pub(crate) fn run(args: &RunsArgs, format: Format, server: Option<&str>) -> anyhow::Result<Code> {
    if let Some(server) = server {
        return remote::run(args, format, server);
    }
    if let (Some(number), true) = (args.run, args.logs) {
        return run_logs(&args.data, number, args.job.as_deref());
    }
    let data = args.data.open()?;
    let Some(number) = args.run else {
        let runs =
            bellwether_server::run_list(data.store.as_ref(), args.pipeline.as_deref(), args.limit)?;
        return print_list(format, &runs);
    };
    let Some(run) = bellwether_server::run_view(data.store.as_ref(), number, &data.dir)? else {
        eprintln!("error: no run {number} in {}", data.dir.display());
        return Ok(exit::FAILURE);
    };
    print_run(format, &run)
}

fn print_list(format: Format, runs: &[RunView]) -> anyhow::Result<Code> {
    if !print_records(format, &runs)? {
        render::list(runs);
    }
    Ok(exit::SUCCESS)
}

fn print_run(format: Format, run: &RunView) -> anyhow::Result<Code> {
    if !print_records(format, run)? {
        render::show(run);
    }
    Ok(exit::SUCCESS)
}

/// Prints run `number`'s logs (its latest attempt), or one job's, from the data directory:
/// each leg's notes from the history, then each step's log file as the step wrote it, masked.
pub(crate) fn run_logs(data: &DataArgs, number: u64, job: Option<&str>) -> anyhow::Result<Code> {
    let data = data.open()?;
    let Some(run) = bellwether_server::run_view(data.store.as_ref(), number, &data.dir)? else {
        eprintln!("error: no run {number} in {}", data.dir.display());
        return Ok(exit::FAILURE);
    };
    let mut files = LogFiles {
        store: data.store.as_ref(),
        run: &run,
        legs: BTreeMap::new(),
    };
    let printed = render::logs(&run, job, &mut files, &mut std::io::stdout().lock())?;
    Ok(if printed {
        exit::SUCCESS
    } else {
        exit::FAILURE
    })
}

/// The step logs in the legs' log directories, as the history records them.
struct LogFiles<'a> {
    store: &'a dyn RunHistory,
    run: &'a RunView,
    /// The legs of each attempt read so far.
    legs: BTreeMap<u32, Vec<InstanceRow>>,
}

impl render::StepLogs for LogFiles<'_> {
    fn copy(
        &mut self,
        job: &RunJobView,
        leg: &RunInstanceView,
        step: usize,
        out: &mut dyn Write,
    ) -> anyhow::Result<()> {
        let attempt = job.reused_from.unwrap_or(self.run.attempt);
        if let Entry::Vacant(e) = self.legs.entry(attempt) {
            e.insert(self.store.instances(self.run.number, attempt)?);
        }
        let dir = self.legs[&attempt]
            .iter()
            .find(|i| i.job == job.job && i.index == leg.index)
            .and_then(|i| i.logs.as_deref());
        let Some(dir) = dir else { return Ok(()) };
        // `<attempt>-<step, 2 digits>-<name>.log`, named by the runner.
        let prefix = format!("{}-{step:02}-", leg.attempt);
        let files = std::fs::read_dir(Path::new(dir))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix));
        for file in files {
            let mut f = std::fs::File::open(file.path())
                .with_context(|| format!("cannot read {}", file.path().display()))?;
            // Streamed: a step's log may be larger than memory.
            std::io::copy(&mut f, out)?;
        }
        Ok(())
    }
}

/// `2026-05-01T12:03:04Z`.
pub(crate) fn timestamp(ms: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// `3m ago`, to the largest whole unit.
pub(crate) fn ago(ms: u64) -> String {
    let secs = now_ms().saturating_sub(ms) / 1000;
    let (n, unit) = match secs {
        s if s < 60 => (s, "s"),
        s if s < 3_600 => (s / 60, "m"),
        s if s < 86_400 => (s / 3_600, "h"),
        s => (s / 86_400, "d"),
    };
    format!("{n}{unit} ago")
}
