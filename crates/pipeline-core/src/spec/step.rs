//! A step: a script, or one of the built-in steps (deploy, cache, artifacts, verify, load).

use std::time::Duration;

use bellwether_core::spec::VerifySpec;

use crate::expr::{Condition, Template};
use crate::toolchain::Toolchain;

use super::{Flag, Shell};

#[derive(Clone, Debug, PartialEq)]
pub struct StepSpec {
    /// The name `steps.<id>` refers to.
    pub id: Option<String>,
    pub name: Option<Template>,
    pub condition: Option<Condition>,
    pub env: Vec<(String, Template)>,
    pub continue_on_error: Flag,
    pub timeout: Option<Duration>,
    pub action: StepAction,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StepAction {
    /// `run:` a script with a shell, in a working directory relative to the workspace.
    Run {
        script: Template,
        shell: Option<Shell>,
        working_directory: Option<Template>,
    },
    /// `deploy: {service, revision}`: start a rollout of a declared service and wait for it.
    /// The service may be an expression, e.g. `${{ matrix.service }}`.
    Deploy {
        service: Template,
        revision: Option<Template>,
    },
    /// `cache:`: restore here, save when the job ends.
    Cache(CacheSpec),
    /// `artifacts: {upload: [paths], name}`; the name and paths may be computed, e.g.
    /// `coverage-${{ matrix.service }}`, so that each leg of a matrix uploads its own.
    Upload {
        name: Template,
        paths: Vec<Template>,
        /// Files kept relative to the directory the paths have in common (GitHub's
        /// `actions/upload-artifact`), not to the workspace.
        from_common_root: bool,
    },
    /// `artifacts: {download: [names], path}`: artifacts that jobs this one needs uploaded.
    Download {
        names: Vec<String>,
        path: Option<String>,
    },
    /// `verify: NAME` or `check: NAME`: a suite of checks (a check alone is a suite of one
    /// round), against `target` when its URLs are paths.
    Verify {
        suite: VerifySpec,
        target: Option<Template>,
    },
    /// `load: FILE`: a load test (`bellwether load`'s file, relative to the workspace), which
    /// fails when a threshold does.
    Load { file: Template },
    /// `uses: actions/checkout`: the workspace already holds the run's commit, so the step
    /// only says so.
    Checkout,
    /// `uses: actions/setup-node` and kin: the host's toolchain, when its version satisfies
    /// `version` (any version when absent); otherwise the step fails naming what to install.
    Setup {
        tool: Toolchain,
        version: Option<Template>,
    },
}

/// `cache: {key, restore-keys, paths, save-always}`.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheSpec {
    pub key: Template,
    /// Prefixes tried in order when `key` has no entry; the newest match wins.
    pub restore_keys: Vec<Template>,
    pub paths: Vec<String>,
    /// Save even when the job fails.
    pub save_always: bool,
}
