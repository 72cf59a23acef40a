//! The garbage collector: an object whose owners are all gone is deleted (in the background);
//! an owner being deleted in the foreground has its dependents deleted, and goes itself once
//! none is left.

use std::collections::BTreeSet;

use crate::resource::Key;
use crate::store::{FOREGROUND, Propagation, Store, owner_uids};

/// Runs until the store's change feed ends.
pub(crate) async fn run(store: Store) {
    store.on_changes(|| collect(&store)).await;
}

fn collect(store: &Store) {
    let (orphans, finalizing) = store.read(|objects| {
        let live_uids: BTreeSet<&str> = objects
            .values()
            .filter_map(|object| object["metadata"]["uid"].as_str())
            .collect();
        let orphans: Vec<Key> = objects
            .iter()
            .filter(|(_, object)| {
                let mut owners = owner_uids(object).peekable();
                owners.peek().is_some() && owners.all(|owner| !live_uids.contains(owner))
            })
            .map(|(key, _)| key.clone())
            .collect();
        let finalizing: Vec<(Key, String)> = objects
            .iter()
            .filter(|(_, object)| {
                let foreground = object["metadata"]["finalizers"]
                    .as_array()
                    .is_some_and(|f| f.iter().any(|f| f == FOREGROUND));
                foreground && !object["metadata"]["deletionTimestamp"].is_null()
            })
            .map(|(key, object)| {
                let uid = object["metadata"]["uid"].as_str().unwrap_or_default();
                (key.clone(), uid.to_owned())
            })
            .collect();
        (orphans, finalizing)
    });
    for key in &orphans {
        let _ = store.delete(key, Propagation::Background, None);
    }
    for (key, uid) in &finalizing {
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
