//! The order of services by `dependsOn`: dependencies start first, and an emergency rollback
//! undoes dependents before the services they depend on.

use std::collections::{BTreeMap, BTreeSet};

use bellwether_core::spec::ServiceSpec;

/// Every service after the services it depends on (names it depends on that are not in
/// `services` are skipped; a cycle, which validation rules out, is broken arbitrarily).
pub(crate) fn dependencies_first(services: &BTreeMap<String, ServiceSpec>) -> Vec<String> {
    fn visit<'a>(
        name: &'a str,
        services: &'a BTreeMap<String, ServiceSpec>,
        seen: &mut BTreeSet<&'a str>,
        out: &mut Vec<String>,
    ) {
        if !seen.insert(name) {
            return;
        }
        let Some(spec) = services.get(name) else {
            return;
        };
        for dependency in &spec.depends_on {
            visit(dependency, services, seen, out);
        }
        out.push(name.to_owned());
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for name in services.keys() {
        visit(name, services, &mut seen, &mut out);
    }
    out
}

/// Every service before the services it depends on.
pub(crate) fn dependents_first(services: &BTreeMap<String, ServiceSpec>) -> Vec<String> {
    let mut order = dependencies_first(services);
    order.reverse();
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(name: &str, depends_on: &[&str]) -> (String, ServiceSpec) {
        let spec = ServiceSpec {
            name: name.to_owned(),
            replicas: 1,
            run: Default::default(),
            readiness: bellwether_core::spec::Probe::http("/"),
            liveness: None,
            strategy: bellwether_core::spec::Strategy::Rolling(Default::default()),
            metrics: vec![],
            judge: None,
            progress_deadline: std::time::Duration::from_secs(60),
            revision_history_limit: 10,
            environments: vec![],
            depends_on: depends_on.iter().map(|d| (*d).to_owned()).collect(),
            listen: None,
            preview_listen: None,
            verify: Vec::new(),
            post_rollback_analysis: None,
            traffic: Default::default(),
        };
        (name.to_owned(), spec)
    }

    #[test]
    fn dependencies_come_first_and_dependents_roll_back_first() {
        let services = BTreeMap::from([
            service("web", &["api"]),
            service("api", &["db", "cache"]),
            service("db", &[]),
            service("cache", &["db"]),
            service("admin", &["missing"]),
        ]);
        assert_eq!(
            dependencies_first(&services),
            ["admin", "db", "cache", "api", "web"]
        );
        assert_eq!(
            dependents_first(&services),
            ["web", "api", "cache", "db", "admin"]
        );
    }

    #[test]
    fn a_cycle_does_not_loop() {
        let services = BTreeMap::from([service("a", &["b"]), service("b", &["a"])]);
        assert_eq!(dependencies_first(&services), ["b", "a"]);
    }
}
