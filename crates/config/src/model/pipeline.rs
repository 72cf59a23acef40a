//! `pipelines:`: named pipelines in GitHub Actions' job and step model, so that `run:` jobs
//! paste in. Keys are spelt as GitHub spells them (`runs-on`, `continue-on-error`,
//! `timeout-minutes`, `pull_request`); what bellwether adds follows the same style
//! (`retry: {max-attempts, on-exit-codes}`, `timeout: 10m`, the `deploy`, `cache` and
//! `artifacts` steps).

mod forms;
mod job;
mod on;
mod step;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::span::{Entries, Spanned};

pub use forms::{ConcurrencyForm, FlagForm, Names};
pub use job::{
    DefaultsConfig, EnvironmentForm, MatrixForm, MatrixStrategyConfig, PipelineJobConfig,
    RetryForm, RunDefaultsConfig,
};
pub use on::{
    InputConfig, InputType, ManualConfig, OnConfig, PullRequestConfig, PushConfig, ScheduleConfig,
    TagConfig, WorkflowCallConfig,
};
pub use step::{ArtifactsConfig, CacheConfig, DeployConfig, PipelineStepConfig};

/// A pipeline: what starts it, and its jobs.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PipelineConfig {
    /// A GitHub Actions workflow file to run as this pipeline, relative to this file, e.g.
    /// `.github/workflows/ci.yml`; its `on:` are the pipeline's triggers. Nothing else is
    /// written beside it.
    pub workflow: Option<Spanned<String>>,
    /// A display name. Default: the pipeline's key.
    pub name: Option<Spanned<String>>,
    /// GitHub's name for a run; accepted so that workflows paste in, and not used.
    pub run_name: Option<Spanned<String>>,
    /// The `GITHUB_TOKEN`'s scopes on GitHub; accepted and ignored, as no such token exists here.
    #[schemars(with = "serde_json::Value")]
    pub permissions: Option<Spanned<serde_json::Value>>,
    /// The events that start a run: `push`, `pull_request`, `tag`, `schedule`, `manual`
    /// (`workflow_dispatch` is accepted too), as a name, a list or a mapping with filters.
    /// Default: none, so the pipeline runs only when asked for by name.
    pub on: Option<Spanned<OnConfig>>,
    /// Environment variables for every step of every job.
    #[serde(default)]
    pub env: Entries<String>,
    /// Defaults for the `run` steps of every job.
    pub defaults: Option<Spanned<DefaultsConfig>>,
    /// Runs in the same group wait for each other, or cancel the one in progress.
    pub concurrency: Option<Spanned<ConcurrencyForm>>,
    /// The jobs, by id (letters, digits, `-` and `_`); `needs` makes them a DAG.
    #[serde(default)]
    pub jobs: Entries<PipelineJobConfig>,
}
