//! The schema's version: a database written by a newer bellwether is refused with a message
//! saying so, and left as it was.

use bellwether_store::{RunStore, SqliteStore, StoreError};

#[test]
fn a_schema_newer_than_this_binary_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bellwether.db");
    drop(SqliteStore::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    for refused in [SqliteStore::open(&path).err(), RunStore::open(&path).err()] {
        let refused = refused.expect("refused");
        assert!(
            matches!(
                refused,
                StoreError::NewerSchema {
                    found: 99,
                    known: 1,
                    ..
                }
            ),
            "{refused:?}"
        );
        assert_eq!(
            refused.to_string(),
            format!(
                "the store at {} has schema version 99, newer than the 1 this bellwether knows: run the bellwether that wrote it, or a newer one",
                path.display()
            )
        );
    }
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 99);
}

#[test]
fn a_new_database_is_at_the_version_this_binary_knows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bellwether.db");
    drop(SqliteStore::open(&path).unwrap());
    drop(SqliteStore::open(&path).unwrap());
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 1);
}
