//! Metric providers: where a metric's value comes from. One trait, [`MetricProvider`], and one
//! folder per provider with the same shape (`provider.rs` does the measuring, `tests.rs` tests
//! what can be tested without a server; the real-server tests are in `tests/`):
//!
//! - `builtin`: the router's per-revision golden signals and the platform's CPU and memory;
//! - `prometheus`: PromQL instant and range queries over the HTTP API;
//! - `web`: an HTTP request whose JSON answer holds the value;
//! - `job`: a command whose exit status is the value;
//! - `verify`: a suite of checks against a ready replica of the revision, passed or failed.
//!
//! A provider answers with an [`Observation`] (a value, or "no data" and why) or a
//! [`ProviderError`], which the run retries up to the metric's consecutive error limit.

mod builtin;
mod job;
mod prometheus;
mod template;
mod verify;
mod web;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bellwether_core::rollout::RevisionNumber;
use bellwether_core::signal::{AddressSource, Change, ResourceSource, SignalSource};
use bellwether_core::spec::ProviderSpec;

use crate::value::{Observation, Role};

pub use builtin::BuiltinProvider;
pub use job::JobProvider;
pub use prometheus::{Prometheus, PrometheusProvider, QueryResult, RangeSeries};
use template::expand;
pub use verify::VerifyProvider;
pub use web::WebProvider;

/// A measurement under way.
pub type Measuring<'a> =
    Pin<Box<dyn Future<Output = Result<Observation, ProviderError>> + Send + 'a>>;

/// Measures one metric for one revision.
pub trait MetricProvider: Send + Sync {
    /// Measures what `spec` describes for the revision `target` names.
    fn measure<'a>(&'a self, spec: &'a ProviderSpec, target: &'a Target) -> Measuring<'a>;

    /// Taken just before a measurement: resolves once measuring `spec` for `target` may find
    /// data the measurement did not. `None` when the provider cannot tell (a query, a request,
    /// a command may answer differently at any time).
    fn watch(&self, spec: &ProviderSpec, target: &Target) -> Option<Change> {
        let _ = (spec, target);
        None
    }
}

/// The revision being measured, and what templates may refer to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub service: String,
    pub revision: RevisionNumber,
    pub role: Role,
    /// The analysis's canary revision, and the stable one it is compared with, if any: a job
    /// is told where to reach both.
    pub canary: RevisionNumber,
    pub stable: Option<RevisionNumber>,
    /// `{{args.NAME}}` in queries, URLs, bodies, headers and commands.
    pub args: BTreeMap<String, String>,
}

/// Why a provider could not measure. The messages carry what explains them: the URL, the
/// status, the command, the timeout.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("{0}")]
    Template(String),
    #[error("no revision {revision} of service `{service}` is known to the {source_name}")]
    UnknownRevision {
        source_name: &'static str,
        service: String,
        revision: RevisionNumber,
    },
    #[error("request to {url} failed: {reason}")]
    Request { url: String, reason: String },
    #[error("{url} answered HTTP {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("prometheus rejected the query ({kind}): {message}")]
    Prometheus { kind: String, message: String },
    #[error("unexpected answer from {url}: {reason}")]
    Decode { url: String, reason: String },
    #[error("could not start `{program}`: {reason}")]
    Spawn { program: String, reason: String },
    #[error("`{command}` did not finish within {timeout}; its process group was killed")]
    Timeout { command: String, timeout: String },
    #[error("`{command}` was killed by a signal{detail}")]
    Killed { command: String, detail: String },
    #[error("revision {revision} of service `{service}` has no ready replica to check")]
    NoAddress {
        service: String,
        revision: RevisionNumber,
    },
    #[error("the {provider} provider cannot measure a {kind} metric")]
    Mismatch {
        provider: &'static str,
        kind: &'static str,
    },
}

/// Every provider, chosen by the metric's provider spec.
#[derive(Clone)]
pub struct Providers {
    builtin: Arc<dyn MetricProvider>,
    prometheus: Arc<dyn MetricProvider>,
    web: Arc<dyn MetricProvider>,
    job: Arc<dyn MetricProvider>,
    verify: Arc<dyn MetricProvider>,
}

impl Providers {
    /// The standard providers, the builtin one reading `signals` and `resources`, the verify
    /// one checking the replicas `addresses` finds.
    pub fn new(
        signals: Arc<dyn SignalSource>,
        resources: Arc<dyn ResourceSource>,
        addresses: Arc<dyn AddressSource>,
    ) -> Self {
        let client = reqwest::Client::new();
        Self {
            builtin: Arc::new(BuiltinProvider::new(signals, resources)),
            prometheus: Arc::new(PrometheusProvider::new(client.clone())),
            web: Arc::new(WebProvider::new(client)),
            job: Arc::new(JobProvider::new(Arc::clone(&addresses))),
            verify: Arc::new(VerifyProvider::new(addresses)),
        }
    }

    fn for_spec(&self, spec: &ProviderSpec) -> &dyn MetricProvider {
        match spec {
            ProviderSpec::Builtin { .. } => self.builtin.as_ref(),
            ProviderSpec::Prometheus { .. } => self.prometheus.as_ref(),
            ProviderSpec::Web { .. } => self.web.as_ref(),
            ProviderSpec::Job { .. } => self.job.as_ref(),
            ProviderSpec::Verify { .. } => self.verify.as_ref(),
        }
    }
}

impl MetricProvider for Providers {
    fn measure<'a>(&'a self, spec: &'a ProviderSpec, target: &'a Target) -> Measuring<'a> {
        self.for_spec(spec).measure(spec, target)
    }

    fn watch(&self, spec: &ProviderSpec, target: &Target) -> Option<Change> {
        self.for_spec(spec).watch(spec, target)
    }
}

/// The name of a provider spec's kind, for messages.
fn kind(spec: &ProviderSpec) -> &'static str {
    match spec {
        ProviderSpec::Builtin { .. } => "builtin",
        ProviderSpec::Prometheus { .. } => "prometheus",
        ProviderSpec::Web { .. } => "web",
        ProviderSpec::Job { .. } => "job",
        ProviderSpec::Verify { .. } => "verify",
    }
}

/// An error with its causes, which is where reqwest says "connection refused".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(&format!(": {s}"));
        source = s.source();
    }
    out
}

/// The start of a body, for messages.
fn excerpt(body: &str) -> String {
    let trimmed = body.trim();
    match trimmed.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &trimmed[..at]),
        None => trimmed.to_owned(),
    }
}
