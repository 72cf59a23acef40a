//! What goes into a run and comes out of it: the events it is told, the actions it asks for.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use bellwether_core::spec::EnvironmentSpec;

use crate::expr::Value;
use crate::spec::{PipelineSpec, Shell};
use crate::toolchain::Toolchain;
use crate::trigger;

/// Everything a run needs to start: the pipeline, the event, and the facts around it.
#[derive(Clone, Debug)]
pub struct RunInput {
    pub spec: PipelineSpec,
    pub event: trigger::Event,
    /// The commit under test.
    pub sha: String,
    /// `owner/name`, or the project directory's name.
    pub repository: String,
    /// Who triggered the run.
    pub actor: String,
    /// Where each job instance's steps work, for `github.workspace` and `$GITHUB_WORKSPACE`.
    pub workspace: Workspaces,
    pub run_id: String,
    pub run_number: u64,
    /// 1 for a new run; each rerun of the same run counts up.
    pub attempt: u32,
    /// Jobs that succeeded in an earlier attempt, kept with their outputs instead of run again
    /// (`rerun --failed`). A job is kept only when every job it needs is kept too.
    pub reused: BTreeMap<String, ReusedJob>,
    /// The `inputs` context, already resolved against the declared inputs.
    pub inputs: BTreeMap<String, Value>,
    /// Secret values by name; a job sees only those its expressions name
    /// ([`PipelineSpec::secrets_used_by`]).
    pub secrets: BTreeMap<String, String>,
    /// Secrets scoped to an environment, by environment: a job placed in one sees them over
    /// `secrets` (again only those it names).
    pub environment_secrets: BTreeMap<String, BTreeMap<String, String>>,
    /// The declared environments and their protection rules.
    pub environments: BTreeMap<String, EnvironmentSpec>,
    /// Environments this run may not enter, with why: a job placed in one fails.
    pub closed_environments: BTreeMap<String, String>,
    /// The declared services, which deploy steps may name.
    pub services: Vec<String>,
    /// The `runner` context: `os`, `arch`, `temp`…
    pub runner: BTreeMap<String, Value>,
    /// How many jobs run at once, across the run; at least 1.
    pub max_parallel: usize,
}

/// Where a run's job instances work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Workspaces {
    /// Every instance in this one directory.
    Shared(String),
    /// Each instance in a directory of its own, `<root>/<instance>/<within>`, named by
    /// [`Run::instance_name`](super::Run::instance_name): what one leaves, the next does not
    /// see.
    PerInstance { root: String, within: String },
}

impl Workspaces {
    /// The workspace of the instance named `instance`.
    pub fn of(&self, instance: &str) -> String {
        match self {
            Workspaces::Shared(path) => path.clone(),
            Workspaces::PerInstance { root, within } => {
                let mut path = format!("{}/{instance}", root.trim_end_matches('/'));
                if !within.is_empty() {
                    path.push('/');
                    path.push_str(within);
                }
                path
            }
        }
    }

    /// What `github.workspace` is where no instance is in view (a job's `if`): the shared
    /// directory, or the directory holding every instance's.
    pub fn root(&self) -> &str {
        match self {
            Workspaces::Shared(path) => path,
            Workspaces::PerInstance { root, .. } => root,
        }
    }
}

/// A job kept from an earlier attempt of the run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReusedJob {
    pub outputs: BTreeMap<String, String>,
    /// The attempt it succeeded in.
    pub attempt: u32,
    /// `None`: the whole job is kept. Otherwise it runs again except for these matrix
    /// instances, by position and name, which succeeded in `attempt` and keep their result.
    pub instances: Option<BTreeMap<usize, String>>,
}

/// One job of the pipeline, or one matrix combination of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceId {
    /// Index into the pipeline's jobs.
    pub job: usize,
    /// Index into the job's combinations (0 without a matrix).
    pub index: usize,
}

/// One step of one attempt of an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StepId {
    pub instance: InstanceId,
    pub attempt: u32,
    /// Index into the instance's step records.
    pub step: usize,
}

/// How a step, job or run ended, in GitHub's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Conclusion {
    Success,
    Failure,
    Cancelled,
    Skipped,
}

impl Conclusion {
    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::Cancelled => "cancelled",
            Conclusion::Skipped => "skipped",
        }
    }
}

impl fmt::Display for Conclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a step's process, or built-in step, ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    /// Killed by a signal it did not ask for.
    Signalled(i32),
    TimedOut,
    Cancelled,
    /// It could not run at all: no shell, an unreadable file, a failed built-in step.
    Error(String),
}

impl ExitStatus {
    pub fn is_success(&self) -> bool {
        *self == ExitStatus::Exited(0)
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Exited(code) => write!(f, "exit code {code}"),
            ExitStatus::Signalled(signal) => write!(f, "killed by signal {signal}"),
            ExitStatus::TimedOut => f.write_str("timed out"),
            ExitStatus::Cancelled => f.write_str("cancelled"),
            ExitStatus::Error(message) => f.write_str(message),
        }
    }
}

/// What the executor reports when a step ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepOutcome {
    pub status: ExitStatus,
    /// From `$BELLWETHER_OUTPUT`, or the built-in step's own outputs.
    pub outputs: Vec<(String, String)>,
    /// From `$BELLWETHER_ENV`, for the later steps of the job.
    pub env: Vec<(String, String)>,
    /// From `$GITHUB_PATH`, prepended to `PATH` for the later steps.
    pub path: Vec<String>,
}

impl StepOutcome {
    pub fn status(status: ExitStatus) -> Self {
        Self {
            status,
            outputs: Vec::new(),
            env: Vec::new(),
            path: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The run begins: jobs without needs become ready.
    Start,
    StepFinished {
        step: StepId,
        outcome: StepOutcome,
    },
    /// An environment's protection rules passed (approvals given, wait timer over).
    GateOpened {
        instance: InstanceId,
        note: String,
    },
    GateRefused {
        instance: InstanceId,
        reason: String,
    },
    /// Stop the run: running steps are cancelled, and only `always()` work goes on.
    Cancel {
        reason: String,
    },
}

/// What the run asks its executor and its observers to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    RunStep(StepRequest),
    /// Stop the step running for this instance; it still reports `StepFinished`.
    CancelStep {
        instance: InstanceId,
    },
    /// Hold the instance until its environment's rules pass or refuse it.
    Gate {
        instance: InstanceId,
        environment: EnvironmentSpec,
    },
    /// A line for the run's log: why something was skipped, retried or failed.
    Log {
        instance: Option<InstanceId>,
        text: String,
    },
    /// Every job has ended.
    Finished {
        conclusion: Conclusion,
    },
}

/// A step, resolved: every expression evaluated, ready to execute.
#[derive(Clone, Debug, PartialEq)]
pub struct StepRequest {
    pub id: StepId,
    pub name: String,
    pub work: Work,
    /// The directory of the instance's workspace where steps start (its `github.workspace`).
    pub workspace: String,
    /// The step's whole environment, in order; later entries win.
    pub env: Vec<(String, String)>,
    /// Directories to put in front of `PATH`.
    pub path: Vec<String>,
    pub timeout: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Work {
    Script {
        script: String,
        shell: Option<Shell>,
        working_directory: Option<String>,
    },
    CacheRestore {
        key: String,
        restore_keys: Vec<String>,
        paths: Vec<String>,
    },
    CacheSave {
        key: String,
        paths: Vec<String>,
    },
    Upload {
        name: String,
        paths: Vec<String>,
        /// Relative to the paths' common directory, as GitHub keeps them.
        from_common_root: bool,
        /// The job and matrix leg uploading, kept with the artifact so that a rerun knows
        /// whose artifacts to replace.
        job: String,
        leg: usize,
    },
    Download {
        names: Vec<String>,
        path: Option<String>,
    },
    Deploy {
        service: String,
        revision: String,
        environment: Option<String>,
    },
    Verify {
        suite: Box<bellwether_core::spec::VerifySpec>,
        target: Option<String>,
    },
    /// A load file of the workspace, by its path relative to it.
    Load {
        file: String,
    },
    /// Says that the workspace is the checkout.
    Checkout,
    /// Checks the host's toolchain against the version asked for, if any.
    Setup {
        tool: Toolchain,
        version: Option<String>,
    },
}
