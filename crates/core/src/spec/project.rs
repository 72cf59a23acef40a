//! A whole `bellwether.yaml`, validated.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    CheckSpec, DoraTargets, EnvironmentSpec, NotificationSpec, ServiceSpec, Trust, VerifySpec,
};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub services: BTreeMap<String, ServiceSpec>,
    pub environments: BTreeMap<String, EnvironmentSpec>,
    /// What the DORA figures are measured against.
    #[serde(default)]
    pub dora: DoraTargets,
    /// Who is told what happens.
    #[serde(default)]
    pub notifications: Vec<NotificationSpec>,
    /// Whose events run pipelines as written.
    #[serde(default)]
    pub trust: Trust,
    /// Named checks, for `bellwether check` and the suites.
    #[serde(default)]
    pub checks: BTreeMap<String, CheckSpec>,
    /// Named suites of checks, with their checks resolved.
    #[serde(default)]
    pub verify: BTreeMap<String, VerifySpec>,
    /// How `bellwether up` runs.
    #[serde(default)]
    pub server: Server,
}

/// How `bellwether up` runs, as the file says; its flags win.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Server {
    /// The PostgreSQL store's URL, without a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// How long finished pipeline runs and analysis records are kept.
    #[serde(default, skip_serializing_if = "Retention::keeps_all")]
    pub retention: Retention,
}

/// How long `bellwether up` keeps what piles up, each kind by its own age (`None`: forever).
/// A finished run older than `runs` goes with its logs and artifacts; `logs` and `artifacts`
/// may remove a run's files sooner. The latest run of each pipeline, runs not finished, the
/// rollouts' events and the audit trail are never removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs: Option<std::time::Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<std::time::Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<std::time::Duration>,
    /// Finished analysis runs (their measurements and verdicts), kept to explain rollouts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<std::time::Duration>,
}

impl Retention {
    /// Whether nothing is ever removed.
    pub fn keeps_all(&self) -> bool {
        *self == Retention::default()
    }

    /// How long a run's logs are kept: no longer than the run.
    pub fn logs(&self) -> Option<std::time::Duration> {
        sooner(self.logs, self.runs)
    }

    /// How long a run's artifacts are kept: no longer than the run.
    pub fn artifacts(&self) -> Option<std::time::Duration> {
        sooner(self.artifacts, self.runs)
    }
}

/// The shorter of two ages, either of which may be forever.
fn sooner(
    a: Option<std::time::Duration>,
    b: Option<std::time::Duration>,
) -> Option<std::time::Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
