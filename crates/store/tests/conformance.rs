//! The store conformance suite against SQLite: the event store and the run history share one
//! database file, as they do in a data directory.

use bellwether_store::conformance::Backend;
use bellwether_store::{RunStore, SqliteStore};

bellwether_store::store_conformance!(Backend::new(
    |dir| SqliteStore::open(&dir.join("bellwether.db")),
    |dir| RunStore::open(&dir.join("bellwether.db")),
));
