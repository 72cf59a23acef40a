//! `bellwether run`: runs pipelines here, in the foreground, with a live job tree. The
//! event's filters apply for real: a pipeline they do not select does not run, and says why.

mod event;
mod terminal;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bellwether_config::Loaded;
use bellwether_executor_host::{
    Artifacts, Cache, Checkout, Control, Driver, Gates, HostConfig, HostExecutor, Observer, Repo,
    Workspace,
};
use bellwether_pipeline_core::expr::Value;
use bellwether_pipeline_core::mask::Masker;
use bellwether_pipeline_core::run::{Conclusion, Run, RunInput};
use bellwether_pipeline_core::spec::PipelineSpec;
use bellwether_pipeline_core::trigger::{self, EventName};
use clap::Args;

use crate::diagnostics::render;
use crate::exit::{self, Code};
use terminal::Terminal;

/// The local cache keeps at most this much; the least recently used entries go first.
const CACHE_LIMIT: u64 = 10 * 1024 * 1024 * 1024;
/// Between SIGTERM and SIGKILL for a step that times out or is cancelled.
const GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The pipeline to run. Without one, every pipeline whose triggers match the event runs, one after another.
    pub(crate) pipeline: Option<String>,
    /// The project file.
    #[arg(short = 'f', long = "file", default_value = "bellwether.yaml")]
    pub(crate) file: PathBuf,
    /// The event [default: push; manual when --input is given, or when the pipeline named runs only by hand].
    #[arg(long, value_enum)]
    pub(crate) event: Option<event::EventArg>,
    /// The branch pushed, or a pull request's head [default: the branch checked out, else main].
    #[arg(long)]
    pub(crate) branch: Option<String>,
    /// A tag pushed (the event is then a tag push).
    #[arg(long, conflicts_with = "branch")]
    pub(crate) tag: Option<String>,
    /// The branch a pull request targets [default: main].
    #[arg(long)]
    pub(crate) base: Option<String>,
    /// A pull request's activity: opened, synchronize, reopened… [default: opened].
    #[arg(long)]
    pub(crate) action: Option<String>,
    /// A path the event changed; repeat for each [default: from git: the uncommitted changes, else the last commit's].
    #[arg(long = "path-changed", value_name = "PATH")]
    pub(crate) paths: Vec<String>,
    /// An input of a manual run, `name=value`; repeat for each.
    #[arg(long = "input", value_name = "NAME=VALUE", value_parser = event::parse_pair)]
    pub(crate) inputs: Vec<(String, String)>,
    /// A secret, read from the environment variable of that name (`NAME=VAR` reads $VAR); repeat for each.
    #[arg(long = "secret", value_name = "NAME")]
    pub(crate) secrets: Vec<String>,
    /// Approve an environment's protection rules (approvals, wait timer) for this run; repeat for each.
    #[arg(long = "approve", value_name = "ENVIRONMENT")]
    pub(crate) approve: Vec<String>,
    /// How many jobs run at once [default: the number of CPUs].
    #[arg(short = 'j', long = "parallel", value_name = "N")]
    pub(crate) parallel: Option<usize>,
    /// What the workspace holds: `tree`, the working tree as it would be committed, or a commit such as HEAD.
    #[arg(long, default_value = "tree", value_name = "tree|REV")]
    pub(crate) checkout: String,
    /// Where runs, logs, the cache and artifacts are kept [default: .bellwether beside the file].
    #[arg(long, env = "BELLWETHER_DATA_DIR", value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
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

pub(crate) fn run(args: &RunArgs) -> anyhow::Result<Code> {
    let source = super::read(&args.file)?;
    let name = args.file.display().to_string();
    let loaded = match bellwether_config::load(&name, &source) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            for d in &diagnostics {
                eprint!("{}", render(d, &source));
            }
            return Ok(exit::FAILURE);
        }
    };
    let project = project_dir(&args.file);
    let repo = Repo::find(&project);
    let selected = select(args, &loaded)?;
    let secrets = secrets(&args.secrets)?;
    let mut failed = false;
    let mut ran = 0;
    for spec in selected {
        let event = event::build(args, spec, repo.as_ref()).map_err(anyhow::Error::msg)?;
        if let Err(reasons) = trigger::check_all(&spec.triggers, &event) {
            println!(
                "{}: not run: this {} matches none of its triggers:",
                spec.name,
                event.describe()
            );
            for reason in reasons {
                println!("  - {reason}");
            }
            continue;
        }
        let inputs = match event.name {
            EventName::Manual => match event::inputs(spec, &args.inputs) {
                Ok(inputs) => inputs,
                Err(problems) => {
                    for p in problems {
                        eprintln!("error: {}: {p}", spec.name);
                    }
                    return Ok(exit::FAILURE);
                }
            },
            _ => BTreeMap::new(),
        };
        ran += 1;
        let conclusion = run_one(
            args,
            &loaded,
            spec.clone(),
            event,
            inputs,
            &secrets,
            &project,
        )?;
        failed |= conclusion != Conclusion::Success;
    }
    if ran == 0 && args.pipeline.is_none() && loaded.pipelines.is_empty() {
        println!("{name} declares no pipelines (expected a `pipelines:` section)");
    }
    Ok(if failed { exit::FAILURE } else { exit::SUCCESS })
}

fn project_dir(file: &Path) -> PathBuf {
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf())
}

/// The pipeline named, or all of them.
fn select<'a>(args: &RunArgs, loaded: &'a Loaded) -> anyhow::Result<Vec<&'a PipelineSpec>> {
    let Some(name) = &args.pipeline else {
        return Ok(loaded.pipelines.iter().collect());
    };
    match loaded.pipelines.iter().find(|p| &p.name == name) {
        Some(p) => Ok(vec![p]),
        None => {
            let names: Vec<&str> = loaded.pipelines.iter().map(|p| p.name.as_str()).collect();
            anyhow::bail!(
                "no pipeline `{name}` in {} (expected one of {})",
                args.file.display(),
                names.join(", ")
            )
        }
    }
}

/// `--secret NAME` reads $NAME; `--secret NAME=VAR` reads $VAR.
fn secrets(specs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for spec in specs {
        let (name, var) = spec.split_once('=').unwrap_or((spec, spec));
        let value = std::env::var(var).with_context(|| {
            format!("--secret {spec}: the environment variable {var} is not set")
        })?;
        out.insert(name.to_owned(), value);
    }
    Ok(out)
}

/// The next free run number under `runs`, with its directory created.
fn new_run_dir(data: &Path) -> anyhow::Result<(u64, PathBuf)> {
    let runs = data.join("runs");
    std::fs::create_dir_all(&runs).with_context(|| format!("cannot create {}", runs.display()))?;
    let last = std::fs::read_dir(&runs)?
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    for n in last + 1..last + 1000 {
        let dir = runs.join(n.to_string());
        // Creating the directory claims the number, even against a concurrent run.
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok((n, dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
        }
    }
    anyhow::bail!("cannot find a free run number in {}", runs.display())
}

fn run_one(
    args: &RunArgs,
    loaded: &Loaded,
    spec: PipelineSpec,
    event: trigger::Event,
    inputs: BTreeMap<String, Value>,
    secrets: &BTreeMap<String, String>,
    project: &Path,
) -> anyhow::Result<Conclusion> {
    let data = args
        .data_dir
        .clone()
        .unwrap_or_else(|| project.join(".bellwether"));
    std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    let data = data.canonicalize().unwrap_or(data);
    let (number, run_dir) = new_run_dir(&data)?;
    let checkout = match args.checkout.as_str() {
        "tree" => Checkout::Tree,
        rev => Checkout::Commit(rev.to_owned()),
    };
    let workspace = Workspace::create(project, &run_dir.join("workspace"), &checkout, &data)?;
    let scratch = run_dir.join("tmp");
    let executor = Arc::new(HostExecutor::new(HostConfig {
        workdir: workspace.workdir.clone(),
        scratch: scratch.clone(),
        cache: Cache::new(data.join("cache"), CACHE_LIMIT),
        artifacts: Artifacts::new(data.join("artifacts/objects"), run_dir.join("artifacts")),
        grace: GRACE,
    }));
    let parallel = args
        .parallel
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from))
        .max(1);
    let masker = Arc::new(Masker::new(secrets.values()));
    let name = spec.name.clone();
    let title = format!("{name} · {} · run {number}", event.describe());
    let input = RunInput {
        spec,
        event,
        sha: workspace.sha.clone(),
        repository: workspace.repository.clone(),
        actor: std::env::var("USER").unwrap_or_else(|_| "local".to_owned()),
        workspace: workspace.workdir.display().to_string(),
        run_id: number.to_string(),
        run_number: number,
        inputs,
        secrets: secrets.clone(),
        environments: loaded.project.environments.clone(),
        services: loaded.project.services.keys().cloned().collect(),
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
        args.plain,
        args.quiet,
        Arc::clone(&masker),
    ));
    let driver = Driver {
        executor: Arc::clone(&executor),
        logs: run_dir.join("logs"),
        masker,
        observer: Arc::clone(&terminal) as Arc<dyn Observer>,
        gates: Gates {
            approved: args.approve.clone(),
        },
    };
    let started = Instant::now();
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
    terminal.finish(conclusion, started.elapsed());
    let logs = run_dir.join("logs");
    println!(
        "{name}: {conclusion} in {} · logs in {}",
        seconds(started.elapsed()),
        logs.display()
    );
    if args.keep_workspace {
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

/// `12.3s`: to the tenth of a second, which is what a person wants to read.
fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}
