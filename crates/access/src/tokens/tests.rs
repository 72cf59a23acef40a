use std::sync::Arc;

use bellwether_store::{SqliteStore, Store};

use super::*;

fn store() -> Arc<dyn Store> {
    Arc::new(SqliteStore::in_memory().expect("a store"))
}

#[test]
fn a_token_carries_its_scope_and_groups_into_the_identity() {
    let tokens = Tokens::open(store()).unwrap();
    let grant = Grant {
        role: Role::Approver,
        environments: vec!["production".into()],
        groups: vec!["sre".into(), "dba".into(), "sre".into()],
    };
    let (secret, info) = tokens.create_with("alice", grant, None, 1).unwrap();
    assert_eq!(info.groups, ["dba", "sre"]);
    let who = tokens.authenticate(secret.expose(), 2).unwrap();
    assert_eq!(who.groups, ["dba", "sre"]);
    assert_eq!(who.environments, ["production"]);
    let bad = Grant {
        groups: vec!["on call".into()],
        ..Grant::everywhere(Role::Approver)
    };
    assert!(matches!(
        tokens.create_with("bob", bad, None, 3),
        Err(AccessError::BadGroup(g)) if g == "on call"
    ));
}

#[test]
fn a_token_identifies_its_holder_until_revoked_or_expired() {
    let tokens = Tokens::open(store()).unwrap();
    let (secret, info) = tokens
        .create("ci", Role::Deployer, Some(10_000), 1_000)
        .unwrap();
    assert!(secret.expose().starts_with("bwt_") && secret.expose().len() == 68);
    assert_eq!(format!("{secret:?}"), "Secret(…)", "Debug never shows it");
    assert_eq!(info.role, Role::Deployer);
    let who = tokens.authenticate(secret.expose(), 2_000).unwrap();
    assert_eq!(
        who,
        Identity {
            name: "ci".into(),
            role: Role::Deployer,
            environments: Vec::new(),
            groups: Vec::new(),
        }
    );

    assert_eq!(
        tokens.authenticate("bwt_guess", 2_000),
        Err(Denied::Unknown)
    );
    assert_eq!(
        tokens.authenticate(secret.expose(), 10_000),
        Err(Denied::Expired("ci".into()))
    );
    let (other, _) = tokens.create("alice", Role::Approver, None, 3_000).unwrap();
    tokens.revoke("alice", 4_000).unwrap();
    assert_eq!(
        tokens.authenticate(other.expose(), 4_001),
        Err(Denied::Revoked("alice".into()))
    );
}

#[test]
fn names_are_unique_among_live_tokens_and_well_formed() {
    let tokens = Tokens::open(store()).unwrap();
    tokens.create("bob", Role::Viewer, None, 1).unwrap();
    assert!(matches!(
        tokens.create("bob", Role::Admin, None, 2),
        Err(AccessError::NameTaken(_))
    ));
    tokens.revoke("bob", 3).unwrap();
    let (again, _) = tokens.create("bob", Role::Admin, None, 4).unwrap();
    assert_eq!(
        tokens.authenticate(again.expose(), 5).unwrap().role,
        Role::Admin
    );
    assert!(matches!(
        tokens.revoke("nobody", 6),
        Err(AccessError::UnknownToken(_))
    ));
    for bad in ["", "a b", "x/y", &"n".repeat(65)] {
        assert!(matches!(
            tokens.create(bad, Role::Viewer, None, 7),
            Err(AccessError::BadName(_))
        ));
    }
    let names: Vec<(String, bool)> = tokens
        .list()
        .into_iter()
        .map(|t| (t.name, t.revoked_at_ms.is_some()))
        .collect();
    assert_eq!(names, [("bob".into(), false), ("bob".into(), true)]);
}

#[test]
fn the_store_keeps_digests_never_secrets_and_a_reopened_store_knows_every_token() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let secret = {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
        let tokens = Tokens::open(Arc::clone(&store)).unwrap();
        let (secret, _) = tokens.create("ops", Role::Admin, None, 1).unwrap();
        let records = store.read(STREAM, 0).unwrap();
        let stored =
            serde_json::to_string(&records.iter().map(|r| &r.body).collect::<Vec<_>>()).unwrap();
        assert!(!stored.contains(&secret.expose()[4..]), "{stored}");
        secret
    };
    let bytes = std::fs::read(&path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        !text.contains(&secret.expose()[4..]),
        "the file holds no secret"
    );
    let reopened = Tokens::open(Arc::new(SqliteStore::open(&path).unwrap())).unwrap();
    assert_eq!(
        reopened.authenticate(secret.expose(), 2).unwrap().name,
        "ops"
    );
}

#[test]
fn two_writers_on_one_store_both_land() {
    let store = store();
    let first = Tokens::open(Arc::clone(&store)).unwrap();
    let second = Tokens::open(Arc::clone(&store)).unwrap();
    first.create("a", Role::Viewer, None, 1).unwrap();
    second.create("b", Role::Viewer, None, 2).unwrap();
    assert!(
        matches!(
            second.create("a", Role::Viewer, None, 3),
            Err(AccessError::NameTaken(_))
        ),
        "the second writer read the first's token before deciding"
    );
    assert_eq!(Tokens::open(store).unwrap().list().len(), 2);
}

#[test]
fn a_scoped_token_acts_only_where_everything_it_touches_is_in_scope() {
    let tokens = Tokens::open(store()).unwrap();
    let (secret, info) = tokens
        .create_with(
            "stager",
            Grant {
                environments: vec!["staging".into()],
                ..Grant::everywhere(Role::Deployer)
            },
            None,
            1,
        )
        .unwrap();
    assert_eq!(info.environments, ["staging"]);
    let who = tokens.authenticate(secret.expose(), 2).unwrap();
    let envs = |names: &[&str]| -> Vec<String> { names.iter().map(|n| (*n).to_owned()).collect() };
    assert!(who.may_act_in(&envs(&["staging"])));
    assert!(!who.may_act_in(&envs(&["production"])));
    assert!(!who.may_act_in(&envs(&["staging", "production"])));
    assert!(
        !who.may_act_in(&[]),
        "a service of no environment is outside every scope"
    );
    let (any, _) = tokens.create("anyone", Role::Deployer, None, 3).unwrap();
    assert!(
        tokens
            .authenticate(any.expose(), 4)
            .unwrap()
            .may_act_in(&[])
    );
}
