//! The routing resources (Services, Ingresses, Gateway API HTTPRoutes, Istio VirtualServices
//! and DestinationRules) served like the others through kube-rs's dynamic client: apply,
//! get, list, watch, merge patch, a stale update refused, scripted conflicts, and every
//! change read back in order.

use std::time::Duration;

use bellwether_kube_fake::{FakeCluster, Options, Resource};
use futures_util::{StreamExt, TryStreamExt};
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
    WatchEvent, WatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::json;

async fn cluster() -> (FakeCluster, Client) {
    let cluster = FakeCluster::start(Options::default())
        .await
        .expect("a fake cluster");
    let dir = tempfile::tempdir().expect("a directory");
    let path = cluster
        .write_kubeconfig(dir.path(), "test")
        .expect("a kubeconfig");
    let kubeconfig = Kubeconfig::read_from(&path).expect("a kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("the kubeconfig is read");
    (cluster, Client::try_from(config).expect("a client"))
}

fn api(client: &Client, resource: Resource) -> Api<DynamicObject> {
    let (api_version, kind) = resource.type_meta();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let ar = ApiResource::from_gvk_with_plural(&gvk, resource.plural());
    Api::namespaced_with(client.clone(), "test", &ar)
}

#[tokio::test]
async fn every_routing_resource_is_applied_read_listed_and_recorded() {
    let (cluster, client) = cluster().await;
    let apply = PatchParams::apply("bellwether").force();
    for resource in [
        Resource::Services,
        Resource::Ingresses,
        Resource::HttpRoutes,
        Resource::VirtualServices,
        Resource::DestinationRules,
    ] {
        let (api_version, kind) = resource.type_meta();
        let routes = api(&client, resource);
        let object = json!({
            "apiVersion": api_version, "kind": kind,
            "metadata": {"name": "api", "labels": {"app": "api"}},
            "spec": {"weight": 1},
        });
        routes
            .patch("api", &apply, &Patch::Apply(&object))
            .await
            .unwrap_or_else(|e| panic!("{kind} applied: {e}"));
        let merge = json!({"spec": {"weight": 2}});
        routes
            .patch("api", &PatchParams::default(), &Patch::Merge(&merge))
            .await
            .unwrap_or_else(|e| panic!("{kind} patched: {e}"));
        let got = routes.get("api").await.expect("read back");
        assert_eq!(got.data["spec"]["weight"], 2, "{kind}");
        let listed = routes
            .list(&ListParams::default().labels("app=api"))
            .await
            .expect("listed");
        assert_eq!(listed.items.len(), 1, "{kind}");
        let weights: Vec<_> = cluster
            .changes(resource, "test")
            .iter()
            .map(|c| (c.kind, c.object["spec"]["weight"].clone()))
            .collect();
        assert_eq!(
            weights,
            [("ADDED", json!(1)), ("MODIFIED", json!(2))],
            "{kind}"
        );
    }
}

#[tokio::test]
async fn a_stale_replace_and_a_scripted_conflict_are_409_and_a_watch_sees_each_change() {
    let (cluster, client) = cluster().await;
    let routes = api(&client, Resource::VirtualServices);
    let object = json!({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "api"},
        "spec": {"http": [{"name": "primary"}]},
    });
    let created: DynamicObject = serde_json::from_value(object).expect("an object");
    let created = routes
        .create(&PostParams::default(), &created)
        .await
        .expect("created");
    let mut stream = routes
        .watch(&WatchParams::default(), "0")
        .await
        .expect("a watch")
        .boxed();
    let mut changed = created.clone();
    changed.data["spec"]["http"][0]["name"] = json!("renamed");
    routes
        .replace("api", &PostParams::default(), &changed)
        .await
        .expect("replaced");
    let stale = routes
        .replace("api", &PostParams::default(), &changed)
        .await;
    assert!(
        matches!(stale, Err(kube::Error::Api(ref e)) if e.code == 409),
        "{stale:?}"
    );
    cluster
        .script()
        .conflict_next_writes(Resource::VirtualServices, 1);
    let apply = PatchParams::apply("bellwether").force();
    let conflicted = routes
        .patch(
            "api",
            &apply,
            &Patch::Apply(
                &json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService"}),
            ),
        )
        .await;
    assert!(
        matches!(conflicted, Err(kube::Error::Api(ref e)) if e.code == 409),
        "{conflicted:?}"
    );
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let next = tokio::time::timeout(Duration::from_secs(20), stream.try_next()).await;
        match next.expect("a change in time").expect("a watch event") {
            Some(WatchEvent::Added(o) | WatchEvent::Modified(o)) => {
                seen.push(o.data["spec"]["http"][0]["name"].clone());
            }
            Some(WatchEvent::Bookmark(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, [json!("primary"), json!("renamed")]);
}
