//! One attempt of a run in the foreground, for `run` and `rerun` alike: the attempt itself
//! (`bellwether_runner::Attempt`, its steps on the host executor) with the live job tree on
//! the terminal and Ctrl-C.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bellwether_core::error::chain;
use bellwether_executor_host::HostLauncher;
use bellwether_pipeline_core::run::Conclusion;
use bellwether_runner::{Attempt, Control, DataDir, Observer, SecretStore};
use bellwether_runner::{Deployer, Settings};
use clap::Args;

use super::terminal::Terminal;

/// How a run executes, shared by `run` and `rerun`.
#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// The control plane deploy steps start rollouts on: the global `--server`, when given.
    #[arg(skip)]
    pub(crate) server: Option<String>,
    /// A secret from an environment variable instead of the secret store, for this run: `NAME` reads $NAME, `NAME=VAR` reads $VAR; repeat for each.
    #[arg(long = "secret", value_name = "NAME[=VAR]")]
    pub(crate) secrets: Vec<String>,
    /// Waive an environment's protection rules (approvals, wait timer) for this run, as the person starting it; repeat for each.
    #[arg(long = "approve", value_name = "ENVIRONMENT")]
    pub(crate) approve: Vec<String>,
    /// Refuse an environment's gate still waiting after this long, e.g. 30m [default: wait until it is answered, or Ctrl-C].
    #[arg(long, value_name = "DURATION", value_parser = crate::commands::parse_duration)]
    pub(crate) approval_timeout: Option<Duration>,
    /// How many jobs run at once [default: the number of CPUs].
    #[arg(short = 'j', long = "parallel", value_name = "N")]
    pub(crate) parallel: Option<usize>,
    /// Keep each job's workspace afterwards (one directory per job and matrix leg), to look around in them.
    #[arg(long)]
    pub(crate) keep_workspace: bool,
    /// Plain lines, even on a terminal.
    #[arg(long)]
    pub(crate) plain: bool,
    /// Only the jobs' progress, not their output (it is still in the log files).
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,
}

impl ExecArgs {
    /// The settings of an attempt: `--secret` read from the environment, the parallelism.
    pub(crate) fn settings(&self) -> anyhow::Result<Settings> {
        let mut secrets = BTreeMap::new();
        for given in &self.secrets {
            let (name, var) = given.split_once('=').unwrap_or((given, given));
            let name = SecretStore::normalize(name).with_context(|| format!("--secret {given}"))?;
            let value = std::env::var(var).with_context(|| {
                format!("--secret {given}: the environment variable {var} is not set")
            })?;
            secrets.insert(name, value);
        }
        Ok(Settings {
            secrets,
            waived: self.approve.clone(),
            approval_timeout: self.approval_timeout,
            parallel: self
                .parallel
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from))
                .max(1),
            deployer: self.deployer()?,
            keep_workspace: self.keep_workspace,
            untrusted: None,
        })
    }

    /// Deploy steps start real rollouts when a control plane is given, and are stand-ins otherwise.
    fn deployer(&self) -> anyhow::Result<Option<Arc<dyn Deployer>>> {
        let Some(server) = &self.server else {
            return Ok(None);
        };
        Ok(Some(Arc::new(super::deploy::ApiDeployer::new(server)?)))
    }
}

/// Runs the attempt to its end in the foreground; the caller holds the run's lock throughout.
pub(crate) fn execute(
    a: Attempt,
    exec: &ExecArgs,
    settings: &Settings,
    data: &DataDir,
) -> anyhow::Result<Conclusion> {
    let name = a.spec.name.clone();
    let number = a.number;
    let attempt = a.attempt;
    let prepared = a.prepare(settings, data, &HostLauncher)?;
    for missing in &prepared.missing_secrets {
        eprintln!(
            "warning: {name}: secret `{missing}` is not set (`bellwether secret set {missing}` sets it), so it is empty"
        );
    }
    let terminal = Arc::new(Terminal::new(
        prepared.title().to_owned(),
        exec.plain,
        exec.quiet,
        prepared.masker(),
    ));
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let groups = prepared.executor().groups();
    let ticking = Arc::clone(&terminal);
    let observers = vec![Arc::clone(&terminal) as Arc<dyn Observer>];
    let finished = runtime.block_on(async move {
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(250));
            loop {
                every.tick().await;
                ticking.tick();
            }
        });
        let (control, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = control
                    .send(Control::Cancel(
                        "interrupted (Ctrl-C); press it again to stop at once".to_owned(),
                    ))
                    .await;
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                groups.kill_all();
                std::process::exit(130);
            }
        });
        prepared.run(observers, rx).await
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    if let Some(e) = &finished.history_error {
        eprintln!(
            "warning: run {number}'s history is incomplete: {}",
            chain(e)
        );
    }
    terminal.finish(finished.conclusion, started.elapsed());
    println!(
        "{name}: {} in {:.1}s · logs in {} · bellwether logs {number}",
        finished.conclusion,
        started.elapsed().as_secs_f64(),
        finished.logs.display(),
    );
    super::summary::print(&super::summary::read(super::summary::jobs(
        data, number, attempt,
    )));
    if let Some(kept) = &finished.workspace {
        println!(
            "{name}: the workspaces are kept in {}, one directory per job and matrix leg",
            kept.display()
        );
    }
    Ok(finished.conclusion)
}
