//! Canary rollouts routed by the cluster's objects, through the controller, the kubernetes
//! platform and kube-rs's client on the fake cluster: for each router plugin, the objects
//! written at each step (weights, header route, mirror), promotion, an abort putting all
//! traffic back on the stable revision before the canary is scaled down, the user's own
//! fields left alone, and conflicts on the writes retried.

mod support;

use bellwether_kube_fake::{FakeCluster, Recorded, Resource};
use serde_json::{Value, json};
use support::plane::{NAMESPACE, Rig};

/// A control plane routing by `routing` on a fake cluster holding the user's `objects`.
async fn rig(routing: &str, mirror: bool, objects: &[(Resource, Value)]) -> Rig {
    support::plane::rig(support::plane::canary(routing, mirror, ""), objects, None).await
}

/// Each modification of the object named `name` (its creation by the test left out).
fn modified(cluster: &FakeCluster, resource: Resource, name: &str) -> Vec<Recorded> {
    cluster
        .changes(resource, NAMESPACE)
        .into_iter()
        .filter(|c| c.name == name && c.kind == "MODIFIED")
        .collect()
}

/// The revision a Service of bellwether's selects, at each of its changes.
fn selected(cluster: &FakeCluster, service: &str) -> Vec<(u64, String)> {
    cluster
        .changes(Resource::Services, NAMESPACE)
        .iter()
        .filter(|c| c.name == service)
        .map(|c| {
            let revision = &c.object["spec"]["selector"]["bellwether.dev/revision"];
            (c.seq, revision.as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

fn dedup<T: PartialEq>(mut items: Vec<T>) -> Vec<T> {
    items.dedup();
    items
}

/// An HTTPRoute as its routing reads: the weighted rule's backends, then `header` when the
/// header rule is there and `mirror N` for a mirror's numerator.
fn http_route_summary(route: &Value) -> Vec<String> {
    let rules = route["spec"]["rules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut summary = Vec::new();
    for rule in &rules {
        if rule["name"] == "bellwether-header-route" {
            let header = &rule["matches"][0]["headers"][0];
            summary.push(format!(
                "header {}={} -> {}",
                header["name"], header["value"], rule["backendRefs"][0]["name"]
            ));
            continue;
        }
        let refs = rule["backendRefs"].as_array().cloned().unwrap_or_default();
        if refs.iter().any(|b| b["name"] == "cdn") {
            continue;
        }
        for b in refs {
            summary.push(format!(
                "{} {}",
                b["name"].as_str().unwrap_or_default(),
                b["weight"]
            ));
        }
        for f in rule["filters"].as_array().cloned().unwrap_or_default() {
            let mirror = &f["requestMirror"];
            summary.push(format!(
                "mirror {} {}",
                mirror["backendRef"]["name"].as_str().unwrap_or_default(),
                mirror["fraction"]["numerator"]
            ));
        }
    }
    summary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_api_http_route_weights_each_step_and_leaves_the_users_fields() {
    let plugin = support::plane::gateway_api();
    let rig = rig(plugin.routing, true, &plugin.objects).await;
    // Each write of the user's object meets a conflict first, and is tried again.
    let (promoted, aborted) = rig
        .promote_then_abort(Resource::HttpRoutes, 2, [3, 5])
        .await;
    let changes = modified(rig.cluster(), Resource::HttpRoutes, "api-route");
    let steps = dedup(
        changes
            .iter()
            .map(|c| http_route_summary(&c.object))
            .collect(),
    );
    insta::assert_debug_snapshot!(steps, @r#"
[
    [
        "api-stable 10000",
    ],
    [
        "header \"x-canary\"=\"yes\" -> \"api-canary\"",
        "api-stable 8000",
        "api-canary 2000",
        "mirror api-canary 3500",
    ],
    [
        "header \"x-canary\"=\"yes\" -> \"api-canary\"",
        "api-stable 5000",
        "api-canary 5000",
        "mirror api-canary 3500",
    ],
    [
        "api-stable 10000",
    ],
    [
        "header \"x-canary\"=\"yes\" -> \"api-canary\"",
        "api-stable 8000",
        "api-canary 2000",
        "mirror api-canary 3500",
    ],
    [
        "api-stable 10000",
    ],
]
"#);
    let last = changes.last().expect("the route written");
    assert_eq!(last.object["metadata"]["labels"]["team"], "web");
    assert_eq!(last.object["spec"]["hostnames"], json!(["api.example.com"]));
    assert_eq!(
        last.object["spec"]["rules"][1]["backendRefs"][0]["name"],
        "cdn"
    );
    // Traffic left each revision before its ReplicaSet was scaled down.
    let on_r2 = selected(rig.cluster(), "api-stable")
        .into_iter()
        .find(|(_, r)| r == "2");
    assert!(
        on_r2.is_some_and(|(seq, _)| seq < promoted),
        "{:?} {promoted}",
        selected(rig.cluster(), "api-stable")
    );
    let all_stable = |c: &&Recorded| http_route_summary(&c.object) == ["api-stable 10000"];
    let back = changes
        .iter()
        .filter(all_stable)
        .map(|c| c.seq)
        .collect::<Vec<_>>();
    assert!(back.iter().any(|&s| s < promoted), "{back:?} {promoted}");
    assert!(
        back.iter().any(|&s| s > promoted && s < aborted),
        "{back:?} {aborted}"
    );
    rig.stop().await;
}

/// A VirtualService as its routing reads: the header route, then each route's destinations
/// with their weights and its mirror.
fn virtual_service_summary(service: &Value) -> Vec<String> {
    let http = service["spec"]["http"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut summary = Vec::new();
    for route in &http {
        let name = route["name"].as_str().unwrap_or_default();
        if name == "bellwether-header-route" {
            summary.push(format!(
                "header {} -> {}",
                route["match"][0]["headers"], route["route"][0]["destination"]["subset"]
            ));
            continue;
        }
        for r in route["route"].as_array().cloned().unwrap_or_default() {
            let d = &r["destination"];
            summary.push(format!(
                "{name}: {}/{} {}",
                d["host"].as_str().unwrap_or_default(),
                d["subset"].as_str().unwrap_or("-"),
                r["weight"]
            ));
        }
        if route.get("mirror").is_some() {
            summary.push(format!(
                "{name}: mirror {} {}",
                route["mirror"]["subset"], route["mirrorPercentage"]["value"]
            ));
        }
    }
    summary
}

/// The revision each subset of a DestinationRule selects.
fn subsets(rule: &Value) -> Vec<String> {
    let subsets = rule["spec"]["subsets"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    subsets
        .iter()
        .map(|s| {
            format!(
                "{} -> {}",
                s["name"].as_str().unwrap_or_default(),
                s["labels"]["bellwether.dev/revision"]
                    .as_str()
                    .unwrap_or("-")
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn istio_virtual_service_weights_destination_rule_subsets_by_revision() {
    let plugin = support::plane::istio();
    let rig = rig(plugin.routing, true, &plugin.objects).await;
    // Each write of the user's object meets a conflict first, and is tried again.
    let (promoted, aborted) = rig
        .promote_then_abort(Resource::VirtualServices, 2, [3, 5])
        .await;
    let routes = modified(rig.cluster(), Resource::VirtualServices, "api-vs");
    let rules = modified(rig.cluster(), Resource::DestinationRules, "api-dr");
    let steps = dedup(
        routes
            .iter()
            .map(|c| virtual_service_summary(&c.object))
            .collect(),
    );
    insta::assert_debug_snapshot!(steps, @r#"
[
    [
        "primary: api/stable 100",
        "legacy: legacy/- null",
    ],
    [
        "header {\"x-canary\":{\"exact\":\"yes\"}} -> \"canary\"",
        "primary: api/stable 80",
        "primary: api/canary 20",
        "primary: mirror \"canary\" 35.0",
        "legacy: legacy/- null",
    ],
    [
        "header {\"x-canary\":{\"exact\":\"yes\"}} -> \"canary\"",
        "primary: api/stable 50",
        "primary: api/canary 50",
        "primary: mirror \"canary\" 35.0",
        "legacy: legacy/- null",
    ],
    [
        "primary: api/stable 100",
        "legacy: legacy/- null",
    ],
    [
        "header {\"x-canary\":{\"exact\":\"yes\"}} -> \"canary\"",
        "primary: api/stable 80",
        "primary: api/canary 20",
        "primary: mirror \"canary\" 35.0",
        "legacy: legacy/- null",
    ],
    [
        "primary: api/stable 100",
        "legacy: legacy/- null",
    ],
]
"#);
    let selections = dedup(rules.iter().map(|c| subsets(&c.object)).collect());
    insta::assert_debug_snapshot!(selections, @r#"
[
    [
        "stable -> 1",
    ],
    [
        "stable -> 1",
        "canary -> 2",
    ],
    [
        "stable -> 2",
        "canary -> 2",
    ],
    [
        "stable -> 2",
        "canary -> 3",
    ],
]
"#);
    let last = routes.last().expect("the VirtualService written");
    assert_eq!(last.object["spec"]["gateways"], json!(["edge"]));
    assert_eq!(last.object["spec"]["http"][0]["retries"]["attempts"], 3);
    let last_rule = rules.last().expect("the DestinationRule written");
    assert_eq!(
        last_rule.object["spec"]["trafficPolicy"]["tls"]["mode"],
        "ISTIO_MUTUAL"
    );
    assert_eq!(
        last_rule.object["spec"]["subsets"][0]["labels"]["app"],
        "api"
    );
    // The stable subset selects revision 2, and all traffic is on it, before revision 1 goes;
    // all traffic is back on stable before the aborted revision 3 goes.
    let stable_on_r2 = rules.iter().find(|c| {
        subsets(&c.object)
            .first()
            .is_some_and(|s| s == "stable -> 2")
    });
    assert!(stable_on_r2.is_some_and(|c| c.seq < promoted));
    let all_stable = |c: &&Recorded| {
        virtual_service_summary(&c.object) == ["primary: api/stable 100", "legacy: legacy/- null"]
    };
    let back: Vec<u64> = routes.iter().filter(all_stable).map(|c| c.seq).collect();
    assert!(
        back.iter()
            .any(|&s| stable_on_r2.is_some_and(|r| s > r.seq) && s < promoted),
        "{back:?} {promoted}"
    );
    assert!(
        back.iter().any(|&s| s > promoted && s < aborted),
        "{back:?} {aborted}"
    );
    rig.stop().await;
}

/// A canary Ingress as its routing reads: where it sends requests and its canary annotations.
fn canary_ingress_summary(ingress: &Value) -> Vec<String> {
    let mut summary = vec![format!(
        "backend {}",
        ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
    )];
    let annotations = ingress["metadata"]["annotations"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    summary.extend(
        annotations
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default())),
    );
    summary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_canary_ingress_copies_the_stable_one_with_the_canary_annotations() {
    let plugin = support::plane::nginx();
    let ingress = plugin.objects[0].1.clone();
    let rig = rig(plugin.routing, false, &plugin.objects).await;
    // Each write of the user's object meets a conflict first, and is tried again.
    let (promoted, aborted) = rig.promote_then_abort(Resource::Ingresses, 1, [2, 4]).await;
    let changes: Vec<Recorded> = rig
        .cluster()
        .changes(Resource::Ingresses, NAMESPACE)
        .into_iter()
        .filter(|c| c.name == "api-canary")
        .collect();
    let steps = dedup(
        changes
            .iter()
            .map(|c| canary_ingress_summary(&c.object))
            .collect(),
    );
    insta::assert_debug_snapshot!(steps, @r#"
[
    [
        "backend \"api-canary\"",
        "kubernetes.io/ingress.class: nginx",
        "nginx.ingress.kubernetes.io/canary: true",
        "nginx.ingress.kubernetes.io/canary-weight: 0",
        "nginx.ingress.kubernetes.io/canary-weight-total: 10000",
    ],
    [
        "backend \"api-canary\"",
        "kubernetes.io/ingress.class: nginx",
        "nginx.ingress.kubernetes.io/canary: true",
        "nginx.ingress.kubernetes.io/canary-by-header: x-canary",
        "nginx.ingress.kubernetes.io/canary-by-header-value: yes",
        "nginx.ingress.kubernetes.io/canary-weight: 2000",
        "nginx.ingress.kubernetes.io/canary-weight-total: 10000",
    ],
    [
        "backend \"api-canary\"",
        "kubernetes.io/ingress.class: nginx",
        "nginx.ingress.kubernetes.io/canary: true",
        "nginx.ingress.kubernetes.io/canary-by-header: x-canary",
        "nginx.ingress.kubernetes.io/canary-by-header-value: yes",
        "nginx.ingress.kubernetes.io/canary-weight: 5000",
        "nginx.ingress.kubernetes.io/canary-weight-total: 10000",
    ],
    [
        "backend \"api-canary\"",
        "kubernetes.io/ingress.class: nginx",
        "nginx.ingress.kubernetes.io/canary: true",
        "nginx.ingress.kubernetes.io/canary-weight: 0",
        "nginx.ingress.kubernetes.io/canary-weight-total: 10000",
    ],
    [
        "backend \"api-canary\"",
        "kubernetes.io/ingress.class: nginx",
        "nginx.ingress.kubernetes.io/canary: true",
        "nginx.ingress.kubernetes.io/canary-by-header: x-canary",
        "nginx.ingress.kubernetes.io/canary-by-header-value: yes",
        "nginx.ingress.kubernetes.io/canary-weight: 2000",
        "nginx.ingress.kubernetes.io/canary-weight-total: 10000",
    ],
    [
        "backend \"api-canary\"",
        "kubernetes.io/ingress.class: nginx",
        "nginx.ingress.kubernetes.io/canary: true",
        "nginx.ingress.kubernetes.io/canary-weight: 0",
        "nginx.ingress.kubernetes.io/canary-weight-total: 10000",
    ],
]
"#);
    let stable = rig.cluster().objects(Resource::Ingresses, NAMESPACE);
    let stable = stable
        .iter()
        .find(|i| i["metadata"]["name"] == "api")
        .expect("the stable Ingress");
    assert_eq!(
        stable["spec"], ingress["spec"],
        "the stable Ingress is the user's, untouched"
    );
    let weight_zero = |c: &&Recorded| {
        c.object["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"] == "0"
    };
    let zeros: Vec<u64> = changes.iter().filter(weight_zero).map(|c| c.seq).collect();
    let on_r2 = selected(rig.cluster(), "api-stable")
        .into_iter()
        .find(|(_, r)| r == "2");
    assert!(on_r2.is_some_and(|(seq, _)| seq < promoted));
    assert!(zeros.iter().any(|&s| s < promoted), "{zeros:?} {promoted}");
    assert!(
        zeros.iter().any(|&s| s > promoted && s < aborted),
        "{zeros:?} {aborted}"
    );
    rig.stop().await;
}
