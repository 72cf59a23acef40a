//! One attempt of a run from start to end, for every way a run starts (`bellwether run`,
//! `rerun`, a trigger of the control plane): its secrets, a clean workspace, the pipeline's
//! concurrency group, the executor, the history in the store, and environment gates answered
//! from the store. Whoever starts it adds its own observers (a terminal) and cancels it
//! through the control channel.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bellwether_core::error::chain;
use bellwether_core::spec::{APPROVAL_ENVIRONMENT, EnvironmentSpec};
use bellwether_pipeline_core::executor::Executor;
use bellwether_pipeline_core::expr::Value;
use bellwether_pipeline_core::mask::Masker;
use bellwether_pipeline_core::run::{Conclusion, ReusedJob, Run, RunInput};
use bellwether_pipeline_core::spec::PipelineSpec;
use bellwether_pipeline_core::trigger;
use bellwether_store::{Change, RunHistory, RunStatus, StoreError};
use tokio::sync::mpsc;

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
use crate::untrusted::{self, SANDBOX, Sandbox, Untrusted};
use crate::workspace::{Checkout, Instances, Workspace, WorkspaceError};

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
    /// Set for a run from an untrusted source: see [`crate::untrusted`].
    pub untrusted: Option<Untrusted>,
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
    #[error("this run is untrusted ({reason}), and {why}")]
    Untrusted { reason: String, why: String },
}

/// An attempt ready to go: its workspace made and its start recorded.
pub struct Prepared<E> {
    store: Arc<dyn RunHistory>,
    data: PathBuf,
    number: u64,
    attempt: u32,
    title: String,
    run: Run,
    masker: Arc<Masker>,
    executor: Arc<E>,
    workspaces: Arc<Instances>,
    logs: PathBuf,
    /// The runner's own scratch space (the step files too, unless the run is untrusted).
    private: PathBuf,
    /// Where an untrusted run's steps work.
    sandbox: Option<Sandbox>,
    /// Why the run is untrusted.
    untrusted: Option<String>,
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
    /// The directory of the job instances' workspaces, when they were kept.
    pub workspace: Option<PathBuf>,
    /// Why the history may be incomplete.
    pub history_error: Option<StoreError>,
}

impl Attempt {
    /// Loads its secrets, makes its workspace and records its start, and has `launcher` make
    /// the executor of its steps. A failure is recorded as the run's end, with the reason.
    pub fn prepare<L: Launcher>(
        mut self,
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
            // The attempt is the run's latest from here, so that its end and why are the
            // run's (a status of an older attempt would change nothing).
            let recorded = store
                .start_attempt(self.number, self.attempt, &self.actor, "", at_ms)
                .and_then(|()| store.record(self.number, &changes));
            match recorded {
                Ok(()) => why,
                Err(e) => AttemptError::Store(e),
            }
        };
        let run_dir = data.run_dir(self.number);
        let suffix = if self.attempt > 1 {
            format!("-{}", self.attempt)
        } else {
            String::new()
        };
        let logs = run_dir.join(format!("logs{suffix}"));
        let private = run_dir.join(format!("tmp{suffix}"));
        let sandbox = match &settings.untrusted {
            Some(untrusted) => {
                untrusted::guard(&mut self.spec, &mut self.environments, &untrusted.trust);
                let refused = |why| {
                    fail(AttemptError::Untrusted {
                        reason: untrusted.reason.clone(),
                        why,
                    })
                };
                let sandbox = Sandbox::create(&untrusted.trust.user).map_err(refused)?;
                // Recorded for the sweep, should this process die before the run ends.
                if let Err(e) = std::fs::create_dir_all(&private).and_then(|()| {
                    std::fs::write(private.join(SANDBOX), sandbox.root.as_os_str().as_bytes())
                }) {
                    sandbox.remove();
                    return Err(refused(format!("cannot record its sandbox: {e}")));
                }
                Some(sandbox)
            }
            None => None,
        };
        let Loaded {
            secrets,
            environment_secrets,
            missing: missing_secrets,
        } = match &sandbox {
            // An untrusted run is given no secret: its expressions read them as empty.
            Some(_) => Loaded::default(),
            None => secrets(&self.spec, &self.environments, data, &settings.secrets)
                .map_err(|e| fail(AttemptError::Secrets(e)))?,
        };
        // The source every job instance's workspace copies, and the directory those go in.
        let (source, root, scratch) = match &sandbox {
            Some(s) => (s.root.join("source"), s.workspace(), s.scratch()),
            None => (
                run_dir.join(format!("source{suffix}")),
                run_dir.join(format!("workspace{suffix}")),
                private.clone(),
            ),
        };
        let made = Workspace::create(&self.project, &source, &self.checkout, &data.dir)
            .map_err(AttemptError::from)
            .and_then(|workspace| match &sandbox {
                None => Ok(workspace),
                Some(s) => std::fs::create_dir_all(&scratch)
                    .and_then(|()| std::fs::create_dir_all(&root))
                    .and_then(|()| s.hand_over(&root))
                    .and_then(|()| s.hand_over(&scratch))
                    .map(|()| workspace)
                    .map_err(|e| AttemptError::Untrusted {
                        reason: settings
                            .untrusted
                            .as_ref()
                            .map(|u| u.reason.clone())
                            .unwrap_or_default(),
                        why: format!(
                            "its sandbox cannot be given to user `{}`: {e}",
                            s.run_as.name
                        ),
                    }),
            });
        let workspace = match made {
            Ok(w) => w,
            Err(e) => {
                if let Some(s) = &sandbox {
                    s.remove();
                }
                return Err(fail(e));
            }
        };
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
        let workspaces = Arc::new(Instances::new(
            workspace,
            root,
            sandbox.as_ref().map(|s| s.run_as.clone()),
            settings.keep_workspace,
        ));
        let workspace = workspaces.source();
        let site = Site {
            scratch: scratch.clone(),
            private: private.clone(),
            run_as: sandbox.as_ref().map(|s| s.run_as.clone()),
            untrusted: sandbox.is_some(),
            cache: Cache::new(data.dir.join("cache"), CACHE_LIMIT),
            artifacts: data.artifacts(self.number),
            deployer: settings.deployer.clone().filter(|_| sandbox.is_none()),
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
        let closed_environments = match &sandbox {
            Some(_) => self
                .environments
                .values()
                .filter(|e| e.name != APPROVAL_ENVIRONMENT && untrusted::protected(e))
                .map(|e| {
                    let why = "it is protected, and this run comes from an untrusted source";
                    (e.name.clone(), why.to_owned())
                })
                .collect(),
            None => BTreeMap::new(),
        };
        let input = RunInput {
            spec: self.spec,
            event: self.event,
            sha: workspace.sha.clone(),
            repository: workspace.repository.clone(),
            actor: self.actor,
            workspace: workspaces.layout(),
            run_id: self.number.to_string(),
            run_number: self.number,
            attempt: self.attempt,
            reused: self.reused,
            inputs: self.inputs,
            secrets,
            environment_secrets,
            environments: self.environments,
            closed_environments,
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
            workspaces,
            logs,
            private,
            sandbox,
            untrusted: settings.untrusted.as_ref().map(|u| u.reason.clone()),
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
        if let (Some(why), Some(sandbox)) = (&self.untrusted, &self.sandbox) {
            let note = format!(
                "untrusted run: {why}. It gets no secrets, no protected environment, no deploys and no shared cache or artifacts, and its steps run as user `{}` once it is approved",
                sandbox.run_as.name
            );
            all.iter().for_each(|o| o.note(None, &note));
        }
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
            workspaces: Some(Arc::clone(&self.workspaces)),
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
        let workspace = self.workspaces.finish();
        let _ = std::fs::remove_dir_all(&self.private);
        if let Some(sandbox) = self.sandbox.as_ref().filter(|_| !self.keep_workspace) {
            sandbox.remove();
        }
        Finished {
            conclusion,
            logs: self.logs,
            workspace,
            history_error: None,
        }
    }
}

/// The secrets a run is given.
#[derive(Default)]
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
