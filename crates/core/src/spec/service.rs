//! A deployable service: how one of its revisions runs, how many replicas, how it is probed,
//! how it rolls out and how the rollout is judged.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{AnalysisRef, JudgeSpec, MetricSpec, Strategy, TrafficRouting, VerifySpec};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceSpec {
    pub name: String,
    pub replicas: u32,
    pub run: RunSpec,
    pub readiness: Probe,
    pub liveness: Option<Probe>,
    pub strategy: Strategy,
    /// The service's analysis metrics, by name; strategies refer to them.
    pub metrics: Vec<MetricSpec>,
    /// The canary-versus-baseline judge over some of `metrics`, which analyses may ask for.
    /// Absent in specs recorded before the judge existed, hence the default.
    #[serde(default)]
    pub judge: Option<JudgeSpec>,
    /// A rollout that makes no progress for this long (e.g. replicas never become ready) aborts.
    pub progress_deadline: Duration,
    /// How many old revisions are kept for `undo`.
    pub revision_history_limit: u32,
    /// The environments this service may be deployed to; empty allows any.
    pub environments: Vec<String>,
    /// Services that must be running before this one starts (they start first, and an
    /// emergency rollback of everything undoes this one before them).
    pub depends_on: Vec<String>,
    /// Where the service's router listens; `None` picks a free port on 127.0.0.1.
    /// Absent in specs recorded before listeners were configurable, hence the default.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// Where a blue-green preview is served, when set.
    #[serde(default)]
    pub preview_listen: Option<SocketAddr>,
    /// The suites of checks its analyses run ([`AnalysisRef::verify`]), copied from the
    /// project's so that a revision keeps the checks it was deployed with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verify: Vec<VerifySpec>,
    /// Run against the stable revision after an abort sent all traffic back to it: whether the
    /// service is healthy again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_rollback_analysis: Option<AnalysisRef>,
    /// Where the routing table lives. Absent in specs recorded before cluster traffic existed.
    #[serde(default, skip_serializing_if = "TrafficRouting::is_embedded")]
    pub traffic: TrafficRouting,
}

impl ServiceSpec {
    pub fn metric(&self, name: &str) -> Option<&MetricSpec> {
        self.metrics.iter().find(|m| m.name == name)
    }

    pub fn suite(&self, name: &str) -> Option<&VerifySpec> {
        self.verify.iter().find(|s| s.name == name)
    }
}

/// How a revision runs on the local platform. Kubernetes adapters read `image` instead.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSpec {
    /// Program and arguments.
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Secrets given to each replica as environment variables of the same names: the
    /// environment's own when the revision was deployed to one, else the project's. Only the
    /// names are kept with a revision; the values are read when a replica starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    pub workdir: Option<String>,
    /// The environment variable through which a replica learns the port it must listen on.
    pub port_env: String,
    /// Container image, for platforms that run images.
    pub image: Option<String>,
}

/// An HTTP probe of one replica.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    pub path: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub initial_delay: Duration,
    /// Consecutive failures before the replica is considered unready (or dead, for liveness).
    pub failure_threshold: u32,
    pub success_threshold: u32,
}

impl Probe {
    pub fn http(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            initial_delay: Duration::ZERO,
            failure_threshold: 3,
            success_threshold: 1,
        }
    }
}
