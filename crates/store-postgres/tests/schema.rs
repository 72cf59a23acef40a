//! Opening a database: the schema is made once and its version recorded; a newer one is
//! refused with a message saying so; a failed connection never shows the password.

use std::error::Error;

use bellwether_store::{Store, StoreError};
use bellwether_store_postgres::testing::Cluster;
use bellwether_store_postgres::{PgRunStore, PgStore, SCHEMA_VERSION, Target};

/// An error and its causes, as a person reads them.
fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text += &format!(": {e}");
        cause = e.source();
    }
    text
}

#[test]
fn a_schema_newer_than_this_binary_is_refused() {
    let cluster = Cluster::shared();
    let target = cluster.database("newer_schema");
    PgStore::open(&target)
        .unwrap()
        .append(
            "s",
            0,
            &[bellwether_store::Record::new(1, "a", serde_json::json!(1))],
        )
        .unwrap();
    cluster.execute("newer_schema", "UPDATE bellwether_schema SET version = 99");
    let refusals = [
        PgStore::open(&target).err(),
        PgRunStore::open(&target).err(),
    ];
    for refused in refusals {
        let refused = refused.expect("refused");
        assert!(
            matches!(refused, StoreError::NewerSchema { found: 99, known, .. } if known == SCHEMA_VERSION),
            "{refused:?}"
        );
        assert_eq!(
            refused.to_string(),
            format!(
                "the store at {} has schema version 99, newer than the {SCHEMA_VERSION} this bellwether knows: run the bellwether that wrote it, or a newer one",
                cluster.url("newer_schema")
            )
        );
    }
    cluster.execute(
        "newer_schema",
        &format!("UPDATE bellwether_schema SET version = {SCHEMA_VERSION}"),
    );
    let store = PgStore::open(&target).expect("opens at its own version");
    assert_eq!(store.last_seq("s").unwrap(), 1, "refusing changed nothing");
}

#[test]
fn a_refused_password_is_not_in_the_error() {
    let cluster = Cluster::shared();
    cluster.database("wrong_password");
    let url = format!(
        "postgres://bellwether:hunter2-not-it@127.0.0.1:{}/wrong_password",
        cluster.port()
    );
    let refused =
        PgStore::open(&Target::parse(&url).unwrap()).expect_err("a wrong password is refused");
    let text = chain(&refused);
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!format!("{refused:?}").contains("hunter2"), "{refused:?}");
    assert!(
        text.starts_with(&format!(
            "cannot reach the store at {}: ",
            cluster.url("wrong_password")
        )),
        "{text}"
    );
    assert!(text.contains("password authentication failed"), "{text}");

    let from_env = Target::parse(&cluster.url("wrong_password"))
        .unwrap()
        .with_password_unless_given(Some(cluster.password()));
    PgStore::open(&from_env).expect("the right password, given apart from the URL, is taken");
}
