//! The cluster's objects, as the API server keeps them in etcd: JSON documents by resource,
//! namespace and name, one resourceVersion counter for everything, and the history of changes
//! that watches replay from (until a script compacts it, as etcd does).

mod selector;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

pub(crate) use selector::Selector;

use crate::resource::{Key, Resource};
use crate::status::Status;
use crate::time::Now;

/// How many changes the store keeps for watches to replay before it forgets the oldest.
const HISTORY: usize = 20_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

impl ChangeKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change, as a watch sends it: the object as it was after the change (before it, for a
/// deletion, with the deletion's resourceVersion).
#[derive(Clone, Debug)]
pub(crate) struct Change {
    pub rv: u64,
    pub key: Key,
    pub kind: ChangeKind,
    pub object: Value,
}

/// How a deletion treats the objects that name the deleted one as their owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Propagation {
    /// Delete the owner now; the collector deletes its dependents after.
    Background,
    /// Delete the dependents first; the owner goes once none is left.
    Foreground,
    /// Delete the owner and leave the dependents, without their reference to it.
    Orphan,
}

#[derive(Default)]
struct Objects {
    objects: BTreeMap<Key, Value>,
    rv: u64,
    history: VecDeque<Arc<Change>>,
    /// Watches from a resourceVersion below this get `410 Gone`.
    oldest: u64,
    /// Every change but a pod's (the kubelet changes pods all the time), never compacted:
    /// what tests read back to see what was written, in order.
    journal: Vec<Arc<Change>>,
    uids: u64,
}

/// The object store: every API call and both controllers go through it.
#[derive(Clone)]
pub(crate) struct Store {
    inner: Arc<Mutex<Objects>>,
    changes: broadcast::Sender<Arc<Change>>,
    /// The latest resourceVersion, for the controllers to wake on.
    latest: watch::Sender<u64>,
    now: Now,
}

/// What a watch starts from: the changes it must replay, and the live ones after them.
pub(crate) struct Subscription {
    pub replay: Vec<Arc<Change>>,
    pub live: broadcast::Receiver<Arc<Change>>,
    /// The resourceVersion the replay is complete up to.
    pub rv: u64,
}

impl Objects {
    /// The objects of a resource in a namespace (every namespace: `None`) matching `selector`.
    fn matching(
        &self,
        resource: Resource,
        namespace: Option<&str>,
        selector: &Selector,
    ) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|(key, _)| key.resource == resource)
            .filter(|(key, _)| namespace.is_none_or(|ns| key.namespace == ns))
            .filter(|(_, object)| selector.matches(object))
            .map(|(_, object)| object.clone())
            .collect()
    }
}

impl Store {
    pub(crate) fn new(now: Now) -> Self {
        let (changes, _) = broadcast::channel(4096);
        Self {
            inner: Arc::new(Mutex::new(Objects {
                oldest: 1,
                ..Objects::default()
            })),
            changes,
            latest: watch::Sender::new(0),
            now,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Objects> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Wakes on every change; the controllers are level-triggered, so only the latest counts.
    pub(crate) fn changed(&self) -> watch::Receiver<u64> {
        self.latest.subscribe()
    }

    /// Runs a controller's `pass` now and after each change, until the store is gone. Each pass
    /// is followed by a rest as long as it took: passes are level-triggered and take every
    /// change since the last in, so on a store of tens of thousands of objects, where a pass
    /// takes milliseconds, the controllers leave the lock and the runtime's threads to the API
    /// server at least half the time instead of sweeping again after every change.
    pub(crate) async fn on_changes(&self, mut pass: impl FnMut()) {
        let mut changed = self.changed();
        loop {
            let started = std::time::Instant::now();
            pass();
            tokio::time::sleep(started.elapsed()).await;
            if changed.changed().await.is_err() {
                return;
            }
        }
    }

    pub(crate) fn get(&self, key: &Key) -> Option<Value> {
        self.lock().objects.get(key).cloned()
    }

    /// The objects of a resource in a namespace (every namespace: `None`) matching `selector`,
    /// and the resourceVersion the list is consistent at.
    pub(crate) fn list(
        &self,
        resource: Resource,
        namespace: Option<&str>,
        selector: &Selector,
    ) -> (Vec<Value>, u64) {
        let objects = self.lock();
        let items = objects.matching(resource, namespace, selector);
        (items, objects.rv)
    }

    /// The changes after `rv` and the live ones to follow, or `410 Gone` when the history
    /// from `rv` on has been compacted away.
    pub(crate) fn subscribe(&self, rv: u64) -> Result<Subscription, Status> {
        let objects = self.lock();
        if rv.saturating_add(1) < objects.oldest {
            return Err(Status::gone(format!(
                "too old resource version: {rv} ({})",
                objects.oldest - 1
            )));
        }
        let replay = objects
            .history
            .iter()
            .filter(|change| change.rv > rv)
            .cloned()
            .collect();
        Ok(Subscription {
            replay,
            live: self.changes.subscribe(),
            rv: objects.rv,
        })
    }

    /// The current objects as a watch from "now" starts with them, and the live changes.
    pub(crate) fn subscribe_now(
        &self,
        resource: Resource,
        namespace: Option<&str>,
        selector: &Selector,
    ) -> (Vec<Value>, Subscription) {
        let objects = self.lock();
        let items = objects.matching(resource, namespace, selector);
        let subscription = Subscription {
            replay: Vec::new(),
            live: self.changes.subscribe(),
            rv: objects.rv,
        };
        (items, subscription)
    }

    /// Forgets the history up to now: a watch from an older resourceVersion gets `410 Gone`.
    pub(crate) fn compact(&self) {
        let mut objects = self.lock();
        objects.history.clear();
        objects.oldest = objects.rv + 1;
    }

    /// Creates `object` at `key`, filling in what the server owns (uid, resourceVersion,
    /// creation time, generation); a name taken is `409 AlreadyExists`.
    pub(crate) fn create(&self, key: Key, mut object: Value) -> Result<Value, Status> {
        let mut objects = self.lock();
        if objects.objects.contains_key(&key) {
            return Err(Status::already_exists(&key));
        }
        objects.uids += 1;
        let uid = format!("00000000-0000-4000-8000-{:012x}", objects.uids);
        let (api_version, kind) = key.resource.type_meta();
        object["apiVersion"] = json!(api_version);
        object["kind"] = json!(kind);
        let metadata = metadata_of(&mut object);
        metadata.insert("name".into(), json!(key.name));
        metadata.insert("namespace".into(), json!(key.namespace));
        metadata.insert("uid".into(), json!(uid));
        metadata.insert("creationTimestamp".into(), json!(self.now.seconds()));
        if key.resource.has_generation() {
            metadata.insert("generation".into(), json!(1));
        }
        for server_owned in ["deletionTimestamp", "deletionGracePeriodSeconds"] {
            metadata.remove(server_owned);
        }
        Ok(self.commit(&mut objects, key, ChangeKind::Added, object))
    }

    /// Replaces the object at `key` with what `change` makes of it, if its resourceVersion is
    /// `expected` (any, when `None`): otherwise `409 Conflict`. A change that changes nothing
    /// keeps the resourceVersion, as the API server does.
    pub(crate) fn update(
        &self,
        key: &Key,
        expected: Option<u64>,
        change: impl FnOnce(&mut Value) -> Result<(), Status>,
    ) -> Result<Value, Status> {
        let mut objects = self.lock();
        let Some(current) = objects.objects.get(key) else {
            return Err(Status::not_found(key));
        };
        let current_rv = resource_version(current);
        if let Some(expected) = expected
            && expected != current_rv
        {
            return Err(Status::conflict(
                key,
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
        let mut updated = current.clone();
        change(&mut updated)?;
        if updated == *current {
            return Ok(updated);
        }
        if key.resource.has_generation() && updated.get("spec") != current.get("spec") {
            let generation = current["metadata"]["generation"].as_u64().unwrap_or(0);
            updated["metadata"]["generation"] = json!(generation + 1);
        }
        Ok(self.commit(&mut objects, key.clone(), ChangeKind::Modified, updated))
    }

    /// Removes the object at `key` at once (finalizers done, or a pod its kubelet stopped).
    pub(crate) fn remove(&self, key: &Key) -> Option<Value> {
        let mut objects = self.lock();
        let object = objects.objects.get(key)?.clone();
        Some(self.commit(&mut objects, key.clone(), ChangeKind::Deleted, object))
    }

    /// Deletes the object at `key` as `DELETE` asks: a pod is marked for its kubelet to stop
    /// it within `grace` seconds; an owner whose dependents go first is marked for the
    /// collector; anything else goes now (its dependents orphaned first, if asked).
    pub(crate) fn delete(
        &self,
        key: &Key,
        propagation: Propagation,
        grace: Option<i64>,
    ) -> Result<Value, Status> {
        let object = self.get(key).ok_or_else(|| Status::not_found(key))?;
        let uid = object["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let deleting = !object["metadata"]["deletionTimestamp"].is_null();
        if key.resource == Resource::Pods && grace != Some(0) {
            if deleting {
                return Ok(object);
            }
            let grace = grace
                .or_else(|| object["spec"]["terminationGracePeriodSeconds"].as_i64())
                .unwrap_or(30);
            let now = self.now.seconds();
            return self.update(key, None, |pod| {
                pod["metadata"]["deletionTimestamp"] = json!(now);
                pod["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
                Ok(())
            });
        }
        match propagation {
            Propagation::Foreground => {
                let now = self.now.seconds();
                self.update(key, None, |owner| {
                    owner["metadata"]["deletionTimestamp"] = json!(now);
                    let finalizers = &mut owner["metadata"]["finalizers"];
                    if !finalizers.is_array() {
                        *finalizers = json!([]);
                    }
                    let list = finalizers.as_array_mut().expect("an array");
                    if !list.iter().any(|f| f == FOREGROUND) {
                        list.push(json!(FOREGROUND));
                    }
                    Ok(())
                })
            }
            Propagation::Orphan => {
                for dependent in self.dependents(&uid) {
                    let _ = self.update(&dependent, None, |object| {
                        if let Some(owners) = object["metadata"]["ownerReferences"].as_array_mut() {
                            owners.retain(|owner| owner["uid"] != uid.as_str());
                        }
                        Ok(())
                    });
                }
                self.remove(key).ok_or_else(|| Status::not_found(key))
            }
            Propagation::Background => self.remove(key).ok_or_else(|| Status::not_found(key)),
        }
    }

    /// The objects that name `uid` among their owners.
    pub(crate) fn dependents(&self, uid: &str) -> Vec<Key> {
        self.lock()
            .objects
            .iter()
            .filter(|(_, object)| owner_uids(object).any(|owner| owner == uid))
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Every change but a pod's since the store began, in order.
    pub(crate) fn journal(&self) -> Vec<Arc<Change>> {
        self.lock().journal.clone()
    }

    /// What `read` makes of every object, under the store's lock: the controllers' passes
    /// look at every object without copying them, which keeps a pass over tens of thousands
    /// of pods to milliseconds.
    pub(crate) fn read<R>(&self, read: impl FnOnce(&BTreeMap<Key, Value>) -> R) -> R {
        read(&self.lock().objects)
    }

    fn commit(
        &self,
        objects: &mut Objects,
        key: Key,
        kind: ChangeKind,
        mut object: Value,
    ) -> Value {
        objects.rv += 1;
        let rv = objects.rv;
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        match kind {
            ChangeKind::Deleted => objects.objects.remove(&key),
            _ => objects.objects.insert(key.clone(), object.clone()),
        };
        let change = Arc::new(Change {
            rv,
            key,
            kind,
            object: object.clone(),
        });
        objects.history.push_back(Arc::clone(&change));
        if change.key.resource != Resource::Pods {
            objects.journal.push(Arc::clone(&change));
        }
        if objects.history.len() > HISTORY
            && let Some(forgotten) = objects.history.pop_front()
        {
            objects.oldest = forgotten.rv + 1;
        }
        let _ = self.changes.send(change);
        self.latest.send_replace(rv);
        object
    }
}

/// The finalizer of an owner deleted in the foreground.
pub(crate) const FOREGROUND: &str = "foregroundDeletion";

pub(crate) fn resource_version(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|rv| rv.parse().ok())
        .unwrap_or(0)
}

pub(crate) fn owner_uids(object: &Value) -> impl Iterator<Item = &str> {
    object["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|owner| owner["uid"].as_str())
}

fn metadata_of(object: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    object["metadata"].as_object_mut().expect("an object")
}
