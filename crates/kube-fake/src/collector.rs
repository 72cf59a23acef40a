//! The garbage collector: an object whose owners are all gone is deleted (in the background);
//! an owner being deleted in the foreground has its dependents deleted, and goes itself once
//! none is left.

use crate::resource::Key;
use crate::store::{FOREGROUND, Propagation, Store, owner_uids};

/// Runs until the store's change feed ends.
pub(crate) async fn run(store: Store) {
    let mut changed = store.changed();
    loop {
        collect(&store);
        if changed.changed().await.is_err() {
            return;
        }
    }
}

fn collect(store: &Store) {
    let objects = store.all();
    let live_uids: std::collections::BTreeSet<&str> = objects
        .iter()
        .filter_map(|(_, object)| object["metadata"]["uid"].as_str())
        .collect();
    for (key, object) in &objects {
        let owners: Vec<&str> = owner_uids(object).collect();
        if !owners.is_empty() && owners.iter().all(|owner| !live_uids.contains(owner)) {
            let _ = store.delete(key, Propagation::Background, None);
        }
    }
    for (key, object) in &objects {
        let finalizing = object["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f == FOREGROUND));
        if !finalizing || object["metadata"]["deletionTimestamp"].is_null() {
            continue;
        }
        let uid = object["metadata"]["uid"].as_str().unwrap_or_default();
        let dependents = store.dependents(uid);
        if dependents.is_empty() {
            finish(store, key);
        }
        for dependent in dependents {
            let _ = store.delete(&dependent, Propagation::Background, None);
        }
    }
}

/// The foreground deletion is done: the finalizer comes off and, none other left, the owner
/// goes.
fn finish(store: &Store, key: &Key) {
    let _ = store.update(key, None, |owner| {
        if let Some(finalizers) = owner["metadata"]["finalizers"].as_array_mut() {
            finalizers.retain(|f| f != FOREGROUND);
        }
        Ok(())
    });
    let done = store.get(key).is_some_and(|o| {
        o["metadata"]["finalizers"]
            .as_array()
            .is_none_or(Vec::is_empty)
    });
    if done {
        store.remove(key);
    }
}
