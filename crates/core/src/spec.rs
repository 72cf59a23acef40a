//! What a project declares: services, how their revisions run, how they roll out, how
//! rollouts are judged, and the environments that guard them.
//!
//! These are plain, validated values. Parsing and positions in `bellwether.yaml` belong to
//! the `bellwether-config` crate, which lowers its file model into these types.

mod analysis;
mod check;
mod dora;
mod environment;
mod notify;
mod project;
mod scale;
mod service;
mod strategy;
mod traffic;
mod trust;
mod weight;

pub use analysis::{
    AnalysisRef, BuiltinMetric, Condition, ConditionOp, DEFAULT_CONFIDENCE, Direction, Evidence,
    Inconclusive, JudgeSpec, JudgedMetricSpec, MetricSpec, Operand, ProviderSpec, TrafficGenerator,
    Unit,
};
pub use check::{
    BodyMatch, CheckSpec, CheckTarget, Expect, HeaderExpect, HttpCheck, JsonExpect, StatusRange,
    TlsCheck, VerifySpec,
};
pub use dora::{DoraTargets, Frequency, PERIODS};
pub use environment::{EnvironmentSpec, Soak};
pub use notify::{NoticeKind, NotificationSpec, Target, Url};
pub use project::{Project, Retention, Server};
pub use scale::Scale;
pub use service::{Probe, RunSpec, ServiceSpec};
pub use strategy::{
    BackgroundAnalysis, BlueGreenSpec, CanaryScale, CanarySpec, CanaryStep, HeaderMatch,
    RollingSpec, Strategy,
};
pub use traffic::{GatewayApiRouting, IstioRouting, NginxRouting, TrafficRouting};
pub use trust::{APPROVAL_ENVIRONMENT, Origin, Trust};
pub use weight::{Weight, WeightError, whole_percents};
