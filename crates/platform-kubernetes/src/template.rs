//! A revision's objects as server-side apply writes them: its ReplicaSet, whose pod template
//! comes from the service's `RunSpec`, and the Secret its pods read their secrets from, so
//! that no value is in a pod spec in clear.

use std::collections::BTreeMap;
use std::time::Duration;

use bellwether_core::platform::ReplicaTemplate;
use bellwether_core::spec::Probe;
use serde_json::{Value, json};

use crate::names;

/// What every revision's pods share, from the platform's options.
#[derive(Clone, Debug)]
pub(crate) struct PodShape {
    pub container_port: u16,
    pub grace_period: Duration,
}

/// Why a template cannot be run on this platform.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "service {service:?} has no image: the kubernetes platform runs containers, so its `run` needs `image:` (the command is run in that image)"
    )]
    NoImage { service: String },
}

/// The labels of a revision's ReplicaSet and pods; its selector is all but the version.
pub(crate) fn labels(template: &ReplicaTemplate) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        (names::MANAGED_BY, names::MANAGER.to_owned()),
        (names::SERVICE, names::dns_label(&template.service, 63)),
        (names::REVISION, template.revision.to_string()),
        (names::VERSION, names::label_value(&template.version)),
    ])
}

fn selector(template: &ReplicaTemplate) -> Value {
    let mut labels = labels(template);
    labels.remove(names::VERSION);
    json!({ "matchLabels": labels })
}

fn annotations(template: &ReplicaTemplate) -> Value {
    json!({
        names::SERVICE_NAME: template.service,
        names::VERSION_NAME: template.version,
    })
}

/// The ReplicaSet of the template's revision with `replicas` pods.
pub(crate) fn replica_set(
    template: &ReplicaTemplate,
    replicas: u32,
    shape: &PodShape,
) -> Result<Value, TemplateError> {
    let Some(image) = template
        .run
        .image
        .as_deref()
        .filter(|i| !i.trim().is_empty())
    else {
        return Err(TemplateError::NoImage {
            service: template.service.clone(),
        });
    };
    let port = shape.container_port;
    let secret = names::revision_object(&template.service, template.revision);
    let mut env: Vec<Value> = template
        .run
        .env
        .iter()
        .filter(|(name, _)| **name != template.run.port_env)
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    env.extend([
        json!({"name": template.run.port_env, "value": port.to_string()}),
        json!({"name": "BELLWETHER_SERVICE", "value": template.service}),
        json!({"name": "BELLWETHER_REVISION", "value": template.revision.to_string()}),
        json!({"name": "BELLWETHER_VERSION", "value": template.version}),
        json!({"name": "BELLWETHER_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}),
    ]);
    env.extend(template.run.secrets.iter().map(
        |name| json!({"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": name}}}),
    ));
    let mut container = json!({
        "name": names::dns_label(&template.service, 63),
        "image": image,
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "env": env,
        "readinessProbe": probe(&template.readiness, port),
    });
    if !template.run.command.is_empty() {
        container["command"] = json!(template.run.command);
    }
    if let Some(dir) = &template.run.workdir {
        container["workingDir"] = json!(dir);
    }
    if let Some(liveness) = &template.liveness {
        container["livenessProbe"] = probe(liveness, port);
    }
    let labels = labels(template);
    Ok(json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": names::revision_object(&template.service, template.revision),
            "labels": labels,
            "annotations": annotations(template),
        },
        "spec": {
            "replicas": replicas,
            "selector": selector(template),
            "template": {
                "metadata": {"labels": labels, "annotations": annotations(template)},
                "spec": {
                    "terminationGracePeriodSeconds": shape.grace_period.as_secs(),
                    "containers": [container],
                },
            },
        },
    }))
}

/// The Secret holding the revision's secret values, owned by its ReplicaSet (`owner`: name
/// and uid) once that exists, so that it goes with it.
pub(crate) fn secret(
    template: &ReplicaTemplate,
    values: &BTreeMap<String, String>,
    owner: Option<(&str, &str)>,
) -> Value {
    let mut secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": names::revision_object(&template.service, template.revision),
            "labels": labels(template),
            "annotations": annotations(template),
        },
        "type": "Opaque",
        "stringData": values,
    });
    if let Some((name, uid)) = owner {
        secret["metadata"]["ownerReferences"] = json!([{
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": name,
            "uid": uid,
            "blockOwnerDeletion": true,
        }]);
    }
    secret
}

/// A probe as `httpGet` on the container's port; Kubernetes counts in whole seconds, at
/// least one.
fn probe(probe: &Probe, port: u16) -> Value {
    let seconds = |d: Duration| d.as_secs_f64().ceil().max(1.0) as u64;
    json!({
        "httpGet": {"path": probe.path, "port": port, "scheme": "HTTP"},
        "periodSeconds": seconds(probe.interval),
        "timeoutSeconds": seconds(probe.timeout),
        "initialDelaySeconds": probe.initial_delay.as_secs(),
        "failureThreshold": probe.failure_threshold.max(1),
        "successThreshold": probe.success_threshold.max(1),
    })
}

#[cfg(test)]
mod tests;
