//! How a revision runs, fixed when it is deployed: the service's `run` with the deploy's
//! overrides. It is stored with the revision, so a later config change or an undo never
//! changes what an existing revision is.

use bellwether_api::DeployRequest;
use bellwether_core::platform::ReplicaTemplate;
use bellwether_core::rollout::{Revision, RevisionNumber};
use bellwether_core::spec::{RunSpec, ServiceSpec};
use bellwether_store::StoredRevision;
use serde::{Deserialize, Serialize};

use crate::ControlError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct RevisionTemplate {
    pub(crate) run: RunSpec,
    /// The environment it was deployed to: its replicas get that environment's secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) environment: Option<String>,
}

impl RevisionTemplate {
    /// The template of a new revision of `service` as `request` asks for it.
    pub(crate) fn for_deploy(
        service: &ServiceSpec,
        request: &DeployRequest,
    ) -> Result<Self, ControlError> {
        let mut run = service.run.clone();
        for (name, value) in &request.env {
            if name.is_empty() || name.contains(['=', '\0']) {
                return Err(ControlError::Invalid(format!(
                    "`{name}` is not an environment variable name (expected e.g. LOG_LEVEL=debug)"
                )));
            }
            if *name == run.port_env {
                return Err(ControlError::Invalid(format!(
                    "{name} is set by bellwether to each replica's own port (expected another variable)"
                )));
            }
            run.env.insert(name.clone(), value.clone());
        }
        if let Some(command) = &request.command {
            if command.is_empty() {
                return Err(ControlError::Invalid(
                    "the command is empty (expected a program and its arguments)".to_owned(),
                ));
            }
            run.command = command.clone();
        }
        if run.command.is_empty() {
            return Err(ControlError::Invalid(format!(
                "service `{}` has no `run.command`, and the local platform runs processes (expected a command in bellwether.yaml or with the deploy)",
                service.name
            )));
        }
        Ok(Self {
            run,
            environment: request.environment.clone(),
        })
    }

    pub(crate) fn to_json(&self) -> Result<serde_json::Value, ControlError> {
        serde_json::to_value(self).map_err(ControlError::EncodeRevision)
    }
}

/// A stored revision as the controller keeps it, its template decoded once: as a JSON value it
/// would take several times the memory, and a service keeps up to its history limit of them.
#[derive(Clone, Debug)]
pub(crate) struct KeptRevision {
    pub(crate) number: RevisionNumber,
    pub(crate) version: String,
    pub(crate) created_at_ms: u64,
    /// Why the stored template cannot be read, if it cannot.
    template: Result<RevisionTemplate, String>,
}

impl From<StoredRevision> for KeptRevision {
    fn from(stored: StoredRevision) -> Self {
        let template = serde_json::from_value(stored.template).map_err(|e| {
            format!(
                "the stored template of revision {} is unreadable: {e}",
                stored.number
            )
        });
        Self {
            number: stored.number,
            version: stored.version,
            created_at_ms: stored.created_at_ms,
            template,
        }
    }
}

impl KeptRevision {
    pub(crate) fn revision(&self) -> Revision {
        Revision {
            number: self.number,
            version: self.version.clone(),
        }
    }

    /// What the platform needs to run replicas of this revision of `service`.
    pub(crate) fn replica(&self, service: &ServiceSpec) -> Result<ReplicaTemplate, String> {
        let template = self.template.as_ref().map_err(Clone::clone)?;
        Ok(ReplicaTemplate {
            service: service.name.clone(),
            revision: self.number,
            version: self.version.clone(),
            run: template.run.clone(),
            readiness: service.readiness.clone(),
            liveness: service.liveness.clone(),
            environment: template.environment.clone(),
        })
    }
}
