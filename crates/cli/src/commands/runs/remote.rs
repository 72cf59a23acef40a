//! `bellwether runs` against a control plane: `GET /v1/runs` (with the pipeline and limit as
//! its query), `GET /v1/runs/N`, and each step's log through `GET /v1/runs/N/logs`, read in
//! the pieces the control plane serves them in. On a history several control planes share, the
//! logs are on the machine that ran the run; the others answer why not, which is printed.

use std::io::Write;

use anyhow::Context;
use bellwether_api::{RunInstanceView, RunJobView, RunView, paths};
use bytes::Bytes;
use tokio::runtime::Runtime;

use super::{RunsArgs, print_list, print_run, render};
use crate::commands::client::Client;
use crate::exit::{self, Code};
use crate::output::Format;

pub(super) fn run(args: &RunsArgs, format: Format, server: &str) -> anyhow::Result<Code> {
    let client = Client::new(server)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let Some(number) = args.run else {
        let mut query = vec![("limit", args.limit.to_string())];
        query.extend(args.pipeline.clone().map(|p| ("pipeline", p)));
        let runs: Vec<RunView> = match runtime.block_on(client.get_query(paths::RUNS, &query)) {
            Ok(runs) => runs,
            Err(e) => return refused(&e),
        };
        return print_list(format, &runs);
    };
    let run: RunView = match runtime.block_on(client.get(&paths::run(&number.to_string()))) {
        Ok(run) => run,
        Err(e) => return refused(&e),
    };
    if !args.logs {
        return print_run(format, &run);
    }
    let mut source = Remote {
        client: &client,
        runtime: &runtime,
        number,
    };
    // Whether the logs are on the control plane's machine is the run's, not a step's: asked
    // once, past any log's end, before anything is printed.
    let first = run
        .jobs
        .iter()
        .flat_map(|j| j.instances.iter().map(move |leg| (j, leg)))
        .find(|(_, leg)| !leg.steps.is_empty());
    if let Some((job, leg)) = first
        && let Err(e) = source.piece(job, leg, 1, u64::MAX)
    {
        return refused(&e);
    }
    let mut out = std::io::stdout().lock();
    match render::logs(&run, args.job.as_deref(), &mut source, &mut out) {
        Ok(true) => Ok(exit::SUCCESS),
        Ok(false) => Ok(exit::FAILURE),
        Err(e) => {
            out.flush()?;
            refused(&e)
        }
    }
}

/// What the control plane (or the way to it) said instead of an answer.
fn refused(error: &anyhow::Error) -> anyhow::Result<Code> {
    eprintln!("error: {error:#}");
    Ok(exit::FAILURE)
}

/// The step logs the control plane serves.
struct Remote<'a> {
    client: &'a Client,
    runtime: &'a Runtime,
    number: u64,
}

impl Remote<'_> {
    /// One answer of the logs route: the log's whole length, and its bytes from `offset`.
    fn piece(
        &self,
        job: &RunJobView,
        leg: &RunInstanceView,
        step: usize,
        offset: u64,
    ) -> anyhow::Result<(Option<u64>, Bytes)> {
        let path = paths::run_logs(&self.number.to_string());
        let query = [
            ("job", job.job.clone()),
            ("instance", leg.index.to_string()),
            ("step", step.to_string()),
            ("offset", offset.to_string()),
        ];
        self.runtime.block_on(async {
            let response = self.client.stream(&path, &query).await?;
            let size = response
                .headers()
                .get("x-log-size")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let piece = response
                .bytes()
                .await
                .context("the control plane broke off a step's log")?;
            Ok((size, piece))
        })
    }
}

impl render::StepLogs for Remote<'_> {
    fn copy(
        &mut self,
        job: &RunJobView,
        leg: &RunInstanceView,
        step: usize,
        out: &mut dyn Write,
    ) -> anyhow::Result<()> {
        let mut offset: u64 = 0;
        let mut end: Option<u64> = None;
        loop {
            let (size, piece) = self.piece(job, leg, step, offset)?;
            out.write_all(&piece)?;
            offset += piece.len() as u64;
            // The log as long as it was at the first answer: a step still running goes on
            // writing, and what it writes after is not waited for.
            let end = *end.get_or_insert(size.unwrap_or(0));
            if piece.is_empty() || offset >= end {
                return Ok(());
            }
        }
    }
}
