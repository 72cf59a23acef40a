//! The platform conformance suite against the kubernetes platform on a fake cluster: each
//! replica a pod whose container (a Python HTTP server) runs as a local process on its pod's
//! own loopback address.

mod support;

use std::sync::Arc;

use bellwether_controller::Platform;
use bellwether_controller::conformance::Fixture;

fn on_fake_cluster(dir: &std::path::Path) -> Arc<dyn Platform> {
    support::on_fake_cluster(dir, |_| {})
}

bellwether_controller::platform_conformance!(Fixture::new(on_fake_cluster, support::workload()));
