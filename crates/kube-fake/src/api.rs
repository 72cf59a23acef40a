//! The API server's REST surface for the resources the fake keeps: list (and watch), create,
//! get, update (`resourceVersion` checked), patch (server-side apply, JSON merge patch),
//! delete (propagation, grace), a status subresource and pod logs. Every request presents
//! the cluster's bearer token.

mod log;
mod metrics;
mod watch;

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::apply;
use crate::logs::Logs;
use crate::requests::{ApiRequest, Requests};
use crate::resource::{Key, Resource};
use crate::script::Script;
use crate::status::Status;
use crate::store::{Propagation, Selector, Store, resource_version};
use crate::time::Now;
use crate::usage::Usage;

/// What every request is served with.
#[derive(Clone)]
pub(crate) struct Api {
    pub store: Store,
    pub script: Script,
    pub logs: Logs,
    pub token: String,
    pub bookmark_interval: Duration,
    pub requests: Requests,
    pub usage: Usage,
}

type Params = BTreeMap<String, String>;

/// A request's path, taken apart.
struct Target {
    resource: Resource,
    namespace: String,
    name: Option<String>,
    subresource: Option<String>,
}

fn target(path: &str) -> Result<Target, Status> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group_version, rest) = match segments.as_slice() {
        ["api", "v1", rest @ ..] => ("v1".to_owned(), rest),
        ["apis", group, version, rest @ ..] => (format!("{group}/{version}"), rest),
        _ => return Err(Status::not_served(path)),
    };
    let (namespace, plural, name, subresource) = match rest {
        ["namespaces", ns, plural] => (ns, plural, None, None),
        ["namespaces", ns, plural, name] => (ns, plural, Some(name), None),
        ["namespaces", ns, plural, name, sub] => (ns, plural, Some(name), Some(sub)),
        _ => return Err(Status::not_served(path)),
    };
    let resource =
        Resource::from_path(&group_version, plural).ok_or_else(|| Status::not_served(path))?;
    Ok(Target {
        resource,
        namespace: (*namespace).to_owned(),
        name: name.map(|n| (*n).to_owned()),
        subresource: subresource.map(|s| (*s).to_owned()),
    })
}

/// Every request: authenticated, recorded as the authorizer would see it, then dispatched by
/// method and path.
pub(crate) async fn serve(
    State(api): State<Api>,
    method: Method,
    uri: Uri,
    Query(params): Query<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let presented = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "));
    if presented != Some(api.token.as_str()) {
        return Status::unauthorized().into_response();
    }
    let request = ApiRequest::of(&method, uri.path(), flag(&params, "watch"));
    api.requests.record(request.clone());
    match dispatch(&api, &method, &request, &params, &headers, &body).await {
        Ok(response) => response,
        Err(status) => status.into_response(),
    }
}

async fn dispatch(
    api: &Api,
    method: &Method,
    request: &ApiRequest,
    params: &Params,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, Status> {
    let path = request.path.as_str();
    if let Some(served) = metrics::serve(api, method, path, params) {
        return served;
    }
    let target = target(path)?;
    let collection = Key {
        resource: target.resource,
        namespace: target.namespace.clone(),
        name: String::new(),
    };
    let Some(name) = target.name.clone() else {
        return match *method {
            Method::GET if flag(params, "watch") => Ok(watch::serve(api, &collection, params)?),
            Method::GET => list(api, &collection, params),
            Method::POST => create(api, collection, body),
            _ => Err(Status::method_not_allowed(method)),
        };
    };
    let key = Key { name, ..collection };
    match (method, target.subresource.as_deref()) {
        (&Method::GET, None) => api
            .store
            .get(&key)
            .map(ok)
            .ok_or_else(|| Status::not_found(&key)),
        (&Method::PUT, None) => update(api, &key, params, headers, body, false),
        (&Method::PUT, Some("status")) => update(api, &key, params, headers, body, true),
        (&Method::PATCH, None) => patch(api, &key, request, params, headers, body),
        (&Method::DELETE, None) => delete(api, &key, params, body),
        (&Method::GET, Some("log")) if key.resource == Resource::Pods => {
            log::serve(api, &key, params).await
        }
        (_, None | Some("status")) => Err(Status::method_not_allowed(method)),
        _ => Err(Status::not_served(path)),
    }
}

fn ok(object: Value) -> Response {
    ([("content-type", "application/json")], object.to_string()).into_response()
}

fn created(object: Value) -> Response {
    (
        axum::http::StatusCode::CREATED,
        [("content-type", "application/json")],
        object.to_string(),
    )
        .into_response()
}

fn flag(params: &Params, name: &str) -> bool {
    params.get(name).is_some_and(|v| v == "true" || v == "1")
}

fn number<T: std::str::FromStr>(params: &Params, name: &str) -> Result<Option<T>, Status> {
    params
        .get(name)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse().map_err(|_| {
                Status::bad_request(format!("{name}: invalid value {v:?}, expected a number"))
            })
        })
        .transpose()
}

fn selector(params: &Params) -> Result<Selector, Status> {
    Selector::parse(params.get("labelSelector").map_or("", String::as_str))
}

/// A body that must be a JSON object whose `metadata`, if any, is an object.
fn object(body: &[u8]) -> Result<Value, Status> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Status::bad_request(format!("the body is not a JSON object: {e}")))?;
    if !value.is_object() || !(value["metadata"].is_object() || value["metadata"].is_null()) {
        return Err(Status::bad_request(
            "the body must be an object whose metadata is an object".into(),
        ));
    }
    Ok(value)
}

fn check_identity(key: &Key, body: &Value) -> Result<(), Status> {
    let name = body["metadata"]["name"].as_str();
    if name.is_some_and(|n| n != key.name) {
        return Err(Status::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({})",
            name.unwrap_or_default(),
            key.name
        )));
    }
    let namespace = body["metadata"]["namespace"].as_str();
    if namespace.is_some_and(|n| n != key.namespace) {
        return Err(Status::bad_request(format!(
            "the namespace of the object ({}) does not match the namespace on the request ({})",
            namespace.unwrap_or_default(),
            key.namespace
        )));
    }
    Ok(())
}

fn scripted_conflict(api: &Api, key: &Key) -> Result<(), Status> {
    if api.script.take_conflict(key.resource) {
        return Err(Status::conflict(
            key,
            "the object has been modified (scripted conflict)",
        ));
    }
    Ok(())
}

fn list(api: &Api, collection: &Key, params: &Params) -> Result<Response, Status> {
    let (items, rv) = api.store.list(
        collection.resource,
        Some(&collection.namespace),
        &selector(params)?,
    );
    let (api_version, kind) = collection.resource.type_meta();
    Ok(ok(json!({
        "apiVersion": api_version,
        "kind": format!("{kind}List"),
        "metadata": {"resourceVersion": rv.to_string()},
        "items": items,
    })))
}

fn create(api: &Api, collection: Key, body: &[u8]) -> Result<Response, Status> {
    let object = object(body)?;
    let name = match (
        object["metadata"]["name"].as_str(),
        object["metadata"]["generateName"].as_str(),
    ) {
        (Some(name), _) if !name.is_empty() => name.to_owned(),
        (_, Some(prefix)) if !prefix.is_empty() => format!("{prefix}{}", suffix()),
        _ => {
            return Err(Status::bad_request(
                "metadata.name: Required value: name or generateName is required".into(),
            ));
        }
    };
    let key = Key { name, ..collection };
    check_identity(&key, &object)?;
    scripted_conflict(api, &key)?;
    api.store.create(key, object).map(created)
}

/// Five characters of the alphabet `generateName` draws from.
pub(crate) fn suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id());
    (0..5)
        .map(|_| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ALPHABET[(seed >> 33) as usize % ALPHABET.len()] as char
        })
        .collect()
}

fn manager(params: &Params, headers: &HeaderMap) -> String {
    params.get("fieldManager").cloned().unwrap_or_else(|| {
        headers
            .get("user-agent")
            .and_then(|h| h.to_str().ok())
            .and_then(|agent| agent.split('/').next())
            .unwrap_or("unknown")
            .to_owned()
    })
}

/// PUT: the whole object (or its status) replaced, if its `resourceVersion` is current.
fn update(
    api: &Api,
    key: &Key,
    params: &Params,
    headers: &HeaderMap,
    body: &[u8],
    status_only: bool,
) -> Result<Response, Status> {
    let replacement = object(body)?;
    check_identity(key, &replacement)?;
    scripted_conflict(api, key)?;
    let expected = replacement["metadata"]["resourceVersion"]
        .as_str()
        .map(|rv| {
            rv.parse::<u64>().map_err(|_| {
                Status::bad_request(format!("metadata.resourceVersion: invalid value {rv:?}"))
            })
        })
        .transpose()?;
    let manager = manager(params, headers);
    let now = Now.seconds();
    api.store
        .update(key, expected, |current| {
            if status_only {
                current["status"] = replacement["status"].clone();
                return Ok(());
            }
            let kept_status = current["status"].clone();
            let kept_metadata = current["metadata"].clone();
            let mut replaced = replacement.clone();
            replaced["apiVersion"] = current["apiVersion"].clone();
            replaced["kind"] = current["kind"].clone();
            replaced["status"] = kept_status;
            for server_owned in [
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "generation",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "managedFields",
            ] {
                replaced["metadata"][server_owned] = kept_metadata[server_owned].clone();
            }
            if let Some(metadata) = replaced["metadata"].as_object_mut() {
                metadata.retain(|_, v| !v.is_null());
            }
            apply::merge(&mut replaced, &json!({}), &manager, "Update", &now);
            *current = replaced;
            Ok(())
        })
        .map(ok)
}

/// PATCH: server-side apply (creating the object if there is none), or a JSON merge patch.
fn patch(
    api: &Api,
    key: &Key,
    request: &ApiRequest,
    params: &Params,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, Status> {
    let content_type = headers
        .get("content-type")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let now = Now.seconds();
    match content_type.split(';').next().unwrap_or_default().trim() {
        "application/apply-patch+yaml" => {
            let Some(manager) = params.get("fieldManager").filter(|m| !m.is_empty()) else {
                return Err(Status::bad_request(
                    "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".into(),
                ));
            };
            let applied = object(body)?;
            check_identity(key, &applied)?;
            let (api_version, kind) = key.resource.type_meta();
            if applied["apiVersion"] != api_version || applied["kind"] != kind {
                return Err(Status::bad_request(format!(
                    "apiVersion and kind must be {api_version} and {kind}, got {} and {}",
                    applied["apiVersion"], applied["kind"]
                )));
            }
            scripted_conflict(api, key)?;
            if api.store.get(key).is_none() {
                // An apply that creates is authorized as a create too.
                api.requests.record(request.as_verb("create"));
                let mut object = json!({"metadata": {}});
                apply::merge(&mut object, &applied, manager, "Apply", &now);
                match api.store.create(key.clone(), object) {
                    Ok(object) => return Ok(created(object)),
                    // Created meanwhile: apply to it below.
                    Err(status) if status.reason == "AlreadyExists" => {}
                    Err(status) => return Err(status),
                }
            }
            api.store
                .update(key, None, |current| {
                    apply::merge(current, &applied, manager, "Apply", &now);
                    Ok(())
                })
                .map(ok)
        }
        "application/merge-patch+json" => {
            let merge = object(body)?;
            scripted_conflict(api, key)?;
            let expected = merge["metadata"]["resourceVersion"]
                .as_str()
                .and_then(|rv| rv.parse().ok());
            let manager = manager(params, headers);
            api.store
                .update(key, expected, |current| {
                    merge_patch(current, &merge);
                    apply::merge(current, &json!({}), &manager, "Update", &now);
                    Ok(())
                })
                .map(ok)
        }
        other => Err(Status::unsupported_media_type(other)),
    }
}

/// RFC 7396: objects merged, `null` removes, anything else replaces.
fn merge_patch(into: &mut Value, patch: &Value) {
    match (into, patch) {
        (Value::Object(into), Value::Object(patch)) => {
            for (key, value) in patch {
                if matches!(key.as_str(), "apiVersion" | "kind") {
                    continue;
                }
                if value.is_null() {
                    into.remove(key);
                } else {
                    merge_patch(into.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (into, patch) => *into = patch.clone(),
    }
}

/// DELETE: options from the body (`DeleteOptions`) or the query.
fn delete(api: &Api, key: &Key, params: &Params, body: &[u8]) -> Result<Response, Status> {
    let options: Value = if body.is_empty() {
        json!({})
    } else {
        object(body)?
    };
    let policy = options["propagationPolicy"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| params.get("propagationPolicy").cloned());
    let propagation = match policy.as_deref() {
        None | Some("Background") => Propagation::Background,
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            return Err(Status::bad_request(format!(
                "propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
    };
    let grace = match options["gracePeriodSeconds"].as_i64() {
        Some(grace) => Some(grace),
        None => number(params, "gracePeriodSeconds")?,
    };
    if let Some(expected) = options["preconditions"]["resourceVersion"].as_str() {
        let current = api.store.get(key).ok_or_else(|| Status::not_found(key))?;
        if resource_version(&current).to_string() != expected {
            return Err(Status::conflict(
                key,
                "the resourceVersion in the precondition does not match",
            ));
        }
    }
    api.store.delete(key, propagation, grace).map(ok)
}
