//! One attempt of a run from start to end, for `run` and `rerun` alike: its secrets, a clean
//! workspace, the executor, the terminal, the history in the store, environment gates
//! answered from the store, and Ctrl-C.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bellwether_config::Loaded;
use bellwether_executor_host::{
    Artifacts, Cache, Checkout, Control, Deployer, Driver, Gates, History, HostConfig,
    HostExecutor, Observer, Reviews, SecretStore, StoreReviews, Workspace, now_ms,
};
use bellwether_pipeline_core::expr::Value;
use bellwether_pipeline_core::mask::Masker;
use bellwether_pipeline_core::run::{Conclusion, ReusedJob, Run, RunInput};
use bellwether_pipeline_core::spec::PipelineSpec;
use bellwether_pipeline_core::trigger;
use bellwether_store::{Change, RunStatus};
use clap::Args;

use super::data::{Data, whoami};
use super::terminal::Terminal;

/// The local cache keeps at most this much; the least recently used entries go first.
const CACHE_LIMIT: u64 = 10 * 1024 * 1024 * 1024;
/// Between SIGTERM and SIGKILL for a step that times out or is cancelled.
const GRACE: Duration = Duration::from_secs(5);
/// How often a waiting gate reads the reviews people gave.
const REVIEW_POLL: Duration = Duration::from_millis(250);

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
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub(crate) approval_timeout: Option<Duration>,
    /// How many jobs run at once [default: the number of CPUs].
    #[arg(short = 'j', long = "parallel", value_name = "N")]
    pub(crate) parallel: Option<usize>,
    /// Keep the run's workspace afterwards, to look around in it.
    #[arg(long)]
    pub(crate) keep_workspace: bool,
    /// Plain lines, even on a terminal.
    #[arg(long)]
    pub(crate) plain: bool,
    /// Only the jobs' progress, not their output (it is still in the log files).
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,
}

fn duration(text: &str) -> Result<Duration, String> {
    bellwether_config::values::DurationValue::parse(text)?
        .to_std()
        .ok_or_else(|| format!("`{text}` is negative (expected a duration like 30m)"))
}

/// One attempt to make.
pub(crate) struct Attempt<'a> {
    pub(crate) loaded: &'a Loaded,
    pub(crate) spec: PipelineSpec,
    pub(crate) event: trigger::Event,
    pub(crate) inputs: BTreeMap<String, Value>,
    /// The project file's directory.
    pub(crate) project: PathBuf,
    pub(crate) checkout: Checkout,
    pub(crate) number: u64,
    pub(crate) attempt: u32,
    pub(crate) reused: BTreeMap<String, ReusedJob>,
}

/// Runs the attempt to its end; the caller holds the run's lock throughout.
pub(crate) fn execute(a: Attempt<'_>, exec: &ExecArgs, data: &Data) -> anyhow::Result<Conclusion> {
    let store = Arc::clone(&data.store);
    let fail = |why: String| {
        let at_ms = now_ms();
        let note = Change::Note {
            attempt: a.attempt,
            job: None,
            text: why.clone(),
            at_ms,
        };
        let status = Change::Status {
            attempt: a.attempt,
            status: RunStatus::Failure,
            at_ms,
        };
        let _ = store.record(a.number, &[note, status]);
        anyhow::anyhow!(why)
    };
    let secrets = secrets(&a.spec, data, &exec.secrets).map_err(|e| fail(format!("{e:#}")))?;
    let run_dir = data.run_dir(a.number);
    let suffix = if a.attempt > 1 {
        format!("-{}", a.attempt)
    } else {
        String::new()
    };
    let logs = run_dir.join(format!("logs{suffix}"));
    let scratch = run_dir.join(format!("tmp{suffix}"));
    let workspace = Workspace::create(
        &a.project,
        &run_dir.join(format!("workspace{suffix}")),
        &a.checkout,
        &data.dir,
    )
    .map_err(|e| fail(e.to_string()))?;
    let actor = whoami();
    store
        .start_attempt(a.number, a.attempt, &actor, &workspace.sha, now_ms())
        .context("cannot record the run's start")?;
    let executor = Arc::new(HostExecutor::new(HostConfig {
        workdir: workspace.workdir.clone(),
        scratch: scratch.clone(),
        cache: Cache::new(data.dir.join("cache"), CACHE_LIMIT),
        artifacts: Artifacts::new(
            data.dir.join("artifacts/objects"),
            run_dir.join("artifacts"),
        ),
        grace: GRACE,
        deployer: deployer(exec)?,
        deployed_by: format!("{actor} (pipeline {}, run {})", a.spec.name, a.number),
    }));
    let parallel = exec
        .parallel
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from))
        .max(1);
    let masker = Arc::new(Masker::new(secrets.values()));
    let name = a.spec.name.clone();
    let again = if a.attempt > 1 {
        format!(" (attempt {})", a.attempt)
    } else {
        String::new()
    };
    let title = format!("{name} · {} · run {}{again}", a.event.describe(), a.number);
    let input = RunInput {
        spec: a.spec,
        event: a.event,
        sha: workspace.sha.clone(),
        repository: workspace.repository.clone(),
        actor: actor.clone(),
        workspace: workspace.workdir.display().to_string(),
        run_id: a.number.to_string(),
        run_number: a.number,
        attempt: a.attempt,
        reused: a.reused,
        inputs: a.inputs,
        secrets,
        environments: a.loaded.project.environments.clone(),
        services: a.loaded.project.services.keys().cloned().collect(),
        runner: BTreeMap::from([
            ("os".to_owned(), Value::string("Linux")),
            (
                "arch".to_owned(),
                Value::string(if cfg!(target_arch = "aarch64") {
                    "ARM64"
                } else {
                    "X64"
                }),
            ),
            ("name".to_owned(), Value::string("bellwether-host")),
            (
                "temp".to_owned(),
                Value::string(scratch.display().to_string()),
            ),
        ]),
        max_parallel: parallel,
    };
    let terminal = Arc::new(Terminal::new(
        title,
        exec.plain,
        exec.quiet,
        Arc::clone(&masker),
    ));
    let started = Instant::now();
    let history = Arc::new(History::start(
        Arc::clone(&store),
        a.number,
        a.attempt,
        now_ms(),
        logs.clone(),
        Arc::clone(&masker),
    ));
    let reviews: Arc<dyn Reviews> = Arc::new(StoreReviews {
        store: Arc::clone(&store),
        run: a.number,
        attempt: a.attempt,
    });
    let driver = Driver {
        executor: Arc::clone(&executor),
        logs: logs.clone(),
        masker,
        observers: vec![
            Arc::clone(&history) as Arc<dyn Observer>,
            Arc::clone(&terminal) as Arc<dyn Observer>,
        ],
        gates: Gates {
            waived: exec.approve.clone(),
            actor,
            reviews: Some(reviews),
            approve_with: Some(format!("bellwether approve {}", a.number)),
            timeout: exec.approval_timeout,
            poll: REVIEW_POLL,
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let groups = executor.groups();
    let ticking = Arc::clone(&terminal);
    let conclusion = runtime.block_on(async move {
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
        driver.drive(Run::new(input), rx).await
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    if let Err(e) = history.finish() {
        eprintln!("warning: run {}'s history is incomplete: {e}", a.number);
    }
    terminal.finish(conclusion, started.elapsed());
    println!(
        "{name}: {conclusion} in {:.1}s · logs in {} · bellwether logs {}",
        started.elapsed().as_secs_f64(),
        logs.display(),
        a.number
    );
    if exec.keep_workspace {
        println!(
            "{name}: the workspace is kept in {}",
            workspace.root.display()
        );
    } else {
        workspace.remove();
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(conclusion)
}

/// The secrets the pipeline names: from the secret store, or from the environment where
/// `--secret` says so. Only those are decrypted, and each job is given only its own.
fn secrets(
    spec: &PipelineSpec,
    data: &Data,
    overrides: &[String],
) -> anyhow::Result<BTreeMap<String, String>> {
    let used = spec.secrets_used();
    let mut out = SecretStore::new(&data.dir)
        .load(|name| used.includes(name))
        .context("cannot read the secret store")?;
    for given in overrides {
        let (name, var) = given.split_once('=').unwrap_or((given, given));
        let name = SecretStore::normalize(name).with_context(|| format!("--secret {given}"))?;
        let value = std::env::var(var).with_context(|| {
            format!("--secret {given}: the environment variable {var} is not set")
        })?;
        out.insert(name, value);
    }
    for missing in used.names.iter().filter(|n| !out.contains_key(*n)) {
        eprintln!(
            "warning: {}: secret `{missing}` is not set (`bellwether secret set {missing}` sets it), so it is empty",
            spec.name
        );
    }
    Ok(out)
}

/// Deploy steps start real rollouts when a control plane is given, and are stand-ins otherwise.
fn deployer(exec: &ExecArgs) -> anyhow::Result<Option<Arc<dyn Deployer>>> {
    let Some(server) = &exec.server else {
        return Ok(None);
    };
    Ok(Some(Arc::new(super::deploy::ApiDeployer::new(server)?)))
}
