//! The ReplicaSet controller: for each ReplicaSet, as many live pods as `spec.replicas`, made
//! from its template and owned by it; the extra ones deleted, least useful first (not ready
//! before ready, then the lowest `pod-deletion-cost`, then newest before oldest, as the real
//! controller ranks them); its status counted.

use serde_json::{Value, json};

use crate::api::suffix;
use crate::resource::{Key, Resource};
use crate::store::{Selector, Store, owner_uids};

/// Runs until the store's change feed ends.
pub(crate) async fn run(store: Store) {
    let mut changed = store.changed();
    loop {
        reconcile(&store);
        if changed.changed().await.is_err() {
            return;
        }
    }
}

fn reconcile(store: &Store) {
    let (sets, _) = store.list(Resource::ReplicaSets, None, &Selector::default());
    for set in sets {
        if !set["metadata"]["deletionTimestamp"].is_null() {
            continue;
        }
        reconcile_one(store, &set);
    }
}

fn reconcile_one(store: &Store, set: &Value) {
    let namespace = set["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = set["metadata"]["name"].as_str().unwrap_or_default();
    let uid = set["metadata"]["uid"].as_str().unwrap_or_default();
    let wanted = set["spec"]["replicas"].as_u64().unwrap_or(1) as usize;
    let (pods, _) = store.list(Resource::Pods, Some(namespace), &Selector::default());
    let mut owned: Vec<Value> = pods
        .into_iter()
        .filter(|pod| owner_uids(pod).any(|owner| owner == uid))
        .collect();
    owned.retain(|pod| pod["metadata"]["deletionTimestamp"].is_null());
    if owned.len() < wanted {
        for _ in owned.len()..wanted {
            create_pod(store, set, namespace, name, uid);
        }
    } else if owned.len() > wanted {
        owned.sort_by_key(|pod| {
            (
                is_ready(pod),
                deletion_cost(pod),
                std::cmp::Reverse(creation_order(pod)),
            )
        });
        for pod in &owned[..owned.len() - wanted] {
            let key = Key {
                resource: Resource::Pods,
                namespace: namespace.into(),
                name: pod["metadata"]["name"].as_str().unwrap_or_default().into(),
            };
            let _ = store.delete(&key, crate::store::Propagation::Background, None);
        }
    }
    let ready = owned.iter().filter(|pod| is_ready(pod)).count().min(wanted);
    let status = json!({
        "replicas": owned.len(),
        "fullyLabeledReplicas": owned.len().min(wanted),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": set["metadata"]["generation"],
    });
    let key = Key {
        resource: Resource::ReplicaSets,
        namespace: namespace.into(),
        name: name.into(),
    };
    let _ = store.update(&key, None, |set| {
        set["status"] = status;
        Ok(())
    });
}

fn create_pod(store: &Store, set: &Value, namespace: &str, name: &str, uid: &str) {
    let template = &set["spec"]["template"];
    let pod_name = format!("{name}-{}", suffix());
    let pod = json!({
        "metadata": {
            "name": pod_name,
            "generateName": format!("{name}-"),
            "labels": template["metadata"]["labels"],
            "annotations": template["metadata"]["annotations"],
            "ownerReferences": [{
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": name,
                "uid": uid,
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": template["spec"],
        "status": {"phase": "Pending"},
    });
    let key = Key {
        resource: Resource::Pods,
        namespace: namespace.into(),
        name: pod_name,
    };
    let _ = store.create(key, pod);
}

pub(crate) fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// `controller.kubernetes.io/pod-deletion-cost`: among pods alike, the lowest goes first.
fn deletion_cost(pod: &Value) -> i32 {
    pod["metadata"]["annotations"]["controller.kubernetes.io/pod-deletion-cost"]
        .as_str()
        .and_then(|cost| cost.parse().ok())
        .unwrap_or(0)
}

/// Objects are numbered as created; the uid carries the number.
fn creation_order(pod: &Value) -> String {
    pod["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
