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
}
