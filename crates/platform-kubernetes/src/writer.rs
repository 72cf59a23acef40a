//! Writing each revision's objects: one task per revision applies what it was last asked for
//! (server-side apply, forced, under the field manager), retrying with back-off on any
//! failure (a `409 Conflict` included) and reporting the failures; a revision scaled to no
//! pods keeps its ReplicaSet for `keep_scaled_down`, then deletes it (its Secret and any pod
//! left go with it, by their owner references). A revision is given more pods only once the
//! scale-downs asked of its service's other revisions before are written (`downs.rs`). At most
//! [`WRITES_IN_FLIGHT`] revisions write at once, whatever the number of services.

mod downs;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bellwether_core::platform::ReplicaPhase;
use bellwether_core::platform::ReplicaTemplate;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;
use tokio::sync::{Semaphore, watch};

use crate::Options;
use crate::names;
use crate::shared::{Failure, Shared};
use crate::template::{self, PodShape, TemplateError};

pub(crate) use downs::Downs;

/// The annotation by which the ReplicaSet controller picks the pods to delete: lowest first.
const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// How many revisions' writes are in flight at once. Without a bound, 10,000 services
/// deployed together would hold 10,000 requests, and the client as many connections to the
/// API server (HTTP/1.1 takes one per request in flight; each stays open, idle, for 90 s).
pub(crate) const WRITES_IN_FLIGHT: usize = 32;

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("cannot read the secrets of {service}: {message}")]
    Secrets { service: String, message: String },
    #[error("no secret source: {service} names secrets, but this platform was given none")]
    NoSecretSource { service: String },
    #[error("cannot write {object}")]
    Api {
        object: String,
        #[source]
        source: kube::Error,
    },
}

/// What a revision's task writes with.
pub(crate) struct Writer {
    pub sets: Api<ReplicaSet>,
    pub pods: Api<Pod>,
    pub secrets: Api<Secret>,
    pub shared: Arc<Shared>,
    pub options: Options,
    pub downs: Downs,
    /// [`WRITES_IN_FLIGHT`] permits: a revision's write (or deletion) holds one.
    pub in_flight: Semaphore,
}

/// What a revision was last asked for.
pub(crate) type Desired = Option<(ReplicaTemplate, u32)>;

impl Writer {
    fn apply_params(&self) -> PatchParams {
        PatchParams::apply(&self.options.field_manager).force()
    }

    async fn write(&self, template: &ReplicaTemplate, replicas: u32) -> Result<(), WriteError> {
        let shape = PodShape {
            container_port: self.options.container_port,
            grace_period: self.options.grace_period,
        };
        let set = template::replica_set(template, replicas, &shape)?;
        let name = names::revision_object(&template.service, template.revision);
        if replicas == 0 {
            // None asked of a revision that has no ReplicaSet (deleted already): nothing runs.
            let existing = self
                .sets
                .get_opt(&name)
                .await
                .map_err(|source| api_error(format!("ReplicaSet {name}"), source))?;
            if existing.is_none() {
                return Ok(());
            }
        }
        let values = self.secret_values(template)?;
        if let Some(values) = &values {
            let secret = template::secret(template, values, None);
            self.secrets
                .patch(&name, &self.apply_params(), &Patch::Apply(&secret))
                .await
                .map_err(|source| api_error(format!("Secret {name}"), source))?;
        }
        self.mark_the_ones_to_go(template, replicas).await?;
        let written = self
            .sets
            .patch(&name, &self.apply_params(), &Patch::Apply(&set))
            .await
            .map_err(|source| api_error(format!("ReplicaSet {name}"), source))?;
        if let (Some(values), Some(uid)) = (&values, written.metadata.uid.as_deref()) {
            let secret = template::secret(template, values, Some((&name, uid)));
            self.secrets
                .patch(&name, &self.apply_params(), &Patch::Apply(&secret))
                .await
                .map_err(|source| api_error(format!("Secret {name}"), source))?;
        }
        Ok(())
    }

    /// Before fewer pods are asked for, the ones with the highest indexes get a lower
    /// `pod-deletion-cost`, which the ReplicaSet controller deletes first among pods alike
    /// (it deletes pods not ready before ready ones whatever their cost).
    async fn mark_the_ones_to_go(
        &self,
        template: &ReplicaTemplate,
        replicas: u32,
    ) -> Result<(), WriteError> {
        let going = self
            .shared
            .replicas(&template.service, Some(template.revision))
            .into_iter()
            .filter(|r| r.index >= replicas && r.phase != ReplicaPhase::Stopping);
        for replica in going {
            let cost = -(i64::from(replica.index) + 1);
            let patch = json!({"metadata": {"annotations": {DELETION_COST: cost.to_string()}}});
            let patched = self
                .pods
                .patch(
                    &replica.name,
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await;
            match patched {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(source) => return Err(api_error(format!("Pod {}", replica.name), source)),
            }
        }
        Ok(())
    }

    fn secret_values(
        &self,
        template: &ReplicaTemplate,
    ) -> Result<Option<BTreeMap<String, String>>, WriteError> {
        if template.run.secrets.is_empty() {
            return Ok(None);
        }
        let Some(source) = &self.options.secrets else {
            return Err(WriteError::NoSecretSource {
                service: template.service.clone(),
            });
        };
        source
            .values(template.environment.as_deref(), &template.run.secrets)
            .map(Some)
            .map_err(|message| WriteError::Secrets {
                service: template.service.clone(),
                message,
            })
    }

    /// Deletes the revision's ReplicaSet; one already gone is deleted.
    pub(crate) async fn delete(
        &self,
        name: &str,
        params: &DeleteParams,
    ) -> Result<(), kube::Error> {
        match self.sets.delete(name, params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(error) => Err(error),
        }
    }
}

fn api_error(object: String, source: kube::Error) -> WriteError {
    WriteError::Api { object, source }
}

/// A revision's task: writes what it is asked for until the sender is dropped.
pub(crate) async fn run(writer: Arc<Writer>, mut desired: watch::Receiver<Desired>) {
    // The pods last written: a new revision has none.
    let mut written = 0;
    loop {
        let asked = desired.borrow_and_update().clone();
        if let Some((template, replicas)) = asked {
            let grows = replicas > written;
            match write_until_done(&writer, &template, replicas, grows, &mut desired).await {
                Written::Done => written = replicas,
                Written::Superseded => continue,
                Written::Closed => return,
            }
            if replicas == 0 {
                let keep = tokio::time::sleep(writer.options.keep_scaled_down);
                tokio::select! {
                    () = keep => remove(&writer, &template, &mut desired).await,
                    changed = desired.changed() => match changed {
                        Ok(()) => continue,
                        Err(_) => return,
                    },
                }
            }
        }
        if desired.changed().await.is_err() {
            return;
        }
    }
}

enum Written {
    Done,
    /// Asked for something else meanwhile.
    Superseded,
    /// The platform stopped looking after the revision.
    Closed,
}

/// Writes until it lands or the revision is asked for something else.
/// A write that gives the revision more pods than `grows` says it had waits for the
/// scale-downs of the service's other revisions.
async fn write_until_done(
    writer: &Writer,
    template: &ReplicaTemplate,
    replicas: u32,
    grows: bool,
    desired: &mut watch::Receiver<Desired>,
) -> Written {
    let (service, revision) = (&template.service, template.revision);
    let key = template.key();
    if grows {
        tokio::select! {
            () = writer.downs.none_before(&key) => {}
            changed = desired.changed() => {
                return if changed.is_err() { Written::Closed } else { Written::Superseded };
            }
        }
    }
    writer.shared.set_desired(service, revision, replicas);
    let mut retry = FIRST_RETRY;
    let mut attempts = 0;
    loop {
        // Waiting for a turn gives way to a new ask; a write begun is finished.
        let permit = tokio::select! {
            permit = writer.in_flight.acquire() => permit,
            changed = desired.changed() => {
                return if changed.is_err() { Written::Closed } else { Written::Superseded };
            }
        };
        let written = writer.write(template, replicas).await;
        drop(permit);
        match written {
            Ok(()) => {
                writer.shared.set_failure(service, revision, None);
                writer.downs.written(&key, replicas);
                return Written::Done;
            }
            Err(error) => {
                attempts += 1;
                let error = bellwether_core::error::chain(&error);
                tracing::warn!(service, revision, attempts, "{error}");
                let failure = Failure { attempts, error };
                writer.shared.set_failure(service, revision, Some(failure));
            }
        }
        tokio::select! {
            () = tokio::time::sleep(retry) => {}
            changed = desired.changed() => {
                if changed.is_err() {
                    return Written::Closed;
                }
                return Written::Superseded;
            }
        }
        retry = (retry * 2).min(LAST_RETRY);
    }
}

/// Deletes a revision kept scaled down, retrying until it is gone or asked for again.
async fn remove(
    writer: &Writer,
    template: &ReplicaTemplate,
    desired: &mut watch::Receiver<Desired>,
) {
    let name = names::revision_object(&template.service, template.revision);
    let mut retry = FIRST_RETRY;
    loop {
        let deleted = {
            let _permit = writer.in_flight.acquire().await;
            writer.delete(&name, &DeleteParams::background()).await
        };
        match deleted {
            Ok(()) => {
                writer.shared.forget(&template.service, template.revision);
                return;
            }
            Err(error) => {
                tracing::warn!(
                    object = name,
                    "cannot delete: {}",
                    bellwether_core::error::chain(&error)
                );
            }
        }
        tokio::select! {
            () = tokio::time::sleep(retry) => {}
            _ = desired.changed() => return,
        }
        retry = (retry * 2).min(LAST_RETRY);
    }
}
