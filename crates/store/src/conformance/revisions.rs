//! Revision history: each service's revisions numbered from 1, listed oldest first, pruned to
//! the newest few and those still in use.

use serde_json::json;

use super::Fixture;
use super::support::{UNSTORABLE_MS, whole_or_nothing};
use crate::{Store, StoredRevision};

fn numbers(store: &dyn Store, service: &str) -> Vec<u64> {
    store
        .revisions(service)
        .expect("listed")
        .iter()
        .map(|r| r.number)
        .collect()
}

fn add(store: &dyn Store, service: &str, count: u64) {
    for v in 1..=count {
        store
            .add_revision(service, &format!("v{v}"), &json!({}), v)
            .expect("added");
    }
}

pub fn revisions_are_numbered_per_service_from_one(f: &Fixture) {
    let store = f.events();
    let template = |v: u64| json!({"command": ["./api", "--port", "$PORT"], "env": {"V": v}});
    let added: Vec<StoredRevision> = (1..=3)
        .map(|v| {
            store
                .add_revision("api", &format!("1.{v}"), &template(v), 100 * v)
                .expect("added")
        })
        .collect();
    for (v, revision) in (1..).zip(&added) {
        let expected = StoredRevision {
            service: "api".to_owned(),
            number: v,
            version: format!("1.{v}"),
            template: template(v),
            created_at_ms: 100 * v,
        };
        assert_eq!(revision, &expected);
    }
    let web = store
        .add_revision("web", "w1", &json!({}), 7)
        .expect("added");
    assert_eq!(web.number, 1, "each service numbers its own");
    assert_eq!(store.revisions("api").expect("listed"), added);
    assert_eq!(store.revisions("web").expect("listed"), [web]);
    assert_eq!(store.revisions("unknown").expect("listed"), []);
}

pub fn pruning_keeps_the_newest_and_the_pinned(f: &Fixture) {
    let store = f.events();
    let store = store.as_ref();
    add(store, "api", 5);
    add(store, "web", 2);
    assert_eq!(store.prune_revisions("api", 2, &[1]).expect("pruned"), 2);
    assert_eq!(numbers(store, "api"), [1, 4, 5]);
    // Unpinned, 1 goes; a pin of one of the newest, or of one gone, keeps nothing more.
    assert_eq!(store.prune_revisions("api", 2, &[5, 2]).expect("pruned"), 1);
    assert_eq!(numbers(store, "api"), [4, 5]);
    assert_eq!(store.prune_revisions("api", 9, &[]).expect("pruned"), 0);
    assert_eq!(numbers(store, "api"), [4, 5]);
    assert_eq!(numbers(store, "web"), [1, 2], "other services keep theirs");
    let left = store.revisions("api").expect("listed");
    assert_eq!(left[0].version, "v4");
}

pub fn numbers_are_not_reused_after_pruning(f: &Fixture) {
    let store = f.events();
    let store = store.as_ref();
    add(store, "api", 5);
    store.prune_revisions("api", 1, &[]).expect("pruned");
    assert_eq!(numbers(store, "api"), [5]);
    let next = store
        .add_revision("api", "v6", &json!({}), 10)
        .expect("added");
    assert_eq!(next.number, 6);
}

pub fn a_revision_that_fails_to_be_stored_writes_nothing(f: &Fixture) {
    let store = f.events();
    let store = store.as_ref();
    add(store, "api", 2);
    let before = store.revisions("api").expect("listed");
    let result = store.add_revision("api", "v3", &json!({"big": true}), UNSTORABLE_MS);
    let after = store.revisions("api").expect("listed");
    let mut all = before.clone();
    all.extend(result.as_ref().ok().cloned());
    whole_or_nothing(&result, &before, &after, &all);
    if let Ok(added) = &result {
        assert_eq!(added.created_at_ms, UNSTORABLE_MS);
    }
    let next = store
        .add_revision("api", "v4", &json!({}), 4)
        .expect("added");
    assert_eq!(next.number, after.len() as u64 + 1, "no number is lost");
}
