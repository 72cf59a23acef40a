//! Canary rollouts routed by the cluster's objects, through the controller, the kubernetes
//! platform and kube-rs's client on the fake cluster: for each router plugin, the objects
//! written at each step (weights, header route, mirror), promotion, an abort putting all
//! traffic back on the stable revision before the canary is scaled down, the user's own
//! fields left alone, and conflicts on the writes retried.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bellwether_api::{DeployRequest, ServiceView};
use bellwether_controller::{
    ControlPlane, Options as PlaneOptions, Platform, Seams, TrafficRouter,
};
use bellwether_core::rollout::{Command, Phase};
use bellwether_kube_fake::{FakeCluster, Recorded, Resource};
use bellwether_platform_kubernetes::{KubernetesTraffic, Options, connect};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);
const NAMESPACE: &str = "bellwether";

/// A service whose canary goes 20% with a header route and a mirror (when `mirror`), then
/// 50%, pausing after each, its pods the test workload.
fn project(routing: &str, mirror: bool) -> bellwether_core::spec::Project {
    let command = serde_json::to_string(&support::workload().command).expect("json");
    let mirror = if mirror {
        "\n          - setMirrorRoute: {name: copy, percentage: 35}"
    } else {
        ""
    };
    let source = format!(
        r#"
services:
  api:
    run: {{image: "python:3", command: {command}}}
    health: /health
    strategy:
      canary:
        scaleDownDelay: 0s
        abortScaleDownDelay: 0s
        steps:
          - setWeight: 20
          - setHeaderRoute: {{header: x-canary, exact: "yes"}}{mirror}
          - pause: {{}}
          - setWeight: 50
          - pause: {{}}
    trafficRouting:
{routing}
"#
    );
    bellwether_config::load("bellwether.yaml", &source)
        .unwrap_or_else(|d| panic!("refused:\n{d}"))
        .project
}

struct Rig {
    plane: ControlPlane,
    cluster: Arc<support::OnFakeCluster>,
    _dir: tempfile::TempDir,
}

/// A control plane on a fake cluster holding the user's `objects`, routing by `routing`.
async fn rig(routing: &str, mirror: bool, objects: &[(Resource, Value)]) -> Rig {
    let dir = tempfile::tempdir().expect("a directory");
    let cluster = support::start(dir.path(), |_| {}).await;
    let kubeconfig = cluster
        .cluster
        .write_kubeconfig(dir.path(), NAMESPACE)
        .expect("a kubeconfig");
    let connection = connect(Some(&kubeconfig), None).await.expect("connected");
    for (resource, object) in objects {
        create(&connection.client, *resource, object).await;
    }
    let traffic = KubernetesTraffic::new(connection.client, &Options::new(NAMESPACE));
    let mut seams = Seams::new(Arc::clone(&cluster) as Arc<dyn Platform>);
    seams.traffic = Some(Arc::new(traffic) as Arc<dyn TrafficRouter>);
    let options = PlaneOptions {
        data_dir: dir.path().join("data"),
        base_dir: dir.path().to_owned(),
        project: project(routing, mirror),
        secrets: None,
    };
    let plane = ControlPlane::start_on(options, seams)
        .await
        .expect("a control plane");
    Rig {
        plane,
        cluster,
        _dir: dir,
    }
}

async fn create(client: &kube::Client, resource: Resource, object: &Value) {
    use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
    let (api_version, kind) = resource.type_meta();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let ar = ApiResource::from_gvk_with_plural(&gvk, resource.plural());
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), NAMESPACE, &ar);
    let object: DynamicObject = serde_json::from_value(object.clone()).expect("an object");
    api.create(&PostParams::default(), &object)
        .await
        .expect("the user's object created");
}

impl Rig {
    fn cluster(&self) -> &FakeCluster {
        &self.cluster.cluster
    }

    async fn deploy(&self, version: &str) {
        let request = DeployRequest {
            version: version.to_owned(),
            ..DeployRequest::default()
        };
        self.plane.deploy("api", request).await.expect("deployed");
    }

    async fn command(&self, command: Command) {
        self.plane
            .command("api", command, "test")
            .await
            .expect("the command taken");
    }

    /// Waits (bounded) until the service's view satisfies `check`, looking every 50 ms.
    async fn until(&self, what: &str, check: impl Fn(&ServiceView) -> bool) {
        let waited = tokio::time::timeout(WAIT, async {
            while !self.plane.get("api").is_ok_and(|v| check(&v)) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        if waited.is_err() {
            panic!("timed out waiting for {what}: {:#?}", self.plane.get("api"));
        }
    }

    async fn paused_at(&self, step: usize) {
        self.until(&format!("the pause at step {step}"), |v| {
            v.phase == Phase::Paused
                && v.step.as_ref().is_some_and(|s| s.index == step)
                && v.routing_pending.is_none()
        })
        .await;
    }

    async fn healthy_on(&self, version: &str) {
        self.until(&format!("{version} stable"), |v| {
            v.phase == Phase::Healthy
                && v.routing_pending.is_none()
                && v.target.is_none()
                && v.stable.as_ref().is_some_and(|s| s.version == version)
        })
        .await;
    }

    /// The story every plugin is put through: v1 deployed; v2 through its pauses at `pauses`
    /// (the user's `conflicted` objects meeting `conflicts` conflicts on their next writes)
    /// and promoted; v3 aborted at its first pause. The changes at which revisions 1 and 3
    /// were asked for no pods.
    async fn promote_then_abort(
        &self,
        conflicted: Resource,
        conflicts: u32,
        pauses: [usize; 2],
    ) -> (u64, u64) {
        self.deploy("v1").await;
        self.healthy_on("v1").await;
        self.cluster()
            .script()
            .conflict_next_writes(conflicted, conflicts);
        self.deploy("v2").await;
        self.paused_at(pauses[0]).await;
        self.command(Command::Promote { full: false }).await;
        self.paused_at(pauses[1]).await;
        self.command(Command::Promote { full: false }).await;
        self.healthy_on("v2").await;
        let promoted = scaled_to_zero(self.cluster(), 1).await;
        self.deploy("v3").await;
        self.paused_at(pauses[0]).await;
        self.command(Command::Abort {
            reason: Some("test".into()),
        })
        .await;
        (promoted, scaled_to_zero(self.cluster(), 3).await)
    }

    async fn stop(self) {
        self.plane.shutdown(true).await;
    }
}

/// The change at which the ReplicaSet of `revision` was first asked for no pods, waited for
/// (bounded): the platform writes it after the controller asks.
async fn scaled_to_zero(cluster: &FakeCluster, revision: u64) -> u64 {
    let name = format!("api-r{revision}");
    let found = || {
        cluster
            .changes(Resource::ReplicaSets, NAMESPACE)
            .iter()
            .find(|c| c.name == name && c.object["spec"]["replicas"] == 0)
            .map(|c| c.seq)
    };
    let waited = tokio::time::timeout(WAIT, async {
        loop {
            match found() {
                Some(seq) => return seq,
                None => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
    waited
        .await
        .unwrap_or_else(|_| panic!("{name} never scaled to zero"))
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
    let route = json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "api-route", "labels": {"team": "web"}},
        "spec": {
            "parentRefs": [{"name": "edge"}],
            "hostnames": ["api.example.com"],
            "rules": [
                {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                 "backendRefs": [{"name": "api-stable", "port": 8080}]},
                {"matches": [{"path": {"type": "PathPrefix", "value": "/static"}}],
                 "backendRefs": [{"name": "cdn", "port": 80}]},
            ],
        },
    });
    let routing = "      plugins:\n        argoproj-labs/gatewayAPI: {httpRoute: api-route}";
    let rig = rig(routing, true, &[(Resource::HttpRoutes, route)]).await;
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
    let service = json!({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "api-vs"},
        "spec": {
            "hosts": ["api"],
            "gateways": ["edge"],
            "http": [
                {"name": "primary", "retries": {"attempts": 3},
                 "route": [{"destination": {"host": "api"}}]},
                {"name": "legacy", "route": [{"destination": {"host": "legacy"}}]},
            ],
        },
    });
    let rule = json!({
        "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
        "metadata": {"name": "api-dr"},
        "spec": {
            "host": "api",
            "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}},
            "subsets": [{"name": "stable", "labels": {"app": "api"}}],
        },
    });
    let routing = "      istio:\n        virtualService: {name: api-vs, routes: [primary]}\n        destinationRule: {name: api-dr, canarySubsetName: canary, stableSubsetName: stable}";
    let objects = [
        (Resource::VirtualServices, service),
        (Resource::DestinationRules, rule),
    ];
    let rig = rig(routing, true, &objects).await;
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
    let ingress = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "api", "annotations": {"kubernetes.io/ingress.class": "nginx"}},
        "spec": {"rules": [{"host": "api.example.com", "http": {"paths": [
            {"path": "/", "pathType": "Prefix",
             "backend": {"service": {"name": "api-stable", "port": {"number": 8080}}}},
        ]}}]},
    });
    let routing = "      nginx: {stableIngress: api}";
    let rig = rig(routing, false, &[(Resource::Ingresses, ingress.clone())]).await;
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
