//! One attempt of a run from start to end, for every way a run starts (`bellwether run`,
//! `rerun`, a trigger of the control plane): its secrets, a clean workspace, the pipeline's
//! concurrency group, the executor, the history in the store, and environment gates answered
//! from the store. Whoever starts it adds its own observers (a terminal) and cancels it
//! through the control channel.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bellwether_core::error::chain;
use bellwether_core::spec::EnvironmentSpec;
use bellwether_pipeline_core::executor::Executor;
use bellwether_pipeline_core::expr::Value;
use bellwether_pipeline_core::mask::Masker;
use bellwether_pipeline_core::run::{Conclusion, ReusedJob, Run, RunInput};
use bellwether_pipeline_core::spec::PipelineSpec;
use bellwether_pipeline_core::trigger;
use bellwether_store::{Change, RunHistory, RunStatus, RunStore, StoreError};
use tokio::sync::mpsc;

use crate::artifacts::Artifacts;
use crate::cache::Cache;
use crate::clock::now_ms;
use crate::concurrency::{Group, GroupHold};
use crate::data::DataDir;
use crate::deploy::Deployer;
use crate::driver::{Control, Driver};
use crate::executor::{Launcher, Site};
use crate::gates::{Gates, Reviews};
use crate::history::{History, StoreReviews};
use crate::observer::Observer;
use crate::secrets::{SecretError, SecretStore};
use crate::workspace::{Checkout, Workspace, WorkspaceError};

/// The local cache keeps at most this much; the least recently used entries go first.
const CACHE_LIMIT: u64 = 10 * 1024 * 1024 * 1024;
/// How often a waiting gate reads the reviews people gave.
const REVIEW_POLL: Duration = Duration::from_millis(250);

/// One attempt to make.
pub struct Attempt {
    pub spec: PipelineSpec,
    pub event: trigger::Event,
    pub inputs: BTreeMap<String, Value>,
    /// The project file's directory.
    pub project: PathBuf,
    pub checkout: Checkout,
    pub number: u64,
    pub attempt: u32,
    pub reused: BTreeMap<String, ReusedJob>,
    /// Who started it: a person, or what triggered it.
    pub actor: String,
    pub environments: BTreeMap<String, EnvironmentSpec>,
    pub services: Vec<String>,
}

/// How an attempt executes.
pub struct Settings {
    /// Secrets given for this run, over those of the secret store.
    pub secrets: BTreeMap<String, String>,
    /// Environments whose protection rules are waived.
    pub waived: Vec<String>,
    /// Refuse a gate still waiting after this long.
    pub approval_timeout: Option<Duration>,
    /// How many jobs run at once.
    pub parallel: usize,
    /// Where deploy steps start rollouts; stand-ins without one.
    pub deployer: Option<Arc<dyn Deployer>>,
    /// Keep the workspace afterwards.
    pub keep_workspace: bool,
}

/// Why an attempt could not start. Unless the store failed, the run is recorded as failed
/// with the whole chain as the reason.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    #[error("cannot read the secret store")]
    Secrets(#[source] SecretError),
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    #[error("cannot record the run")]
    Store(#[from] StoreError),
}

/// An attempt ready to go: its workspace made and its start recorded.
pub struct Prepared<E> {
    store: Arc<RunStore>,
    data: PathBuf,
    number: u64,
    attempt: u32,
    title: String,
    run: Run,
    masker: Arc<Masker>,
    executor: Arc<E>,
    workspace: Workspace,
    logs: PathBuf,
    scratch: PathBuf,
    gates: Gates,
    keep_workspace: bool,
    /// Secrets the pipeline names that nobody set: they are empty.
    pub missing_secrets: Vec<String>,
}

/// How an attempt ended.
#[derive(Debug)]
pub struct Finished {
    pub conclusion: Conclusion,
    /// The step logs, one file per step.
    pub logs: PathBuf,
    /// The workspace, when it was kept.
    pub workspace: Option<PathBuf>,
    /// Why the history may be incomplete.
    pub history_error: Option<StoreError>,
}

impl Attempt {
    /// Loads its secrets, makes its workspace and records its start, and has `launcher` make
    /// the executor of its steps. A failure is recorded as the run's end, with the reason.
    pub fn prepare<L: Launcher>(
        self,
        settings: &Settings,
        data: &DataDir,
        launcher: &L,
    ) -> Result<Prepared<L::Executor>, AttemptError> {
        let store = Arc::clone(&data.store);
        let fail = |why: AttemptError| -> AttemptError {
            let at_ms = now_ms();
            let changes = [
                Change::Note {
                    attempt: self.attempt,
                    job: None,
                    text: chain(&why),
                    at_ms,
                },
                Change::Status {
                    attempt: self.attempt,
                    status: RunStatus::Failure,
                    at_ms,
                },
            ];
            match store.record(self.number, &changes) {
                Ok(()) => why,
                Err(e) => AttemptError::Store(e),
            }
        };
        let Loaded {
            secrets,
            environment_secrets,
            missing: missing_secrets,
        } = secrets(&self.spec, &self.environments, data, &settings.secrets)
            .map_err(|e| fail(AttemptError::Secrets(e)))?;
        let run_dir = data.run_dir(self.number);
        let suffix = if self.attempt > 1 {
            format!("-{}", self.attempt)
        } else {
            String::new()
        };
        let logs = run_dir.join(format!("logs{suffix}"));
        let scratch = run_dir.join(format!("tmp{suffix}"));
        let workspace = Workspace::create(
            &self.project,
            &run_dir.join(format!("workspace{suffix}")),
            &self.checkout,
            &data.dir,
        )
        .map_err(|e| fail(e.into()))?;
        store.start_attempt(
            self.number,
            self.attempt,
            &self.actor,
            &workspace.sha,
            now_ms(),
        )?;
        let deployed_by = format!(
            "{} (pipeline {}, run {})",
            self.actor, self.spec.name, self.number
        );
        let site = Site {
            workdir: workspace.workdir.clone(),
            scratch: scratch.clone(),
            cache: Cache::new(data.dir.join("cache"), CACHE_LIMIT),
            artifacts: Artifacts::new(
                data.dir.join("artifacts/objects"),
                run_dir.join("artifacts"),
            ),
            deployer: settings.deployer.clone(),
            deployed_by,
            run: self.number,
            commit: workspace.commit.clone(),
        };
        let runner = launcher.runner(&site);
        let executor = Arc::new(launcher.executor(site));
        let masker = Arc::new(Masker::new(
            secrets
                .values()
                .chain(environment_secrets.values().flat_map(BTreeMap::values)),
        ));
        let again = if self.attempt > 1 {
            format!(" (attempt {})", self.attempt)
        } else {
            String::new()
        };
        let title = format!(
            "{} · {} · run {}{again}",
            self.spec.name,
            self.event.describe(),
            self.number
        );
        let reviews: Arc<dyn Reviews> = Arc::new(StoreReviews {
            store: Arc::clone(&store),
            run: self.number,
            attempt: self.attempt,
        });
        let gates = Gates {
            waived: settings.waived.clone(),
            actor: self.actor.clone(),
            reviews: Some(reviews),
            approve_with: Some(format!("bellwether approve {}", self.number)),
            timeout: settings.approval_timeout,
            poll: REVIEW_POLL,
        };
        let input = RunInput {
            spec: self.spec,
            event: self.event,
            sha: workspace.sha.clone(),
            repository: workspace.repository.clone(),
            actor: self.actor,
            workspace: workspace.workdir.display().to_string(),
            run_id: self.number.to_string(),
            run_number: self.number,
            attempt: self.attempt,
            reused: self.reused,
            inputs: self.inputs,
            secrets,
            environment_secrets,
            environments: self.environments,
            services: self.services,
            runner,
            max_parallel: settings.parallel.max(1),
        };
        Ok(Prepared {
            store,
            data: data.dir.clone(),
            number: self.number,
            attempt: self.attempt,
            title,
            run: Run::new(input),
            masker,
            executor,
            workspace,
            logs,
            scratch,
            gates,
            keep_workspace: settings.keep_workspace,
            missing_secrets,
        })
    }
}

impl<E: Executor + 'static> Prepared<E> {
    /// `ci · push on branch `main` · run 3`.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// What hides this run's secrets in anything shown.
    pub fn masker(&self) -> Arc<Masker> {
        Arc::clone(&self.masker)
    }

    /// The executor its steps run on, e.g. to stop them all on an impatient exit.
    pub fn executor(&self) -> &E {
        &self.executor
    }

    /// Waits for the pipeline's concurrency group, then runs every job to the end; `control`
    /// cancels it. The history is complete when this returns.
    pub async fn run(
        self,
        observers: Vec<Arc<dyn Observer>>,
        control: mpsc::Receiver<Control>,
    ) -> Finished {
        let history = Arc::new(History::start(
            Arc::clone(&self.store),
            self.number,
            self.attempt,
            now_ms(),
            self.logs.clone(),
            Arc::clone(&self.masker),
        ));
        let mut all: Vec<Arc<dyn Observer>> = vec![Arc::clone(&history) as Arc<dyn Observer>];
        all.extend(observers);
        let run_group = match self.concurrency(&all).await {
            Ok(admitted) => admitted,
            Err(why) => {
                all.iter().for_each(|o| o.note(None, &why));
                let _ = self.store.record(
                    self.number,
                    &[
                        Change::Note {
                            attempt: self.attempt,
                            job: None,
                            text: why,
                            at_ms: now_ms(),
                        },
                        Change::Status {
                            attempt: self.attempt,
                            status: RunStatus::Cancelled,
                            at_ms: now_ms(),
                        },
                    ],
                );
                let _ = history.finish();
                return self.finish(Conclusion::Cancelled);
            }
        };
        let driver = Driver {
            executor: Arc::clone(&self.executor),
            logs: self.logs.clone(),
            masker: Arc::clone(&self.masker),
            observers: all,
            gates: self.gates.clone(),
            across_runs: Some((self.data.clone(), self.number)),
            run_group,
        };
        let conclusion = driver.drive(self.run.clone(), control).await;
        let history_error = history.finish().err();
        Finished {
            history_error,
            ..self.finish(conclusion)
        }
    }

    /// Enters the pipeline's concurrency group, if it has one; `Err` with why when a newer
    /// run of the group took this one's place first.
    async fn concurrency(
        &self,
        observers: &[Arc<dyn Observer>],
    ) -> Result<Option<GroupHold>, String> {
        let (name, cancel_in_progress) = match self.run.concurrency() {
            None => return Ok(None),
            Some(Err(e)) => return Err(format!("its concurrency group failed: {e}")),
            Some(Ok(group)) => group,
        };
        let waiting = |note: &str| {
            observers.iter().for_each(|o| o.note(None, note));
            let _ = self.store.record(
                self.number,
                &[Change::Status {
                    attempt: self.attempt,
                    status: RunStatus::Queued,
                    at_ms: now_ms(),
                }],
            );
        };
        Group::new(&self.data, &name)
            .join(self.number, cancel_in_progress, waiting)
            .await
            .map(Some)
    }

    fn finish(self, conclusion: Conclusion) -> Finished {
        let workspace = if self.keep_workspace {
            Some(self.workspace.root.clone())
        } else {
            self.workspace.remove();
            None
        };
        let _ = std::fs::remove_dir_all(&self.scratch);
        Finished {
            conclusion,
            logs: self.logs,
            workspace,
            history_error: None,
        }
    }
}

/// The secrets a run is given.
struct Loaded {
    secrets: BTreeMap<String, String>,
    /// Each declared environment's own, for the jobs placed in it.
    environment_secrets: BTreeMap<String, BTreeMap<String, String>>,
    /// The names the pipeline reads that nobody set, in any scope.
    missing: Vec<String>,
}

/// The secrets the pipeline names: from the secret store, or as `given`. Only those are
/// decrypted, and each job is given only its own.
fn secrets(
    spec: &PipelineSpec,
    environments: &BTreeMap<String, EnvironmentSpec>,
    data: &DataDir,
    given: &BTreeMap<String, String>,
) -> Result<Loaded, SecretError> {
    let used = spec.secrets_used();
    let store = SecretStore::new(&data.dir);
    let mut secrets = store.load(None, |name| used.includes(name))?;
    secrets.extend(given.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut environment_secrets = BTreeMap::new();
    for name in environments.keys() {
        let scoped = store.load(Some(name), |n| used.includes(n))?;
        if !scoped.is_empty() {
            environment_secrets.insert(name.clone(), scoped);
        }
    }
    let missing = used
        .names
        .iter()
        .filter(|n| {
            !secrets.contains_key(*n) && !environment_secrets.values().any(|e| e.contains_key(*n))
        })
        .cloned()
        .collect();
    Ok(Loaded {
        secrets,
        environment_secrets,
        missing,
    })
}
