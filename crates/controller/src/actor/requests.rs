//! Requests from the API: deploy a new revision, command the rollout, undo, a changed spec.

use std::collections::BTreeSet;
use std::sync::Arc;

use bellwether_api::DeployRequest;
use bellwether_core::rollout::{Command, EventKind, Revision, RevisionNumber, RolloutSpec};
use bellwether_core::spec::ServiceSpec;

use super::Actor;
use crate::dora::{self, Deployed};
use crate::listener::Routers;
use crate::shared::lock;
use crate::template::RevisionTemplate;
use crate::{ControlError, history};

impl Actor {
    /// Stores a new revision and starts rolling it out.
    pub(super) async fn deploy(&mut self, request: DeployRequest) -> Result<(), ControlError> {
        let version = request.version.trim().to_owned();
        if version.is_empty() {
            return Err(ControlError::Invalid(
                "a deploy needs a version (expected e.g. `--version v2`)".to_owned(),
            ));
        }
        let template = RevisionTemplate::for_deploy(&self.spec, &request)?;
        self.secrets_set(&template)?;
        let template = template.to_json()?;
        let store = Arc::clone(&self.context.store);
        let service = self.service.clone();
        let at = self.context.clock.now();
        let DeployRequest {
            environment,
            commit,
            ..
        } = request;
        let stored = self
            .context
            .blocking(move || {
                let stored = store.add_revision(&service, &version, &template, at.as_millis())?;
                let deployed = Deployed {
                    revision: stored.number,
                    environment,
                    commit,
                };
                dora::record(store.as_ref(), &service, &deployed, at)?;
                Ok(stored)
            })
            .await?;
        let revision = stored.revision();
        lock(&self.shared).revisions.push(stored.into());
        let spec = RolloutSpec::from(&*self.spec);
        self.submit_at(at, EventKind::SpecChanged { revision, spec })
            .await
    }

    /// Refuses a deploy whose replicas would not start for want of a secret.
    fn secrets_set(&self, template: &RevisionTemplate) -> Result<(), ControlError> {
        let names = &template.run.secrets;
        if names.is_empty() {
            return Ok(());
        }
        let Some(source) = &self.context.secrets else {
            return Err(ControlError::Invalid(format!(
                "service `{}` needs secrets ({}), and this control plane has no secret store",
                self.service,
                names.join(", ")
            )));
        };
        source
            .values(template.environment.as_deref(), names)
            .map(|_| ())
            .map_err(|why| ControlError::Invalid(format!("service `{}`: {why}", self.service)))
    }

    pub(super) async fn command(
        &mut self,
        command: Command,
        by: String,
    ) -> Result<(), ControlError> {
        let command = match command {
            // The revision as stored, whatever version the caller named with it.
            Command::Undo { to } => Command::Undo {
                to: self.stored_revision(to.number)?,
            },
            other => other,
        };
        self.submit(EventKind::Command { command, by }).await
    }

    /// Goes back to revision `to`; by default to the stable revision while a rollout is in
    /// progress or aborted, and otherwise to the revision that was stable before it.
    pub(super) async fn undo(
        &mut self,
        to: Option<RevisionNumber>,
        by: String,
    ) -> Result<(), ControlError> {
        let rollout = &self.log.rollout;
        let to = match to {
            Some(number) => self.stored_revision(number)?,
            None if rollout.in_progress() || rollout.aborted => {
                rollout.stable.clone().ok_or_else(|| {
                    ControlError::Invalid(format!(
                        "nothing to undo to: no revision of `{}` has been stable yet",
                        self.service
                    ))
                })?
            }
            None => self.previous_stable().await?,
        };
        self.command(Command::Undo { to }, by).await
    }

    /// The revision that was stable before the current one.
    async fn previous_stable(&self) -> Result<Revision, ControlError> {
        let Some(current) = self.log.rollout.stable.clone() else {
            return Err(ControlError::Invalid(format!(
                "nothing to undo: no revision of `{}` has been deployed",
                self.service
            )));
        };
        if let Some(previous) = &self.log.rollout.previous {
            return Ok(previous.clone());
        }
        let store = Arc::clone(&self.context.store);
        let service = self.service.clone();
        let stables = self
            .context
            .blocking(move || history::stables(store.as_ref(), &service))
            .await?;
        let previous = stables
            .into_iter()
            .rev()
            .find(|r| r.number != current.number)
            .ok_or_else(|| {
                ControlError::Invalid(format!(
                    "nothing to undo: {current} is the only revision of `{}` that has been stable",
                    self.service
                ))
            })?;
        self.stored_revision(previous.number)
    }

    /// A revision still kept in the service's history.
    fn stored_revision(&self, number: RevisionNumber) -> Result<Revision, ControlError> {
        let shared = lock(&self.shared);
        if let Some(stored) = shared.revisions.iter().find(|r| r.number == number) {
            return Ok(stored.revision());
        }
        let kept: Vec<String> = shared
            .revisions
            .iter()
            .map(|r| r.number.to_string())
            .collect();
        let kept = if kept.is_empty() {
            "none".to_owned()
        } else {
            kept.join(", ")
        };
        Err(ControlError::Invalid(format!(
            "revision {number} of `{}` is not in its revision history (kept: {kept})",
            self.service
        )))
    }

    /// A changed spec: a new replica count or strategy applies to the rollout in progress (or
    /// to the stable revision), a changed `run` to the next deploy.
    pub(super) async fn respec(
        &mut self,
        spec: ServiceSpec,
        routers: Routers,
    ) -> Result<(), ControlError> {
        let spec = Arc::new(spec);
        self.spec = Arc::clone(&spec);
        self.routers = routers;
        lock(&self.shared).spec = spec;
        let rollout = &self.log.rollout;
        let wanted = RolloutSpec::from(&*self.spec);
        let revision = match (rollout.in_progress(), rollout.aborted) {
            (true, _) => rollout.target.clone(),
            (false, false) => rollout.stable.clone(),
            // An aborted rollout is left for a person to look at; the next deploy or undo
            // uses the new spec.
            (false, true) => None,
        };
        let changed = rollout.spec.as_ref() != Some(&wanted);
        self.route();
        self.route_cluster().await;
        match revision {
            Some(revision) if changed => {
                self.submit(EventKind::SpecChanged {
                    revision,
                    spec: wanted,
                })
                .await
            }
            _ => Ok(()),
        }
    }

    /// Stops the analysis runs and, for a service that is removed, its replicas.
    pub(super) async fn stop(&mut self, scale_to_zero: bool) {
        let runs = std::mem::take(&mut lock(&self.shared).runs);
        for run in runs {
            run.handle.stop().await;
        }
        if scale_to_zero {
            let running = self.replicas.keys();
            let wanted = self.log.rollout.scales.keys();
            let revisions: BTreeSet<RevisionNumber> = running.chain(wanted).copied().collect();
            for revision in revisions {
                self.scale(revision, 0);
            }
        }
    }
}
