//! The control plane's HTTP API as data. The server (`bellwether up`) answers with these types
//! and the CLI reads them; both sides serialize them as JSON. Paths live in [`paths`].
//!
//! The views are for people and scripts alike: each carries the reason for what it shows, and
//! every analysis measurement carries its value, condition, verdict, sample and window.
//!
//! Who sends a request is never part of its body: it is the identity of the bearer token
//! the request carries.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use bellwether_core::rollout::{Command, Phase, Revision, RevisionNumber, Stage, Verdict};
use bellwether_core::spec::{Unit, Weight};
use bellwether_core::time::Timestamp;
use serde::{Deserialize, Serialize};

mod access;
pub mod paths;
mod pipelines;
mod runs;

pub use access::{CreatedToken, TokenRequest};
pub use pipelines::{InputView, PipelineView};
pub use runs::{
    DispatchRequest, InputValue, ReviewAnswer, ReviewRequest, RunGateView, RunInstanceView,
    RunJobView, RunReviewView, RunStepView, RunView, SkippedPipeline, StartedRun, StepSummaryView,
    TriggeredView,
};

/// `POST /v1/services/{service}/deploy`: roll the service out to a new revision.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DeployRequest {
    /// The version label of the new revision (`v2`, a commit).
    pub version: String,
    /// Environment variables added to (or replacing) the service's own for this revision.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Program and arguments replacing the service's command for this revision.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// The environment deployed to; a service that names one environment goes there unasked.
    #[serde(default)]
    pub environment: Option<String>,
    /// The pipeline run whose job passed the environment's gate: what a protected
    /// environment requires, presented by the control plane's own pipelines.
    #[serde(default)]
    pub run: Option<u64>,
    /// The commit the version was built from, for the lead time of the change.
    #[serde(default)]
    pub commit: Option<Commit>,
}

/// A commit a version was built from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    pub sha: String,
    /// The commit's time (its committer date), in milliseconds since the Unix epoch.
    pub committed_at: Timestamp,
}

/// The window of `GET /v1/dora` and `bellwether dora` unless one is asked for.
pub const DORA_DEFAULT_SINCE: &str = "30d";

/// `GET /v1/dora`: the DORA figures of each service and environment over a window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DoraReport {
    /// The window: from `start` to `end` (the control plane's clock when it answered).
    pub start: Timestamp,
    pub end: Timestamp,
    /// The window's length as asked (`30d`).
    pub since: String,
    /// By service, then environment.
    pub figures: Vec<bellwether_core::dora::Figures>,
}

/// `POST /v1/services/{service}/commands`: an operator command on the current rollout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommandRequest {
    pub command: Command,
}

/// `POST /v1/services/{service}/undo`: go back to an earlier revision (the previous one by
/// default).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UndoRequest {
    #[serde(default)]
    pub to_revision: Option<RevisionNumber>,
}

/// `POST /v1/rollback-all`: abort every rollout in progress.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RollbackAllRequest {
    #[serde(default)]
    pub reason: Option<String>,
}

/// What `rollback-all` did to one service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RollbackResult {
    pub service: String,
    /// `None` when the abort was accepted; otherwise why it was not.
    pub error: Option<String>,
}

/// `POST /v1/apply`: replace the project with the text of a `bellwether.yaml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApplyRequest {
    /// The file's name, for error messages.
    pub file: String,
    pub source: String,
    /// Remove the services the file leaves out; without it they are kept.
    #[serde(default)]
    pub prune: bool,
}

/// What `apply` changed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ApplySummary {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: Vec<String>,
    /// Services the file leaves out, kept because the apply did not prune.
    #[serde(default)]
    pub kept: Vec<String>,
}

/// One line of `bellwether list`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceSummary {
    pub name: String,
    pub phase: Phase,
    pub strategy: String,
    pub stable: Option<Revision>,
    /// The revision being rolled out, if any.
    pub target: Option<Revision>,
    /// The target's share of traffic.
    pub target_weight: Weight,
    pub step: Option<StepView>,
    pub reason: String,
    /// Where the service's router listens.
    pub listen: Option<SocketAddr>,
    /// Replicas ready, and wanted, across the service's revisions.
    #[serde(default)]
    pub ready: u32,
    #[serde(default)]
    pub desired: u32,
}

/// Everything `bellwether get SERVICE` shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceView {
    pub name: String,
    pub phase: Phase,
    /// Why the rollout is where it is, in a sentence.
    pub reason: String,
    pub strategy: String,
    pub stage: Stage,
    pub step: Option<StepView>,
    /// Every step of the canary strategy the rollout follows, described; empty for others.
    #[serde(default)]
    pub steps: Vec<String>,
    pub stable: Option<Revision>,
    pub target: Option<Revision>,
    pub listen: Option<SocketAddr>,
    /// The blue-green preview listener, when the service has one.
    pub preview_listen: Option<SocketAddr>,
    pub revisions: Vec<RevisionView>,
    pub analyses: Vec<AnalysisView>,
    /// Why the cluster's objects do not route as the rollout stands yet, for a service the
    /// cluster routes: the last write's failure. It is tried again, and the rollout's next
    /// actions (a scale-down, its next step) wait for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_pending: Option<String>,
    /// The instant of the last event applied.
    pub updated_at: Timestamp,
}

/// The current canary step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepView {
    /// Zero-based.
    pub index: usize,
    pub total: usize,
    /// E.g. `set weight 10%`, `pause 1m`, `analysis`.
    pub description: String,
}

/// A revision the platform runs or the router knows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RevisionView {
    pub number: RevisionNumber,
    pub version: String,
    pub role: RevisionRole,
    pub weight: Weight,
    /// Replicas wanted.
    pub desired: u32,
    pub ready: u32,
    pub replicas: Vec<ReplicaView>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevisionRole {
    Stable,
    Canary,
    Preview,
    /// Scaling down, or kept warm for an instant undo.
    Old,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplicaView {
    pub index: u32,
    pub addr: Option<SocketAddr>,
    pub pid: Option<u32>,
    /// `starting`, `ready`, `unready`, `stopping`, `crashed`, … as the platform says.
    pub phase: String,
    pub restarts: u32,
}

/// One analysis run of the current rollout and its measurements.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalysisView {
    /// E.g. `background analysis #1`.
    pub run: String,
    pub revision: RevisionNumber,
    pub baseline: Option<RevisionNumber>,
    /// `None` while the run is going on.
    pub verdict: Option<Verdict>,
    pub message: String,
    /// Latest measurement of each metric first, then older ones, newest first.
    pub measurements: Vec<MeasurementView>,
    /// Each metric's values over time, for charts.
    #[serde(default)]
    pub series: Vec<SeriesView>,
}

/// One metric's measured values, oldest first, with the threshold they are held to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesView {
    pub metric: String,
    /// How values read: `ratio` (shown as %), `seconds`, `per_second`, `plain`.
    pub unit: Unit,
    /// The fixed limit of a `<`, `<=`, `>` or `>=` condition, in the metric's unit.
    pub threshold: Option<f64>,
    /// E.g. `<= 1%`.
    pub condition: String,
    pub points: Vec<PointView>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointView {
    pub at: Timestamp,
    pub value: Option<f64>,
    /// The confidence interval of the value, when it is judged on every request so far.
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub verdict: Verdict,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeasurementView {
    pub metric: String,
    pub at: Timestamp,
    pub verdict: Verdict,
    /// The value as people read it (`4.8%`, `182ms`), if one was measured.
    pub value: Option<String>,
    pub baseline: Option<String>,
    /// E.g. `<= 1%`.
    pub condition: String,
    /// Requests the value is based on, when it is a traffic metric.
    pub sample: Option<u64>,
    pub window_ms: Option<u64>,
    /// E.g. `error_rate 4.8% > 1% over last 30s (canary, 2,413 requests)`.
    pub message: String,
    pub dry_run: bool,
}

/// One event of a service's history, with what it did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Position in the service's event stream, from 1.
    pub seq: u64,
    pub at: Timestamp,
    /// The event's kind: `spec_changed`, `tick`, `replicas_ready`, `analysis_completed`, `command`.
    pub kind: String,
    /// What happened, one line per note the event produced (`step 2: pause 1m`, …).
    pub notes: Vec<String>,
    pub phase: Phase,
    /// Each revision's share of traffic after the event (basis points), for charts.
    #[serde(default)]
    pub weights: Vec<(RevisionNumber, Weight)>,
}

/// A revision kept in the service's history, for `undo --to-revision`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RevisionRecord {
    pub number: RevisionNumber,
    pub version: String,
    pub created_at: Timestamp,
    pub stable: bool,
}

/// What `GET /v1/events` streams (as SSE `data:` lines, one JSON object each): every event any
/// service's rollout accepted, after it is stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventView {
    pub service: String,
    pub seq: u64,
    pub at: Timestamp,
    pub kind: String,
    pub notes: Vec<String>,
    pub phase: Phase,
    /// Each revision's share of traffic after the event (basis points).
    #[serde(default)]
    pub weights: Vec<(RevisionNumber, Weight)>,
}

/// `GET /v1/health`: the control plane answers, and which version it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub version: String,
    /// On a standby, the API address of the control plane that leads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby_of: Option<String>,
}

/// The body of every 4xx/5xx answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
}
