//! Every request the API server was asked to serve, as Kubernetes' authorizer sees it: the verb
//! (from the method and whether the path names one object, a collection or a watch), the API
//! group, the resource and its subresource, the namespace. A test holds a Role to them.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::Method;

/// One authorized request: what an RBAC rule must allow for it to be served.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiRequest {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete` or `deletecollection`.
    pub verb: &'static str,
    /// The API group, `""` for the core group.
    pub group: String,
    /// The resource's plural; empty for a path that names no resource (e.g. `/version`).
    pub resource: String,
    /// `status`, `log`…
    pub subresource: Option<String>,
    /// `None` for a cluster-wide request.
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// The path as requested.
    pub path: String,
}

impl ApiRequest {
    /// The request `method path` (`watch`: whether `watch=true` was asked).
    pub(crate) fn of(method: &Method, path: &str, watch: bool) -> Self {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (group, rest) = match segments.as_slice() {
            ["api", _version, rest @ ..] => ("", rest),
            ["apis", group, _version, rest @ ..] => (*group, rest),
            _ => ("", &[][..]),
        };
        let (namespace, rest) = match rest {
            ["namespaces", namespace, rest @ ..] if !rest.is_empty() => (Some(*namespace), rest),
            rest => (None, rest),
        };
        let owned = |s: Option<&&str>| s.map(|s| (*s).to_owned());
        let (resource, name, subresource) = (rest.first(), rest.get(1), rest.get(2));
        let verb = match (method.as_str(), name.is_some()) {
            ("GET" | "HEAD", _) if watch => "watch",
            ("GET" | "HEAD", true) => "get",
            ("GET" | "HEAD", false) => "list",
            ("POST", _) => "create",
            ("PUT", _) => "update",
            ("PATCH", _) => "patch",
            ("DELETE", true) => "delete",
            ("DELETE", false) => "deletecollection",
            _ => "unknown",
        };
        Self {
            verb,
            group: group.to_owned(),
            resource: owned(resource).unwrap_or_default(),
            subresource: owned(subresource),
            namespace: owned(namespace.as_ref()),
            name: owned(name),
            path: path.to_owned(),
        }
    }

    /// The same request under another verb.
    pub(crate) fn as_verb(&self, verb: &'static str) -> Self {
        Self {
            verb,
            ..self.clone()
        }
    }
}

/// The requests served so far, in the order they arrived.
#[derive(Clone, Default)]
pub(crate) struct Requests(Arc<Mutex<Vec<ApiRequest>>>);

impl Requests {
    fn lock(&self) -> MutexGuard<'_, Vec<ApiRequest>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn record(&self, request: ApiRequest) {
        self.lock().push(request);
    }

    pub(crate) fn all(&self) -> Vec<ApiRequest> {
        self.lock().clone()
    }
}
