//! A step: `run:` a script, or a built-in step: `deploy`, `cache`, `artifacts`.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{FlagForm, Names};
use crate::span::{Entries, Spanned};
use crate::values::{DurationValue, Whole};

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PipelineStepConfig {
    /// The name `steps.<id>` refers to.
    pub id: Option<Spanned<String>>,
    pub name: Option<Spanned<String>>,
    /// Run only when this expression holds; `success()` is implied unless it calls a status
    /// function itself.
    #[serde(rename = "if")]
    pub condition: Option<Spanned<String>>,
    /// A script, run with `shell` (default: `bash -e`, or `sh -e` where there is no bash).
    pub run: Option<Spanned<String>>,
    /// `bash`, `sh`, `python`, or a command with `{0}` for the script file.
    pub shell: Option<Spanned<String>>,
    /// Relative to the workspace.
    pub working_directory: Option<Spanned<String>>,
    #[serde(default)]
    pub env: Entries<String>,
    /// A failure of this step does not fail the job.
    pub continue_on_error: Option<Spanned<FlagForm>>,
    /// How long the step may take, e.g. `5m`.
    pub timeout: Option<Spanned<DurationValue>>,
    /// GitHub's spelling of `timeout`, in minutes.
    pub timeout_minutes: Option<Spanned<Whole<u32>>>,
    /// An action with a built-in equivalent: `actions/checkout`, `actions/cache`,
    /// `actions/upload-artifact`, `actions/download-artifact`, `actions/setup-node`,
    /// `-python`, `-go` and `-java` (any version after `@`). Others are refused with what to
    /// write instead.
    pub uses: Option<Spanned<String>>,
    /// The inputs of a `uses` step.
    #[schemars(with = "serde_json::Value")]
    pub with: Option<Spanned<Entries<serde_json::Value>>>,
    /// Start a rollout of a declared service and wait for its verdict.
    pub deploy: Option<Spanned<DeployConfig>>,
    /// Restore paths from a local cache now; save them when the job ends.
    pub cache: Option<Spanned<CacheConfig>>,
    /// Upload paths as an artifact, or download artifacts that needed jobs uploaded.
    pub artifacts: Option<Spanned<ArtifactsConfig>>,
    /// Run a check from the project's `checks:` once (with its retries); the step fails with it.
    pub check: Option<Spanned<String>>,
    /// Run a suite from the project's `verify:`; the step fails with it.
    pub verify: Option<Spanned<String>>,
    /// Run a load test: a `bellwether load` file, relative to the workspace; the step fails
    /// when one of its thresholds does.
    pub load: Option<Spanned<String>>,
    /// For `check` and `verify`: the address their paths (`/healthz`) are taken against, e.g.
    /// `https://staging.example.com` or `${{ needs.deploy.outputs.url }}`.
    pub target: Option<Spanned<String>>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployConfig {
    /// A service declared under `services:`.
    pub service: Option<Spanned<String>>,
    /// The revision to roll out. Default: the commit under test (`github.sha`).
    pub revision: Option<Spanned<String>>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CacheConfig {
    /// The entry to restore and save, e.g. `deps-${{ hashFiles('Cargo.lock') }}`.
    pub key: Option<Spanned<String>>,
    /// Key prefixes to fall back on, in order; the newest matching entry wins.
    pub restore_keys: Option<Spanned<Names>>,
    /// Files and directories, relative to the workspace (`path` is accepted too).
    #[serde(alias = "path")]
    pub paths: Option<Spanned<Names>>,
    /// Save even when the job fails. Default: false.
    pub save_always: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArtifactsConfig {
    /// Paths or globs to upload, relative to the workspace.
    pub upload: Option<Spanned<Names>>,
    /// For `upload`: the artifact's name. Default: the job's id.
    pub name: Option<Spanned<String>>,
    /// Names of artifacts uploaded by jobs this one needs.
    pub download: Option<Spanned<Names>>,
    /// For `download`: where to put them, relative to the workspace. Default: the workspace.
    pub path: Option<Spanned<String>>,
    /// Set for `actions/upload-artifact`, never written: files are kept relative to the
    /// paths' common directory, as GitHub keeps them, rather than to the workspace.
    #[serde(skip)]
    #[schemars(skip)]
    pub from_common_root: bool,
}
