//! The objects each router plugin writes, as committed under `golden/`: the writes of one
//! routing decision (a canary at 25%, a header route and, where the router can, a mirror) made
//! on the user's objects the way `write.rs` makes them, without the cluster. Istio's start from
//! the DestinationRule and VirtualService `examples/kubernetes/istio-routing.yaml` ships.

use bellwether_core::spec::{
    GatewayApiRouting, HeaderMatch, IstioRouting, NginxRouting, TrafficRouting,
};
use serde_json::{Value, json};

use super::split::Split;
use super::write::{Change, Kind};
use crate::golden;

/// Service `api-service`: revision 1 stable, revision 2 the canary at 25%.
fn split() -> Split {
    Split {
        service_label: "api-service".into(),
        stable_service: "api-service-stable".into(),
        canary_service: "api-service-canary".into(),
        ..Split::test(2500)
    }
}

/// Makes each of `routing`'s writes for `split` on the user's object of its kind and name in
/// `users`, and checks what is written against `golden/<file>`, in the order written.
fn check(routing: &TrafficRouting, split: &Split, users: &[Value], files: &[&str]) {
    let user = |kind: Kind, name: &str| {
        users
            .iter()
            .find(|u| u["kind"] == kind.name() && u["metadata"]["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no user's {} {name}", kind.name()))
    };
    let writes = super::writes(routing, split);
    assert_eq!(writes.len(), files.len(), "one golden file per write");
    for (write, file) in writes.into_iter().zip(files) {
        let written = match write.change {
            Change::Apply(object) => object,
            Change::Edit(edit) => {
                let mut object = user(write.kind, &write.name);
                edit(&mut object).expect("the user's object is edited");
                object
            }
            Change::CopyOf { from, make } => {
                make(&user(write.kind, &from)).expect("made from the user's object")
            }
        };
        assert_eq!(written["kind"], write.kind.name(), "{file}");
        assert_eq!(written["apiVersion"], write.kind.api_version(), "{file}");
        golden::check(file, &written);
    }
}

/// One test, so that the plugins writing the same Services check the same files in turn.
#[test]
fn the_objects_each_router_writes_are_the_golden_manifests() {
    gateway_api();
    istio();
    nginx();
}

fn gateway_api() {
    let route = json!({
        "apiVersion": Kind::HttpRoute.api_version(),
        "kind": "HTTPRoute",
        "metadata": {"name": "api-service", "namespace": "edge"},
        "spec": {
            "parentRefs": [{"name": "public", "namespace": "edge"}],
            "hostnames": ["api.media.example.com"],
            "rules": [{
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "backendRefs": [{"name": "api-service-stable", "port": 8080}],
            }],
        },
    });
    let routing = TrafficRouting::GatewayApi(GatewayApiRouting {
        http_route: "api-service".into(),
        namespace: Some("edge".into()),
    });
    let split = split()
        .with_header(HeaderMatch::Exact {
            header: "X-Canary".into(),
            value: "always".into(),
        })
        .mirrored(1000);
    check(
        &routing,
        &split,
        &[route],
        &[
            "service-stable.yaml",
            "service-canary.yaml",
            "httproute.yaml",
        ],
    );
}

fn istio() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/kubernetes/istio-routing.yaml"
    );
    let text = std::fs::read_to_string(example).expect("the example is read");
    let users: Vec<Value> = serde_saphyr::from_multiple(&text).expect("the example parses");
    let routing = TrafficRouting::Istio(IstioRouting {
        virtual_service: "api-service".into(),
        routes: vec!["primary".into()],
        destination_rule: "api-service".into(),
        stable_subset: "stable".into(),
        canary_subset: "canary".into(),
    });
    let split = split()
        .with_header(HeaderMatch::Prefix {
            header: "X-User".into(),
            value: "beta-".into(),
        })
        .mirrored(1000);
    check(
        &routing,
        &split,
        &users,
        &["destinationrule.yaml", "virtualservice.yaml"],
    );
}

fn nginx() {
    let stable = json!({
        "apiVersion": Kind::Ingress.api_version(),
        "kind": "Ingress",
        "metadata": {"name": "api-service", "namespace": "media", "annotations": {
            "kubernetes.io/ingress.class": "nginx",
        }},
        "spec": {
            "tls": [{"hosts": ["api.media.example.com"], "secretName": "api-tls"}],
            "rules": [{"host": "api.media.example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": "api-service-stable", "port": {"number": 8080}}}},
            ]}}],
        },
    });
    let routing = TrafficRouting::Nginx(NginxRouting {
        stable_ingress: "api-service".into(),
    });
    // NGINX cannot mirror: config refuses a canary that asks it to.
    let split = split().with_header(HeaderMatch::Regex {
        header: "X-User".into(),
        pattern: "^(alice|bob)$".into(),
    });
    check(
        &routing,
        &split,
        &[stable],
        &[
            "service-stable.yaml",
            "service-canary.yaml",
            "ingress-canary.yaml",
        ],
    );
}
