//! The resource metrics API, `metrics.k8s.io/v1beta1` `PodMetrics`, as metrics-server serves
//! it: list (label selectors) and get in a namespace, each running pod's container measured
//! from its process ([`Usage`](crate::usage::Usage)); a pod with no running container has no
//! metrics. [`Script::metrics_api`](crate::Script::metrics_api) takes the group away (`404`),
//! as on a cluster with no metrics-server, and [`Script::fail_metrics`](crate::Script::fail_metrics)
//! fails the next requests (`500`).

use axum::http::Method;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Api, Params, ok, selector};
use crate::resource::{Key, Resource};
use crate::status::Status;
use crate::store::Selector;
use crate::time::Now;
use crate::usage::Reading;

/// The group and version this module serves.
const GROUP_VERSION: &str = "metrics.k8s.io/v1beta1";

/// Serves `method path` when it is a path of the metrics API (`None` otherwise).
pub(super) fn serve(
    api: &Api,
    method: &Method,
    path: &str,
    params: &Params,
) -> Option<Result<Response, Status>> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let ["apis", "metrics.k8s.io", rest @ ..] = segments.as_slice() else {
        return None;
    };
    if !api.script.serves_metrics() {
        return Some(Err(Status::not_served(path)));
    }
    if api.script.take_metrics_failure() {
        let why = "Internal error occurred: unable to fetch pod metrics, as scripted";
        return Some(Err(Status::internal_error(why.into())));
    }
    let (namespace, name) = match rest {
        ["v1beta1", "namespaces", ns, "pods"] => (*ns, None),
        ["v1beta1", "namespaces", ns, "pods", name] => (*ns, Some(*name)),
        _ => return Some(Err(Status::not_served(path))),
    };
    if *method != Method::GET {
        return Some(Err(Status::method_not_allowed(method)));
    }
    Some(match name {
        None => list(api, namespace, params),
        Some(name) => get(api, namespace, name),
    })
}

fn list(api: &Api, namespace: &str, params: &Params) -> Result<Response, Status> {
    let selector = selector(params)?;
    let items: Vec<Value> = pods(api, namespace, &selector)
        .iter()
        .filter_map(|pod| measured(api, pod))
        .collect();
    Ok(ok(json!({
        "kind": "PodMetricsList",
        "apiVersion": GROUP_VERSION,
        "metadata": {},
        "items": items,
    })))
}

fn get(api: &Api, namespace: &str, name: &str) -> Result<Response, Status> {
    let key = Key {
        resource: Resource::Pods,
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    };
    let not_found = || Status::not_found(&key);
    let pod = api.store.get(&key).ok_or_else(not_found)?;
    measured(api, &pod).map(ok).ok_or_else(not_found)
}

fn pods(api: &Api, namespace: &str, selector: &Selector) -> Vec<Value> {
    api.store.list(Resource::Pods, Some(namespace), selector).0
}

/// The pod's `PodMetrics`, when its container runs.
fn measured(api: &Api, pod: &Value) -> Option<Value> {
    let metadata = &pod["metadata"];
    let key = Key {
        resource: Resource::Pods,
        namespace: metadata["namespace"].as_str()?.to_owned(),
        name: metadata["name"].as_str()?.to_owned(),
    };
    let reading = api.usage.read(&key)?;
    let container = pod["spec"]["containers"][0]["name"].as_str().unwrap_or("");
    Some(pod_metrics(&key, metadata, container, reading))
}

fn pod_metrics(key: &Key, metadata: &Value, container: &str, reading: Reading) -> Value {
    let nanocores = (reading.cores * 1e9).round() as u64;
    json!({
        "kind": "PodMetrics",
        "apiVersion": GROUP_VERSION,
        "metadata": {
            "name": key.name,
            "namespace": key.namespace,
            "labels": metadata["labels"],
            "creationTimestamp": Now.seconds(),
        },
        "timestamp": Now.seconds(),
        "window": format!("{:.3}s", reading.window.as_secs_f64()),
        "containers": [{
            "name": container,
            "usage": {
                "cpu": format!("{nanocores}n"),
                "memory": format!("{}Ki", reading.memory_bytes / 1024),
            },
        }],
    })
}
