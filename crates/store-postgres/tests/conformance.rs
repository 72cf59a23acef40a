//! The store conformance suite against a real PostgreSQL: a database per check on one server
//! this test process starts (`testing::Cluster`).

use bellwether_store::conformance::Backend;
use bellwether_store_postgres::testing::Cluster;
use bellwether_store_postgres::{PgRunStore, PgStore};

bellwether_store::store_conformance!(Backend::new(
    |dir| PgStore::open(&Cluster::shared().database_for(dir)),
    |dir| PgRunStore::open(&Cluster::shared().database_for(dir)),
));
