//! The file model: `bellwether.yaml` as written, with the position of every node that a
//! diagnostic may point at.
//!
//! These types mirror the file, not the domain: they accept every spelling the file allows
//! (Argo Rollouts' among them) and keep values that validation will reject, so that all
//! problems are reported at once. Their doc comments are the JSON Schema's descriptions, and
//! they state the defaults that lowering applies.

mod alias;
mod analysis;
mod check;
mod command;
mod dora;
mod environment;
mod notify;
mod pipeline;
mod provider;
mod server;
mod service;
mod step;
mod strategy;
mod threshold;
mod traffic;
mod trust;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::span::Entries;

pub use analysis::{
    AnalysisConfig, AnalysisRefConfig, ArgConfig, FieldRefConfig, FullMetricConfig,
    InconclusiveConfig, MetricConfig, PresetConfig, SecretKeyRefConfig, TrafficGeneratorConfig,
    UnitConfig, ValueFromConfig,
};
pub use analysis::{JudgeConfig, JudgedMetricConfig, Number};
pub use check::{CheckConfig, StatusForm, TlsConfig, VerifyConfig};
pub use command::Command;
pub use dora::{DoraConfig, DoraTargetsConfig};
pub use environment::EnvironmentConfig;
pub use notify::{NotificationConfig, UrlConfig, WebhookConfig};
pub use pipeline::{
    ArtifactsConfig, CacheConfig, ConcurrencyForm, DefaultsConfig, DeployConfig, EnvironmentForm,
    FlagForm, InputConfig, InputType, ManualConfig, MatrixForm, MatrixStrategyConfig, Names,
    OnConfig, PipelineConfig, PipelineJobConfig, PipelineStepConfig, PullRequestConfig, PushConfig,
    RetryForm, RunDefaultsConfig, ScheduleConfig, TagConfig, WorkflowCallConfig,
};
pub use provider::{JobConfig, PrometheusConfig, ProviderConfig, ProviderRef, WebConfig};
pub use server::{RetentionConfig, ServerConfig};
pub use service::{ProbeConfig, ProbeForm, RunConfig, ServiceConfig};
pub use step::{
    CanaryScaleConfig, CanaryStepConfig, HeaderRouteConfig, MirrorRouteConfig, PauseConfig,
};
pub use strategy::{
    BackgroundAnalysisConfig, BlueGreenConfig, CanaryConfig, RollingConfig, StrategyConfig,
};
pub use threshold::Threshold;
pub use traffic::{
    DestinationRuleConfig, GatewayApiConfig, IstioConfig, NginxConfig, PluginsConfig,
    TrafficRoutingConfig, VirtualServiceConfig,
};
pub use trust::TrustConfig;

/// `bellwether.yaml`: a project's services, how they roll out and how the rollouts are judged,
/// the metric providers they use, and the environments that guard deployments.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "bellwether.yaml")]
pub struct ProjectFile {
    /// Named metric providers, which metrics refer to with `provider: <name>`. The built-in
    /// provider, `builtin`, needs no declaration.
    #[serde(default)]
    pub providers: Entries<ProviderConfig>,
    /// The services to deploy, by name (lowercase letters, digits and `-`).
    #[serde(default)]
    pub services: Entries<ServiceConfig>,
    /// Where deployments go and the rules that guard them, by name. `staging:` with nothing
    /// after it declares an environment with no rules.
    #[serde(default)]
    pub environments: Entries<Option<EnvironmentConfig>>,
    /// Pipelines by name (e.g. `ci`, `release`, `rollback`): triggers, jobs and steps in
    /// GitHub Actions' model, run by `bellwether run`.
    #[serde(default)]
    pub pipelines: Entries<PipelineConfig>,
    /// DORA metrics: the targets `bellwether dora` shows beside its figures, e.g.
    /// `{targets: {deploymentFrequency: daily, leadTime: 2h, changeFailureRate: 15%, timeToRestore: 15m}}`.
    #[serde(default)]
    pub dora: DoraConfig,
    /// Who is told what happens, by name: a Slack webhook, any HTTP endpoint or a program,
    /// each with the kinds of notice it wants and the services, environments or pipelines.
    #[serde(default)]
    pub notifications: Entries<NotificationConfig>,
    /// Whose events run pipelines as written, e.g. `{authors: [alice, bob], reviewers: [alice]}`.
    /// Runs of forks' pull requests and of authors not trusted get no secrets, no protected
    /// environment, no deploys, and wait for an approval.
    #[serde(default)]
    pub trust: TrustConfig,
    /// Checks of a running service by name, for `bellwether check`, suites, pipeline steps and
    /// rollouts: e.g. `health: {url: /healthz, status: 200, maxTime: 2s}` or
    /// `db: {tcp: 127.0.0.1:5432}`.
    #[serde(default)]
    pub checks: Entries<CheckConfig>,
    /// Suites of checks by name, run in rounds against a minimum success rate by
    /// `bellwether verify`, `verify:` pipeline steps and rollout steps.
    #[serde(default)]
    pub verify: Entries<VerifyConfig>,
    /// How `bellwether up` runs, e.g. `{store: postgres://bellwether@db:5432/bellwether}`.
    #[serde(default)]
    pub server: ServerConfig,
}
