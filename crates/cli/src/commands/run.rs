//! `bellwether run`: runs pipelines here, in the foreground, with a live job tree. The
//! event's filters apply for real: a pipeline they do not select does not run, and says why.
//! Every run is recorded in the data directory's store (`bellwether runs`, `rerun`, `logs`).

pub(crate) mod data;
pub(crate) mod deploy;
pub(crate) mod event;
pub(crate) mod execute;
pub(crate) mod summary;
mod terminal;
pub(crate) mod workflow;

use std::collections::BTreeMap;

use std::path::PathBuf;

use bellwether_config::Loaded;
use bellwether_pipeline_core::run::Conclusion;
use bellwether_pipeline_core::spec::PipelineSpec;
use bellwether_pipeline_core::trigger::{self, EventName};
use bellwether_runner::{Attempt, Checkout, DataDir, Replay, Repo, RunLock, now_ms};
use bellwether_store::NewRun;
use clap::Args;

use crate::diagnostics::render_in;
use crate::exit::{self, Code};
use data::{DataArgs, project_dir, whoami};
use execute::ExecArgs;

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The pipeline to run. Without one, every pipeline whose triggers match the event runs, one after another.
    #[arg(add = crate::commands::completion::pipelines())]
    pub(crate) pipeline: Option<String>,
    /// With --workflow, the jobs to run (with the jobs they need) [default: all].
    #[arg(value_name = "JOB", requires = "workflow")]
    pub(crate) jobs: Vec<String>,
    /// Run a GitHub Actions workflow file as one pipeline; the names after it are its jobs to run.
    #[arg(long, value_name = "FILE")]
    pub(crate) workflow: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) data: DataArgs,
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
    /// The event's activity: a pull request's opened, synchronize, reopened… [default: opened]; a workflow_run's completed or requested [default: completed]; a release's published, created… [default: published].
    #[arg(long)]
    pub(crate) action: Option<String>,
    /// With --event workflow_run: the pipeline whose run ended [default: the one the pipeline follows, when it follows one].
    #[arg(long, value_name = "PIPELINE")]
    pub(crate) after: Option<String>,
    /// With --event workflow_run: how that run ended (success, failure, cancelled…).
    #[arg(long, default_value = "success")]
    pub(crate) conclusion: String,
    /// A path the event changed; repeat for each [default: from git: the uncommitted changes, else the last commit's].
    #[arg(long = "path-changed", value_name = "PATH")]
    pub(crate) paths: Vec<String>,
    /// An input of a manual run, `name=value`; repeat for each.
    #[arg(long = "input", value_name = "NAME=VALUE", value_parser = event::parse_pair)]
    pub(crate) inputs: Vec<(String, String)>,
    /// What the workspace holds: `tree`, the working tree as it would be committed, or a commit such as HEAD.
    #[arg(long, default_value = "tree", value_name = "tree|REV")]
    pub(crate) checkout: String,
    #[command(flatten)]
    pub(crate) exec: ExecArgs,
}

pub(crate) fn run(args: &RunArgs) -> anyhow::Result<Code> {
    let file = args.workflow.as_ref().unwrap_or(&args.data.file);
    let data_args = DataArgs {
        file: file.clone(),
        data_dir: args.data.data_dir.clone(),
    };
    if let Some(workflow) = &args.workflow
        && !bellwether_config::is_workflow(&super::read(workflow)?)
    {
        anyhow::bail!(
            "{} is not a GitHub Actions workflow (expected `jobs:` at the top level; a project file is run with -f)",
            workflow.display()
        );
    }
    let Some((mut loaded, name)) = load(file)? else {
        return Ok(exit::FAILURE);
    };
    let project = project_dir(file);
    let repo = Repo::find(&project);
    // With --workflow, the pipeline's place on the command line holds the first job.
    let limited: Vec<String> = match &args.workflow {
        Some(_) => args.pipeline.iter().chain(&args.jobs).cloned().collect(),
        None => Vec::new(),
    };
    let selected = match &args.workflow {
        Some(workflow) => {
            let jobs: Vec<&String> = limited.iter().collect();
            let Some(spec) = loaded.pipelines.first_mut() else {
                anyhow::bail!("{} holds no pipeline", workflow.display());
            };
            workflow::only(spec, &jobs).map_err(anyhow::Error::msg)?;
            workflow::report_runs_on(workflow)?;
            loaded.pipelines.iter().collect()
        }
        None => select(args, &loaded)?,
    };
    let settings = args.exec.settings()?;
    let mut data = None;
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
            EventName::Manual => match spec.manual_inputs(&args.inputs) {
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
        let data = match &data {
            Some(d) => d,
            None => data.insert(data_args.open()?),
        };
        let replay = Replay::new(
            std::path::absolute(file).unwrap_or_else(|_| file.clone()),
            &spec.name,
            &event,
            &inputs,
            &args.checkout,
        )
        .only(limited.clone());
        let (number, _lock) = create(data, spec, &event, &replay)?;
        let conclusion = execute::execute(
            Attempt {
                spec: spec.clone(),
                event,
                inputs,
                project: project.clone(),
                checkout: checkout(&args.checkout),
                number,
                attempt: 1,
                reused: BTreeMap::new(),
                actor: whoami(),
                environments: loaded.project.environments.clone(),
                services: loaded.project.services.keys().cloned().collect(),
            },
            &args.exec,
            &settings,
            data,
        )?;
        failed |= conclusion != Conclusion::Success;
    }
    if ran == 0 && args.pipeline.is_none() && loaded.pipelines.is_empty() {
        println!("{name} declares no pipelines (expected a `pipelines:` section)");
    }
    Ok(if failed { exit::FAILURE } else { exit::SUCCESS })
}

/// Reads and loads the project file; `None` once its problems are printed.
pub(crate) fn load(file: &std::path::Path) -> anyhow::Result<Option<(Loaded, String)>> {
    let source = super::read(file)?;
    let name = file.display().to_string();
    match bellwether_config::load_with(&name, &source, &crate::commands::read_beside) {
        Ok(loaded) => Ok(Some((loaded, name))),
        Err(diagnostics) => {
            for d in &diagnostics {
                eprint!("{}", render_in(d, &name, &source));
            }
            Ok(None)
        }
    }
}

pub(crate) fn checkout(text: &str) -> Checkout {
    match text {
        "tree" => Checkout::Tree,
        rev => Checkout::Commit(rev.to_owned()),
    }
}

/// Records a new run and takes its lock, which it holds for as long as the lock lives.
fn create(
    data: &DataDir,
    spec: &PipelineSpec,
    event: &trigger::Event,
    replay: &Replay,
) -> anyhow::Result<(u64, RunLock)> {
    Ok(data.create(&NewRun {
        pipeline: spec.name.clone(),
        actor: whoami(),
        summary: event.describe(),
        trigger: serde_json::to_value(replay)?,
        at_ms: now_ms(),
    })?)
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
                args.data.file.display(),
                names.join(", ")
            )
        }
    }
}
