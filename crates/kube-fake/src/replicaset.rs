//! The ReplicaSet controller: for each ReplicaSet, as many live pods as `spec.replicas`, made
//! from its template and owned by it; the extra ones deleted, least useful first (not ready
//! before ready, then the lowest `pod-deletion-cost`, then newest before oldest, as the real
//! controller ranks them); its status counted.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::api::suffix;
use crate::resource::{Key, Resource};
use crate::store::{Store, owner_uids};

/// Runs until the store's change feed ends.
pub(crate) async fn run(store: Store) {
    store.on_changes(|| reconcile(&store)).await;
}

/// What a pass does to one ReplicaSet, decided under the store's lock.
struct Work {
    key: Key,
    uid: String,
    /// The ReplicaSet itself when pods are to be made from its template.
    set: Option<Value>,
    create: usize,
    delete: Vec<String>,
    /// Its new status, when it changed.
    status: Option<Value>,
}

/// A live pod as the controller ranks it.
struct Owned<'a> {
    name: &'a str,
    ready: bool,
    cost: i32,
    /// Objects are numbered as created; the uid carries the number.
    order: &'a str,
}

fn reconcile(store: &Store) {
    let work = store.read(|objects| {
        let mut owned: HashMap<&str, Vec<Owned<'_>>> = HashMap::new();
        for (key, pod) in objects {
            if key.resource != Resource::Pods || !pod["metadata"]["deletionTimestamp"].is_null() {
                continue;
            }
            for owner in owner_uids(pod) {
                owned.entry(owner).or_default().push(Owned {
                    name: &key.name,
                    ready: is_ready(pod),
                    cost: deletion_cost(pod),
                    order: pod["metadata"]["uid"].as_str().unwrap_or_default(),
                });
            }
        }
        objects
            .iter()
            .filter(|(key, set)| {
                key.resource == Resource::ReplicaSets
                    && set["metadata"]["deletionTimestamp"].is_null()
            })
            .filter_map(|(key, set)| {
                let uid = set["metadata"]["uid"].as_str().unwrap_or_default();
                plan(key, set, owned.remove(uid).unwrap_or_default())
            })
            .collect::<Vec<Work>>()
    });
    for work in work {
        if let Some(set) = &work.set {
            for _ in 0..work.create {
                create_pod(store, set, &work.key, &work.uid);
            }
        }
        for name in work.delete {
            let key = Key {
                resource: Resource::Pods,
                namespace: work.key.namespace.clone(),
                name,
            };
            let _ = store.delete(&key, crate::store::Propagation::Background, None);
        }
        if let Some(status) = work.status {
            let _ = store.update(&work.key, None, |set| {
                set["status"] = status;
                Ok(())
            });
        }
    }
}

/// What `set` needs, given its live pods; `None` when nothing.
fn plan(key: &Key, set: &Value, mut owned: Vec<Owned<'_>>) -> Option<Work> {
    let wanted = set["spec"]["replicas"].as_u64().unwrap_or(1) as usize;
    let create = wanted.saturating_sub(owned.len());
    let mut delete = Vec::new();
    if owned.len() > wanted {
        owned.sort_by_key(|pod| (pod.ready, pod.cost, std::cmp::Reverse(pod.order)));
        let extra = owned.len() - wanted;
        delete.extend(owned[..extra].iter().map(|pod| pod.name.to_owned()));
    }
    let ready = owned.iter().filter(|pod| pod.ready).count().min(wanted);
    let status = json!({
        "replicas": owned.len(),
        "fullyLabeledReplicas": owned.len().min(wanted),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": set["metadata"]["generation"],
    });
    let status = (set["status"] != status).then_some(status);
    if create == 0 && delete.is_empty() && status.is_none() {
        return None;
    }
    Some(Work {
        key: key.clone(),
        uid: set["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        set: (create > 0).then(|| set.clone()),
        create,
        delete,
        status,
    })
}

fn create_pod(store: &Store, set: &Value, key: &Key, uid: &str) {
    let (namespace, name) = (&key.namespace, &key.name);
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
        namespace: namespace.clone(),
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
