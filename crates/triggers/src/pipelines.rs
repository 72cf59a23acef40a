//! `Pipelines`: what the control plane does with a trigger. It reads the project file again
//! (so an edited pipeline applies to the next trigger without a restart), checks each
//! pipeline's `on:` filters against the event, and starts a run of each one that matches, as
//! a task of its own on this runtime: recorded in the data directory's store like a run of
//! `bellwether run`, with the commit the event names checked out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bellwether_config::Loaded;
use bellwether_core::error::chain;
use bellwether_executor_host::HostLauncher;
use bellwether_pipeline_core::spec::PipelineSpec;
use bellwether_pipeline_core::trigger::{self, Event, EventName, GitRef, WorkflowRun};
use bellwether_runner::untrusted::Untrusted;
use bellwether_runner::{
    Attempt, Checkout, Control, DataDir, DataError, Deployer, Replay, Settings, now_ms,
};
use bellwether_store::{Change, NewRun, RunStatus};
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinError;
use tokio_util::task::TaskTracker;

use crate::listen::{Gates, RunChange, RunEvent, RunListener};
use crate::metrics::Metrics;
use crate::source::{Source, SourceError};
use crate::webhook::{self, Delivery, Pushed, WebhookError};

/// How the control plane runs pipelines.
pub struct Config {
    /// The project file, read again at each trigger.
    pub file: PathBuf,
    pub data: DataDir,
    /// The repository runs check out; `None` outside git (runs then copy the project).
    pub source: Option<Source>,
    /// The key webhook deliveries are signed with; without one, webhooks are refused.
    pub webhook_secret: Option<Vec<u8>>,
    /// How many jobs of one run go at once.
    pub parallel: usize,
    /// How many runs go on at once; more wait, queued, and start in the order they came.
    pub max_runs: usize,
    /// Where deploy steps start rollouts: this control plane's API.
    pub deployer: Option<Arc<dyn Deployer>>,
    /// Hears of each run starting, waiting at a gate and finishing.
    pub listener: Option<Arc<dyn RunListener>>,
}

/// Runs started by one trigger, and the pipelines it did not start with the reasons.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Triggered {
    pub runs: Vec<Started>,
    pub skipped: Vec<Skipped>,
    /// Set when the delivery itself starts nothing (a ping, a deleted branch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Started {
    pub number: u64,
    pub pipeline: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Skipped {
    pub pipeline: String,
    pub reasons: Vec<String>,
}

/// Why a trigger started nothing; the variant decides the HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("webhooks are off: start the control plane with a webhook secret to accept them")]
    WebhooksOff,
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    #[error("no pipeline `{name}` (expected one of: {known})")]
    UnknownPipeline { name: String, known: String },
    /// What the request asks for cannot be: the message says why.
    #[error("{0}")]
    BadInput(String),
    /// The repository could not be read or fetched.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The task reading the repository panicked or was cancelled.
    #[error("the git task failed")]
    GitTask(#[source] JoinError),
    /// The project file's diagnostics, rendered with their lines.
    #[error("the project file is not valid:\n{0}")]
    Config(String),
    #[error("cannot read {}", path.display())]
    ReadProject {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot record the run")]
    Record(#[source] DataError),
    #[error("cannot read or record webhook deliveries")]
    Deliveries(#[source] bellwether_store::StoreError),
    #[error("cannot encode the run's trigger")]
    Encode(#[source] serde_json::Error),
}

/// How long a webhook delivery's id is remembered to tell a redelivery: GitHub redelivers
/// deliveries of the last 3 days.
pub const DELIVERY_RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// A delivery that starts nothing, and why.
fn ignored(why: &str) -> Triggered {
    Triggered {
        ignored: Some(why.to_owned()),
        ..Triggered::default()
    }
}

/// What starts runs: the event, the commit to check out, who caused it, and why it is not
/// trusted when it is not.
#[derive(Clone)]
struct Cause<'a> {
    event: Event,
    checkout: Checkout,
    actor: &'a str,
    untrusted: Option<&'a Untrusted>,
}

/// A run as a `workflow_run` pipeline following it sees it.
struct Followed {
    pipeline: String,
    branch: String,
    /// The commit it checked out; empty outside git.
    sha: String,
    checkout: Checkout,
    actor: String,
    untrusted: Option<Untrusted>,
}

#[derive(Clone)]
pub struct Pipelines {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    /// The control channel of each run going on.
    running: Mutex<BTreeMap<u64, mpsc::Sender<Control>>>,
    tasks: TaskTracker,
    metrics: Metrics,
    /// A permit per run going on. Tokio's semaphore is fair: queued runs start in order.
    slots: Arc<Semaphore>,
    /// The same for untrusted runs, apart: runs waiting for an approval (a flood of forks'
    /// pull requests, say) never hold back the project's own.
    untrusted_slots: Arc<Semaphore>,
    /// Set once shutting down: a run cancelled then starts no `workflow_run` pipeline.
    stopping: AtomicBool,
}

impl Pipelines {
    pub fn new(config: Config) -> Pipelines {
        Pipelines {
            inner: Arc::new(Inner {
                running: Mutex::new(BTreeMap::new()),
                tasks: TaskTracker::new(),
                metrics: Metrics::new(),
                slots: Arc::new(Semaphore::new(config.max_runs.max(1))),
                untrusted_slots: Arc::new(Semaphore::new(config.max_runs.max(1))),
                stopping: AtomicBool::new(false),
                config,
            }),
        }
    }

    pub fn source(&self) -> Option<&Source> {
        self.inner.config.source.as_ref()
    }

    /// The run history.
    pub fn store(&self) -> std::sync::Arc<dyn bellwether_store::RunHistory> {
        Arc::clone(&self.inner.config.data.store)
    }

    /// Registers the pipelines' metrics in `registry`: runs finished and job durations since
    /// the start, and the runs of the data directory not finished now.
    pub fn metrics(
        &self,
        registry: &mut prometheus_client::registry::Registry,
    ) -> Result<(), bellwether_store::StoreError> {
        self.inner
            .metrics
            .register(registry, self.inner.config.data.store.as_ref())
    }

    /// The data directory the runs of this control plane keep their files in.
    pub fn data_dir(&self) -> &Path {
        &self.inner.config.data.dir
    }

    /// The check of a delivery signed `signature`, to be given its body as it arrives; refused
    /// at once without a secret or a well-formed signature.
    pub fn verifier(&self, signature: Option<&str>) -> Result<webhook::Verifier, TriggerError> {
        let secret = self
            .inner
            .config
            .webhook_secret
            .as_deref()
            .ok_or(TriggerError::WebhooksOff)?;
        Ok(webhook::Verifier::new(secret, signature)?)
    }

    /// A delivery in GitHub's format whose signature matched. A delivery id is claimed in the
    /// run history before anything starts, so that a redelivery (the same id, within
    /// [`DELIVERY_RETENTION`], across restarts) starts nothing; a delivery that fails is
    /// forgotten again, for its redelivery to try once more. A push of a branch starts
    /// nothing unless its commit is the branch's tip in the repository, so that an old
    /// push captured and sent again cannot run an old commit.
    pub async fn webhook(
        &self,
        event: Option<&str>,
        delivery: &str,
        body: &webhook::Verified,
    ) -> Result<Triggered, TriggerError> {
        let pushed = match webhook::parse(event, body.body())? {
            Delivery::Ping => return Ok(ignored("ping: the webhook reaches this control plane")),
            Delivery::Ignored(why) => return Ok(ignored(&why)),
            Delivery::Event(pushed) => *pushed,
        };
        let pushed = match pushed.event.name {
            EventName::Release => self.tagged(pushed).await?,
            _ => pushed,
        };
        let store = self.store();
        let id = delivery.to_owned();
        let now = now_ms();
        let forget_before = now.saturating_sub(DELIVERY_RETENTION.as_millis() as u64);
        let claimed = blocking(move || {
            store
                .claim_delivery(&id, now, forget_before)
                .map_err(TriggerError::Deliveries)
        })
        .await?;
        if !claimed {
            return Ok(ignored(&format!(
                "delivery {delivery} was received already: a redelivery starts nothing"
            )));
        }
        let triggered = self.pushed_at_tip(pushed, true).await;
        if triggered.is_err() {
            let store = self.store();
            let id = delivery.to_owned();
            let released = blocking(move || {
                store
                    .release_delivery(&id)
                    .map_err(TriggerError::Deliveries)
            })
            .await;
            if let Err(e) = released {
                tracing::warn!("delivery {delivery} stays claimed: {}", chain(&e));
            }
        }
        triggered
    }

    /// A release, with the commit of its tag in the repository.
    async fn tagged(&self, mut pushed: Pushed) -> Result<Pushed, TriggerError> {
        let Some(source) = self.source().cloned() else {
            return Err(TriggerError::BadInput(
                "a release names a tag, and this control plane has no repository to find its commit in".to_owned(),
            ));
        };
        let tag = pushed.event.git_ref.name().to_owned();
        pushed.sha = blocking(move || {
            source.sync()?;
            source
                .refs()?
                .remove(&format!("refs/tags/{tag}"))
                .ok_or_else(|| {
                    TriggerError::BadInput(format!(
                        "tag `{tag}` is not in {} (push it there first)",
                        source.describe()
                    ))
                })
        })
        .await?;
        Ok(pushed)
    }

    /// A push or pull request: its commit is fetched if the repository is remote, its changed
    /// paths found when the payload does not list them, and the pipelines it matches start.
    pub async fn pushed(&self, pushed: Pushed) -> Result<Triggered, TriggerError> {
        self.pushed_at_tip(pushed, false).await
    }

    /// [`Self::pushed`]; when `at_tip`, a push of a branch whose commit is not the branch's
    /// tip in the repository starts nothing.
    async fn pushed_at_tip(
        &self,
        mut pushed: Pushed,
        at_tip: bool,
    ) -> Result<Triggered, TriggerError> {
        if let Some(source) = self.source().cloned() {
            let sha = pushed.sha.clone();
            let base = pushed.base_sha.clone();
            let branch = match &pushed.event.git_ref {
                GitRef::Branch(name) if at_tip && pushed.event.name == EventName::Push => {
                    Some(name.clone())
                }
                _ => None,
            };
            let (changed, superseded) = blocking(move || {
                source.sync()?;
                if !source.has_commit(&sha) {
                    return Err(TriggerError::BadInput(format!(
                        "commit {sha} is not in {} (push it there first)",
                        source.describe()
                    )));
                }
                let superseded = match branch {
                    Some(branch) => {
                        let tip = source.refs()?.remove(&format!("refs/heads/{branch}"));
                        (tip.as_deref() != Some(sha.as_str())).then(|| match tip {
                            Some(tip) => format!(
                                "commit {sha} is no longer the tip of branch `{branch}` in {} (it is {tip}): an old or replayed push starts nothing",
                                source.describe()
                            ),
                            None => format!(
                                "branch `{branch}` is not in {}: a push of it starts nothing",
                                source.describe()
                            ),
                        })
                    }
                    None => None,
                };
                Ok((base.and_then(|base| source.changed_paths(&base, &sha)), superseded))
            })
            .await?;
            if let Some(why) = superseded {
                return Ok(ignored(&why));
            }
            if pushed.event.changed_paths.is_none() {
                pushed.event.changed_paths = changed;
            }
        }
        let mut loaded = self.load()?;
        let trust = &loaded.project.trust;
        let untrusted = trust.judge(&pushed.origin()).map(|reason| Untrusted {
            reason,
            trust: trust.clone(),
        });
        if let (Some(_), Some(base), Some(source)) =
            (&untrusted, pushed.base_sha.clone(), self.source().cloned())
        {
            // The pull request's own file could make its pipelines anything: they come from
            // the branch it would merge into.
            loaded.pipelines = self.pipelines_at(source, base).await?;
        }
        let cause = Cause {
            event: pushed.event,
            checkout: Checkout::Commit(pushed.sha),
            actor: &pushed.actor,
            untrusted: untrusted.as_ref(),
        };
        self.start_matching(&loaded, None, cause)
    }

    /// The pipelines the project file declares at commit `sha`.
    async fn pipelines_at(
        &self,
        source: Source,
        sha: String,
    ) -> Result<Vec<PipelineSpec>, TriggerError> {
        let file = self.inner.config.file.clone();
        let name = format!("{} (of the base branch)", file.display());
        // The workflow files it names are read at the same commit.
        blocking(move || {
            let text = source.file_at(&sha, &file).map_err(|e| {
                TriggerError::BadInput(format!(
                    "the base branch's project file (at {sha}) cannot be read: {e}"
                ))
            })?;
            let read = |p: &std::path::Path| {
                source
                    .file_at(&sha, p)
                    .map_err(|e| std::io::Error::other(e.to_string()))
            };
            bellwether_config::load_with(&name, &text, &read)
                .map(|loaded| loaded.pipelines)
                .map_err(|d| TriggerError::Config(d.to_string()))
        })
        .await
    }

    /// The project's pipelines, as its file declares them now.
    pub fn specs(&self) -> Result<Vec<PipelineSpec>, TriggerError> {
        Ok(self.load()?.pipelines)
    }

    /// `pipeline` by hand, with `inputs`, on `branch` [default: the repository's default].
    pub async fn dispatch(
        &self,
        pipeline: &str,
        inputs: &[(String, String)],
        branch: Option<String>,
        actor: &str,
    ) -> Result<Triggered, TriggerError> {
        let (event, checkout) = self.head_of(EventName::Manual, branch).await?;
        let loaded = self.load()?;
        let cause = Cause {
            event,
            checkout,
            actor,
            untrusted: None,
        };
        self.start_matching(&loaded, Some((pipeline, inputs)), cause)
    }

    /// The pipelines whose `schedule` matches start on the default branch's head.
    pub(crate) async fn scheduled(&self, names: Vec<String>) -> Result<Triggered, TriggerError> {
        let (event, checkout) = self.head_of(EventName::Schedule, None).await?;
        let loaded = self.load()?;
        let mut triggered = Triggered::default();
        for spec in loaded.pipelines.iter().filter(|p| names.contains(&p.name)) {
            let cause = Cause {
                event: event.clone(),
                checkout: checkout.clone(),
                actor: "schedule",
                untrusted: None,
            };
            triggered
                .runs
                .push(self.start(&loaded, spec, BTreeMap::new(), cause)?);
        }
        Ok(triggered)
    }

    /// The event on `branch`'s head (or the default branch's), and that commit to check out.
    async fn head_of(
        &self,
        name: EventName,
        branch: Option<String>,
    ) -> Result<(Event, Checkout), TriggerError> {
        let Some(source) = self.source().cloned() else {
            let event = Event {
                name,
                git_ref: GitRef::Branch(branch.unwrap_or_else(|| "main".to_owned())),
                base: None,
                action: None,
                changed_paths: None,
                workflow_run: None,
            };
            return Ok((event, Checkout::Tree));
        };
        let (branch, sha) = blocking(move || {
            source.sync()?;
            let branch = branch.unwrap_or_else(|| source.default_branch());
            let sha = source
                .refs()?
                .remove(&format!("refs/heads/{branch}"))
                .ok_or_else(|| {
                    TriggerError::BadInput(format!("no branch `{branch}` in {}", source.describe()))
                })?;
            Ok((branch, sha))
        })
        .await?;
        let event = Event {
            name,
            git_ref: GitRef::Branch(branch),
            base: None,
            action: None,
            changed_paths: None,
            workflow_run: None,
        };
        Ok((event, Checkout::Commit(sha)))
    }

    /// The pipelines (or the one named) whose triggers match `event`, each started.
    fn start_matching(
        &self,
        loaded: &Loaded,
        named: Option<(&str, &[(String, String)])>,
        cause: Cause<'_>,
    ) -> Result<Triggered, TriggerError> {
        let mut triggered = Triggered::default();
        let candidates: Vec<&PipelineSpec> = match named {
            None => loaded.pipelines.iter().collect(),
            Some((name, _)) => vec![
                loaded
                    .pipelines
                    .iter()
                    .find(|p| p.name == name)
                    .ok_or_else(|| TriggerError::UnknownPipeline {
                        name: name.to_owned(),
                        known: loaded
                            .pipelines
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })?,
            ],
        };
        for spec in candidates {
            if let Err(reasons) = trigger::check_all(&spec.triggers, &cause.event) {
                if named.is_some() {
                    return Err(TriggerError::BadInput(format!(
                        "pipeline `{}` is not dispatched by hand: {}",
                        spec.name,
                        reasons.join("; ")
                    )));
                }
                triggered.skipped.push(Skipped {
                    pipeline: spec.name.clone(),
                    reasons,
                });
                continue;
            }
            let inputs = match named {
                Some((_, given)) => spec
                    .manual_inputs(given)
                    .map_err(|problems| TriggerError::BadInput(problems.join("; ")))?,
                None => BTreeMap::new(),
            };
            triggered
                .runs
                .push(self.start(loaded, spec, inputs, cause.clone())?);
        }
        Ok(triggered)
    }

    pub(crate) fn load(&self) -> Result<Loaded, TriggerError> {
        let file = &self.inner.config.file;
        let text = std::fs::read_to_string(file).map_err(|source| TriggerError::ReadProject {
            path: file.clone(),
            source,
        })?;
        bellwether_config::load_with(&file.display().to_string(), &text, &|p| {
            std::fs::read_to_string(p)
        })
        .map_err(|d| TriggerError::Config(d.to_string()))
    }

    /// Records run 1 of `spec` and starts it as a task; the run holds its lock until it ends.
    fn start(
        &self,
        loaded: &Loaded,
        spec: &PipelineSpec,
        inputs: BTreeMap<String, bellwether_pipeline_core::expr::Value>,
        cause: Cause<'_>,
    ) -> Result<Started, TriggerError> {
        let Cause {
            event,
            checkout,
            actor,
            untrusted,
        } = cause;
        let config = &self.inner.config;
        let revision = match &checkout {
            Checkout::Tree => "tree".to_owned(),
            Checkout::Commit(sha) => sha.clone(),
        };
        let replay = Replay::new(
            std::path::absolute(&config.file).unwrap_or_else(|_| config.file.clone()),
            &spec.name,
            &event,
            &inputs,
            &revision,
        )
        .untrusted(untrusted.map(|u| u.reason.clone()));
        let summary = event.describe();
        // What a `workflow_run` pipeline following this run is told of it.
        let followed = Followed {
            pipeline: spec.name.clone(),
            branch: event.git_ref.name().to_owned(),
            sha: match &checkout {
                Checkout::Commit(sha) => sha.clone(),
                Checkout::Tree => String::new(),
            },
            checkout: checkout.clone(),
            actor: actor.to_owned(),
            untrusted: untrusted.cloned(),
        };
        let (number, lock) = config
            .data
            .create(&NewRun {
                pipeline: spec.name.clone(),
                actor: actor.to_owned(),
                summary: summary.clone(),
                trigger: serde_json::to_value(&replay).map_err(TriggerError::Encode)?,
                at_ms: now_ms(),
            })
            .map_err(TriggerError::Record)?;
        let project = match &config.source {
            Some(source) => source.project().to_path_buf(),
            // `bellwether.yaml`'s parent is the empty path: the current directory.
            None => config
                .file
                .parent()
                .filter(|dir| !dir.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        };
        let attempt = Attempt {
            spec: spec.clone(),
            event,
            inputs,
            project,
            checkout,
            number,
            attempt: 1,
            reused: BTreeMap::new(),
            actor: actor.to_owned(),
            environments: loaded.project.environments.clone(),
            services: loaded.project.services.keys().cloned().collect(),
        };
        let (control, rx) = mpsc::channel(4);
        self.inner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(number, control);
        let this = self.clone();
        let name = spec.name.clone();
        let untrusted = untrusted.cloned();
        tracing::info!(
            run = number,
            pipeline = %name,
            "run {number} ({name}, {summary}) by {actor}: started"
        );
        let listener = self.inner.config.listener.clone();
        let told = RunEvent {
            number,
            pipeline: name.clone(),
            actor: actor.to_owned(),
            summary: summary.clone(),
            change: RunChange::Started,
        };
        if let Some(listener) = &listener {
            listener.changed(told.clone());
        }
        self.follow(&followed, number, "requested", "");
        let slots = Arc::clone(match untrusted {
            Some(_) => &self.inner.untrusted_slots,
            None => &self.inner.slots,
        });
        let slot = self.slot(number, &slots);
        let task = async move {
            let started = tokio::time::Instant::now();
            let mut rx = rx;
            let slot = match slot {
                Some(slot) => Ok(slot),
                None => this.queued(number, slots, &mut rx).await,
            };
            let settings = this.settings(untrusted);
            let preparing = this.clone();
            let prepared = match slot {
                Ok(slot) => Ok((
                    slot,
                    tokio::task::spawn_blocking(move || {
                        attempt.prepare(&settings, &preparing.inner.config.data, &HostLauncher)
                    })
                    .await,
                )),
                Err(why) => Err(why),
            };
            let metrics = &this.inner.metrics;
            let (conclusion, ended) = match prepared {
                // The slot is held until the run ends.
                Err(why) => ("cancelled", format!("cancelled while queued ({why})")),
                Ok((_slot, Ok(Ok(prepared)))) => {
                    let mut observers = vec![metrics.observer(&name)];
                    if let Some(listener) = &listener {
                        observers.push(Arc::new(Gates {
                            listener: Arc::clone(listener),
                            template: told.clone(),
                            told: Mutex::default(),
                        }));
                    }
                    let finished = prepared.run(observers, rx).await;
                    let conclusion = finished.conclusion.as_str();
                    (conclusion, conclusion.to_owned())
                }
                Ok((_, Ok(Err(e)))) => ("failure", format!("failure ({})", chain(&e))),
                Ok((_, Err(e))) => {
                    let why = format!("it could not start: {}", chain(&e));
                    this.record_status(number, why.clone(), RunStatus::Failure);
                    ("failure", format!("failure ({why})"))
                }
            };
            metrics.finished(&name, conclusion);
            this.follow(&followed, number, "completed", conclusion);
            if let Some(listener) = &listener {
                listener.changed(RunEvent {
                    change: RunChange::Finished {
                        conclusion: conclusion.to_owned(),
                        message: ended.clone(),
                    },
                    ..told
                });
            }
            drop(lock);
            this.inner
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&number);
            tracing::info!(
                run = number,
                pipeline = %name,
                "run {number} ({name}): {ended} in {:.1}s",
                started.elapsed().as_secs_f64()
            );
        };
        self.inner.tasks.spawn(task);
        Ok(Started {
            number,
            pipeline: spec.name.clone(),
        })
    }

    /// Starts the pipelines whose `workflow_run` follows run `number`, which was `action`
    /// (`requested` or `completed`, with its `conclusion`): on the same commit, as the same
    /// actor, and untrusted when it was. What fails is logged; the run it follows is over
    /// or going on either way.
    fn follow(&self, run: &Followed, number: u64, action: &str, conclusion: &str) {
        if self.inner.stopping.load(Ordering::SeqCst) {
            return;
        }
        let loaded = match self.load() {
            Ok(loaded) => loaded,
            Err(e) => {
                tracing::warn!(
                    run = number,
                    "cannot start what follows run {number}: {}",
                    chain(&e)
                );
                return;
            }
        };
        let follows = |p: &PipelineSpec| {
            p.triggers.iter().any(|t| {
                matches!(t, trigger::Trigger::WorkflowRun(f) if f.workflows.contains(&run.pipeline))
            })
        };
        if !loaded.pipelines.iter().any(follows) {
            return;
        }
        let event = Event {
            name: EventName::WorkflowRun,
            git_ref: GitRef::Branch(run.branch.clone()),
            base: None,
            action: Some(action.to_owned()),
            changed_paths: None,
            workflow_run: Some(WorkflowRun {
                name: run.pipeline.clone(),
                id: number,
                conclusion: conclusion.to_owned(),
                head_branch: run.branch.clone(),
                head_sha: run.sha.clone(),
            }),
        };
        let cause = Cause {
            event,
            checkout: run.checkout.clone(),
            actor: &run.actor,
            untrusted: run.untrusted.as_ref(),
        };
        match self.start_matching(&loaded, None, cause) {
            Ok(triggered) => {
                for started in triggered.runs {
                    tracing::info!(
                        run = started.number,
                        pipeline = %started.pipeline,
                        "run {} ({}) follows run {number} ({}, {action})",
                        started.number,
                        started.pipeline,
                        run.pipeline
                    );
                }
            }
            Err(e) => tracing::warn!(
                run = number,
                "cannot start what follows run {number}: {}",
                chain(&e)
            ),
        }
    }

    /// A slot of `slots` (the trusted runs' or the untrusted ones') if one is free now;
    /// without one, run `number` is recorded queued.
    fn slot(&self, number: u64, slots: &Arc<Semaphore>) -> Option<OwnedSemaphorePermit> {
        if let Ok(slot) = Arc::clone(slots).try_acquire_owned() {
            return Some(slot);
        }
        let text = format!(
            "queued: {} runs are going on, the most this control plane runs at once",
            self.inner.config.max_runs
        );
        self.record_status(number, text, RunStatus::Queued);
        None
    }

    /// Waits for a slot, in the order runs were queued; `Err` with why when the run is
    /// cancelled first, recorded as its end.
    async fn queued(
        &self,
        number: u64,
        slots: Arc<Semaphore>,
        control: &mut mpsc::Receiver<Control>,
    ) -> Result<OwnedSemaphorePermit, String> {
        let why = tokio::select! {
            // The semaphore is never closed.
            slot = slots.acquire_owned() => {
                if let Ok(slot) = slot {
                    return Ok(slot);
                }
                "the control plane stopped running runs".to_owned()
            }
            control = control.recv() => match control {
                Some(Control::Cancel(why)) => why,
                None => "nobody can start it any more".to_owned(),
            },
        };
        self.record_status(
            number,
            format!("cancelled while queued: {why}"),
            RunStatus::Cancelled,
        );
        Err(why)
    }

    /// Records run `number` (not started yet) in `status`, with `text` as why; a store that
    /// fails is logged, since the run goes on (or ends) either way.
    fn record_status(&self, number: u64, text: String, status: RunStatus) {
        let at_ms = now_ms();
        let changes = [
            Change::Note {
                attempt: 0,
                job: None,
                text,
                at_ms,
            },
            Change::Status {
                attempt: 0,
                status,
                at_ms,
            },
        ];
        if let Err(e) = self.inner.config.data.store.record(number, &changes) {
            tracing::warn!(
                run = number,
                "cannot record run {number} {status}: {}",
                chain(&e)
            );
        }
    }

    fn settings(&self, untrusted: Option<Untrusted>) -> Settings {
        let config = &self.inner.config;
        Settings {
            untrusted,
            secrets: BTreeMap::new(),
            waived: Vec::new(),
            approval_timeout: None,
            parallel: config.parallel,
            deployer: config.deployer.clone(),
            keep_workspace: false,
        }
    }

    /// Cancels every run going on and waits up to `grace` for them to end.
    pub async fn shutdown(&self, grace: Duration) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        let controls: Vec<mpsc::Sender<Control>> = self
            .inner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        for control in controls {
            let _ = control
                .send(Control::Cancel(
                    "the control plane is shutting down".to_owned(),
                ))
                .await;
        }
        self.inner.tasks.close();
        let _ = tokio::time::timeout(grace, self.inner.tasks.wait()).await;
    }
}

/// Runs blocking git work off the runtime's threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, TriggerError> + Send + 'static,
) -> Result<T, TriggerError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(TriggerError::GitTask)?
}
