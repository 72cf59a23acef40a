use bellwether_core::spec::{HeaderMatch, NginxRouting};
use serde_json::{Value, json};

use super::{canary_ingress, canary_of};
use crate::traffic::split::Split;

fn stable() -> Value {
    json!({
        "metadata": {"name": "api", "namespace": "shop", "annotations": {
            "kubernetes.io/ingress.class": "nginx",
            "nginx.ingress.kubernetes.io/rewrite-target": "/",
        }},
        "spec": {
            "tls": [{"hosts": ["api.example.com"], "secretName": "api-tls"}],
            "defaultBackend": {"service": {"name": "fallback", "port": {"number": 80}}},
            "rules": [{"host": "api.example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "api-stable", "port": {"number": 8080}}}},
                {"path": "/docs", "pathType": "Prefix", "backend": {"service": {"name": "docs", "port": {"number": 80}}}},
            ]}}],
        },
    })
}

#[test]
fn the_canary_copies_the_stable_ingress_to_the_canary_service_with_its_annotations() {
    let name = canary_ingress(&NginxRouting {
        stable_ingress: "api".into(),
    });
    assert_eq!(name, "api-canary");
    let split = Split::test(2500).with_header(HeaderMatch::Regex {
        header: "x-beta".into(),
        pattern: "^(a|b)$".into(),
    });
    let canary = canary_of(&stable(), &name, &split).expect("made");
    assert_eq!(
        canary["metadata"]["annotations"],
        json!({
            "kubernetes.io/ingress.class": "nginx",
            "nginx.ingress.kubernetes.io/canary": "true",
            "nginx.ingress.kubernetes.io/canary-weight": "2500",
            "nginx.ingress.kubernetes.io/canary-weight-total": "10000",
            "nginx.ingress.kubernetes.io/canary-by-header": "x-beta",
            "nginx.ingress.kubernetes.io/canary-by-header-pattern": "^(a|b)$",
        })
    );
    let paths = &canary["spec"]["rules"][0]["http"]["paths"];
    assert_eq!(paths[0]["backend"]["service"]["name"], "api-canary");
    assert_eq!(paths[1]["backend"]["service"]["name"], "docs");
    assert_eq!(canary["spec"]["tls"], stable()["spec"]["tls"]);
    assert!(canary["spec"].get("defaultBackend").is_none());
    assert_eq!(canary["metadata"]["namespace"], "shop");

    let exact = Split::test(0).with_header(HeaderMatch::Exact {
        header: "x-beta".into(),
        value: "on".into(),
    });
    let canary = canary_of(&stable(), &name, &exact).expect("made");
    let annotations = &canary["metadata"]["annotations"];
    assert_eq!(
        annotations["nginx.ingress.kubernetes.io/canary-by-header-value"],
        "on"
    );
    assert_eq!(
        annotations["nginx.ingress.kubernetes.io/canary-weight"],
        "0"
    );
}

#[test]
fn a_stable_ingress_not_routing_to_the_stable_service_is_refused_with_why() {
    let mut ingress = stable();
    ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = json!("api");
    let error = canary_of(&ingress, "api-canary", &Split::test(1000)).expect_err("refused");
    assert_eq!(
        error,
        "has no backend naming Service `api-stable` (expected the stable Ingress to route to it)"
    );
}
