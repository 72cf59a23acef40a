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
            v.phase == Phase::Paused && v.step.as_ref().is_some_and(|s| s.index == step)
        })
        .await;
    }

    async fn healthy_on(&self, version: &str) {
        self.until(&format!("{version} stable"), |v| {
            v.phase == Phase::Healthy
                && v.target.is_none()
                && v.stable.as_ref().is_some_and(|s| s.version == version)
        })
        .await;
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
    rig.deploy("v1").await;
    rig.healthy_on("v1").await;
    // Each write of the route meets a conflict first, and is tried again.
    rig.cluster()
        .script()
        .conflict_next_writes(Resource::HttpRoutes, 2);
    rig.deploy("v2").await;
    rig.paused_at(3).await;
    rig.command(Command::Promote { full: false }).await;
    rig.paused_at(5).await;
    rig.command(Command::Promote { full: false }).await;
    rig.healthy_on("v2").await;
    let promoted = scaled_to_zero(rig.cluster(), 1).await;
    rig.deploy("v3").await;
    rig.paused_at(3).await;
    rig.command(Command::Abort {
        reason: Some("test".into()),
    })
    .await;
    let aborted = scaled_to_zero(rig.cluster(), 3).await;
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
