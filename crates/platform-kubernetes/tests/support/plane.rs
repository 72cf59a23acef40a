//! A control plane on a fake cluster with the kubernetes platform and its traffic router, the
//! user's objects made beforehand, and the story every router plugin is put through.

use std::sync::Arc;
use std::time::Duration;

use bellwether_api::{DeployRequest, ServiceView};
use bellwether_controller::{
    ControlPlane, Options as PlaneOptions, Platform, Seams, TrafficRouter,
};
use bellwether_core::platform::SecretSource;
use bellwether_core::rollout::{Command, Phase};
use bellwether_kube_fake::{FakeCluster, Resource};
use bellwether_platform_kubernetes::{KubernetesTraffic, Options, connect};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);
pub const NAMESPACE: &str = "bellwether";

pub struct Rig {
    pub plane: ControlPlane,
    pub cluster: Arc<super::OnFakeCluster>,
    _dir: tempfile::TempDir,
}

/// A control plane of `project` on a fake cluster holding the user's `objects`, reading
/// replicas' secrets from `secrets`.
pub async fn rig(
    project: bellwether_core::spec::Project,
    objects: &[(Resource, Value)],
    secrets: Option<Arc<dyn SecretSource>>,
) -> Rig {
    let dir = tempfile::tempdir().expect("a directory");
    let from = secrets.clone();
    let cluster = super::start(dir.path(), |options| options.secrets = from).await;
    let kubeconfig = cluster
        .cluster
        .write_kubeconfig(dir.path(), NAMESPACE)
        .expect("a kubeconfig");
    let connection = connect(Some(&kubeconfig), None).await.expect("connected");
    for (resource, object) in objects {
        let made = cluster.cluster.create(*resource, NAMESPACE, object.clone());
        made.expect("the user's object created");
    }
    let traffic = KubernetesTraffic::new(connection.client, &Options::new(NAMESPACE));
    let mut seams = Seams::new(Arc::clone(&cluster) as Arc<dyn Platform>);
    seams.traffic = Some(Arc::new(traffic) as Arc<dyn TrafficRouter>);
    let options = PlaneOptions {
        data_dir: dir.path().join("data"),
        base_dir: dir.path().to_owned(),
        project,
        secrets,
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

impl Rig {
    pub fn cluster(&self) -> &FakeCluster {
        &self.cluster.cluster
    }

    pub async fn deploy(&self, version: &str) {
        let request = DeployRequest {
            version: version.to_owned(),
            ..DeployRequest::default()
        };
        self.plane.deploy("api", request).await.expect("deployed");
    }

    pub async fn command(&self, command: Command) {
        self.plane
            .command("api", command, "test")
            .await
            .expect("the command taken");
    }

    /// Waits (bounded) until the service's view satisfies `check`, looking every 50 ms.
    pub async fn until(&self, what: &str, check: impl Fn(&ServiceView) -> bool) {
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

    pub async fn paused_at(&self, step: usize) {
        self.until(&format!("the pause at step {step}"), |v| {
            v.phase == Phase::Paused
                && v.step.as_ref().is_some_and(|s| s.index == step)
                && v.routing_pending.is_none()
        })
        .await;
    }

    pub async fn healthy_on(&self, version: &str) {
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
    pub async fn promote_then_abort(
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

    pub async fn stop(self) {
        self.plane.shutdown(true).await;
    }
}

/// The change at which the ReplicaSet of `revision` was first asked for no pods, waited for
/// (bounded): the platform writes it after the controller asks.
pub async fn scaled_to_zero(cluster: &FakeCluster, revision: u64) -> u64 {
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

/// A router plugin as a user sets it up: the service's `trafficRouting` (indented under it)
/// and the objects the user made beforehand.
pub struct Plugin {
    pub routing: &'static str,
    pub objects: Vec<(Resource, Value)>,
}

/// An HTTPRoute `api-route` whose first rule sends everything to `api-stable`, with a rule of
/// its own (to `cdn`) and fields bellwether must leave alone.
pub fn gateway_api() -> Plugin {
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
    Plugin {
        routing: "      plugins:\n        argoproj-labs/gatewayAPI: {httpRoute: api-route}",
        objects: vec![(Resource::HttpRoutes, route)],
    }
}

/// A VirtualService `api-vs` (its route `primary` bellwether's, `legacy` the user's) over a
/// DestinationRule `api-dr` with a `stable` subset.
pub fn istio() -> Plugin {
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
    Plugin {
        routing: "      istio:\n        virtualService: {name: api-vs, routes: [primary]}\n        destinationRule: {name: api-dr, canarySubsetName: canary, stableSubsetName: stable}",
        objects: vec![
            (Resource::VirtualServices, service),
            (Resource::DestinationRules, rule),
        ],
    }
}

/// A stable Ingress `api` of the NGINX class, to `api-stable`.
pub fn nginx() -> Plugin {
    let ingress = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "api", "annotations": {"kubernetes.io/ingress.class": "nginx"}},
        "spec": {"rules": [{"host": "api.example.com", "http": {"paths": [
            {"path": "/", "pathType": "Prefix",
             "backend": {"service": {"name": "api-stable", "port": {"number": 8080}}}},
        ]}}]},
    });
    Plugin {
        routing: "      nginx: {stableIngress: api}",
        objects: vec![(Resource::Ingresses, ingress)],
    }
}

/// A service whose canary goes 20% with a header route and a mirror (when `mirror`), then
/// 50%, pausing after each, its pods the test workload, with `run`'s extra fields (`, secrets:
/// [TOKEN]`), routed by `routing`.
pub fn canary(routing: &str, mirror: bool, run: &str) -> bellwether_core::spec::Project {
    let command = serde_json::to_string(&super::workload().command).expect("json");
    let mirror = if mirror {
        "\n          - setMirrorRoute: {name: copy, percentage: 35}"
    } else {
        ""
    };
    let source = format!(
        r#"
services:
  api:
    run: {{image: "python:3", command: {command}{run}}}
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
