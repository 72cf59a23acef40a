//! Who may call which route, checked before the handler and recorded after it.
//!
//! Every route declares what it needs ([`Need`]): nothing (`GET /v1/health`), a GitHub
//! signature the handler checks itself (the webhook), or a bearer token whose role grants a
//! [`Permission`]. Before the handler, the guard refuses requests a browser could have been
//! tricked into sending: a `Host` that is not this server (DNS rebinding), an `Origin` of
//! another site, a body that is not `application/json` (a cross-site form or `text/plain`
//! POST). Every request that may change state is then written to the audit trail with who
//! sent it, what it asked, from where, and how it ended. The server sets no cookies.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, RawPathParams, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bellwether_access::{
    AccessError, AuditLog, Denied, Entry, Identity, Outcome, Permission, Tokens,
};
use bellwether_api::ApiError;
use bellwether_runner::now_ms;
use bellwether_store::Store;

use crate::error::Failure;

/// What a route needs from its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Anyone who reaches the server.
    Public,
    /// A request signed with the webhook secret, checked by the handler.
    Signed,
    /// A bearer token whose role grants this.
    Token(Permission),
}

/// One route of the API as the guard sees it, for listings and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteRule {
    pub method: Method,
    pub path: String,
    pub need: Need,
    /// How the audit trail names the request: `deploy`, `token create`, …
    pub action: &'static str,
}

/// The tokens, the audit trail and the addresses this server answers to.
pub struct Access {
    tokens: Tokens,
    audit: AuditLog,
    hosts: Hosts,
}

impl Access {
    /// Reads the tokens and the audit trail from `store`. The server answers `Host` headers
    /// naming an IP address or `localhost` at `listen`'s port, and the `names` given.
    pub fn open(
        store: Arc<dyn Store>,
        listen: SocketAddr,
        names: Vec<String>,
    ) -> Result<Self, AccessError> {
        Ok(Self {
            tokens: Tokens::open(Arc::clone(&store))?,
            audit: AuditLog::open(store)?,
            hosts: Hosts::new(listen.port(), names),
        })
    }

    /// Answers `Host` headers naming `port` too: another listener of this server's.
    pub fn answer_at(&mut self, port: u16) {
        self.hosts.ports.push(port);
    }

    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }
}

/// The names a `Host` header may carry.
pub(crate) struct Hosts {
    ports: Vec<u16>,
    names: Vec<String>,
}

impl Hosts {
    /// IP addresses and `localhost` at `port`, and `names`.
    pub(crate) fn new(port: u16, names: Vec<String>) -> Self {
        Self {
            ports: vec![port],
            names: names.into_iter().map(|n| n.to_ascii_lowercase()).collect(),
        }
    }

    /// Refuses what a browser could have been tricked into sending: a `Host` that is not this
    /// server (DNS rebinding), an `Origin` of another site, a cross-site fetch.
    pub(crate) fn admit(&self, headers: &HeaderMap) -> Result<(), Failure> {
        let refuse = |status, message| Err(Failure { status, message });
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !self.allows(host) {
            return refuse(
                StatusCode::MISDIRECTED_REQUEST,
                format!("this server does not answer to the host `{host}`; use its address"),
            );
        }
        // Either scheme: one port speaks only one of them, so the other cannot be a page of a
        // different site at this host and port.
        if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok())
            && origin != format!("http://{host}")
            && origin != format!("https://{host}")
        {
            return refuse(
                StatusCode::FORBIDDEN,
                format!("requests from the page {origin} are refused: not this server's origin"),
            );
        }
        let cross_site = headers
            .get("sec-fetch-site")
            .is_some_and(|s| s.as_bytes() == b"cross-site");
        if cross_site {
            return refuse(
                StatusCode::FORBIDDEN,
                "cross-site requests are refused".to_owned(),
            );
        }
        Ok(())
    }

    fn allows(&self, host: &str) -> bool {
        let (name, port) = match host.rsplit_once(':') {
            Some((name, port)) if !port.contains(']') => (name, port.parse().ok()),
            _ => (host, Some(80)),
        };
        let name = name.trim_start_matches('[').trim_end_matches(']');
        let name = name.to_ascii_lowercase();
        port.is_some_and(|port| self.ports.contains(&port))
            && (name.parse::<IpAddr>().is_ok() || name == "localhost" || self.names.contains(&name))
    }
}

/// The environment a request acted on, for its audit entry: set by the handler on its
/// response.
#[derive(Clone, Debug)]
pub(crate) struct AuditEnvironment(pub(crate) String);

/// What the guard of one route knows.
#[derive(Clone)]
pub(crate) struct Guard {
    pub(crate) access: Arc<Access>,
    pub(crate) need: Need,
    pub(crate) action: &'static str,
}

/// The guard around one route: browser checks, credential, role; the handler; the audit.
pub(crate) async fn guard(
    State(guard): State<Guard>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    params: RawPathParams,
    mut request: Request,
    next: Next,
) -> Response {
    let target = params.iter().next().map(|(_, v)| v.to_owned());
    let changes = request.method() != Method::GET;
    let checked = check(&guard, request.headers(), request.method());
    let (identity, response) = match checked {
        Ok(identity) => {
            request.extensions_mut().insert(identity.clone());
            (Some(identity), next.run(request).await)
        }
        Err((identity, failure)) => (identity, failure.into_response()),
    };
    if !changes {
        return response;
    }
    let environment = response
        .extensions()
        .get::<AuditEnvironment>()
        .map(|e| e.0.clone());
    let (response, reason) = reason_of(response).await;
    let status = response.status();
    let outcome = match status.as_u16() {
        200..=299 => Outcome::Done,
        401 | 403 | 415 | 421 => Outcome::Refused,
        _ => Outcome::Failed,
    };
    let entry = Entry {
        at_ms: now_ms(),
        // Refused before a credential was read: nobody is known.
        actor: identity
            .as_ref()
            .map_or_else(|| "anonymous".to_owned(), |i| i.name.clone()),
        role: identity.map(|i| i.role),
        action: guard.action.to_owned(),
        target,
        environment,
        outcome,
        status: Some(status.as_u16()),
        reason,
        source: Some(peer.to_string()),
    };
    let access = Arc::clone(&guard.access);
    let written = tokio::task::spawn_blocking(move || access.audit.append(entry)).await;
    if !matches!(written, Ok(Ok(_))) {
        tracing::error!(action = guard.action, "cannot write the audit trail");
        return Failure {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!(
                "the request was {} ({status}), but the audit trail could not record it",
                if status.is_success() {
                    "carried out"
                } else {
                    "answered"
                }
            ),
        }
        .into_response();
    }
    response
}

type Refusal = (Option<Identity>, Failure);

/// Who sends the request, or why it is refused (with who, when the credential was good).
fn check(guard: &Guard, headers: &HeaderMap, method: &Method) -> Result<Identity, Refusal> {
    let refuse = |status: StatusCode, message: String| (None, Failure { status, message });
    let anonymous = Identity {
        name: "anonymous".to_owned(),
        role: bellwether_access::Role::Viewer,
        environments: Vec::new(),
        groups: Vec::new(),
    };
    if guard.need == Need::Signed {
        return Ok(Identity {
            name: "github webhook".to_owned(),
            ..anonymous
        });
    }
    guard
        .access
        .hosts
        .admit(headers)
        .map_err(|failure| (None, failure))?;
    if *method != Method::GET {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|c| c.to_str().ok())
            .and_then(|c| c.split(';').next())
            .is_some_and(|c| c.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the body must be JSON, sent with `Content-Type: application/json`".to_owned(),
            ));
        }
    }
    let Need::Token(permission) = guard.need else {
        return Ok(anonymous);
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|a| a.to_str().ok())
        .and_then(|a| a.strip_prefix("Bearer "))
        .map(str::trim);
    let identity = token
        .ok_or(Denied::Missing)
        .and_then(|t| guard.access.tokens.authenticate(t, now_ms()))
        .map_err(|denied| {
            refuse(
                StatusCode::UNAUTHORIZED,
                format!("not authenticated: {denied}"),
            )
        })?;
    let forbidden = if permission.project_wide() && !identity.environments.is_empty() {
        format!(
            "`{}` may act in {} only, and to {permission} concerns every environment",
            identity.name,
            identity.environments.join(", ")
        )
    } else if !identity.role.allows(permission) {
        format!(
            "`{}` is a {} and may not {permission}",
            identity.name, identity.role
        )
    } else {
        return Ok(identity);
    };
    let failure = Failure {
        status: StatusCode::FORBIDDEN,
        message: forbidden,
    };
    Err((Some(identity), failure))
}

/// The error message of a failed JSON answer, read and put back.
async fn reason_of(response: Response) -> (Response, Option<String>) {
    if response.status().is_success() {
        return (response, None);
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (Response::from_parts(parts, Body::empty()), None);
    };
    let reason = serde_json::from_slice::<ApiError>(&bytes)
        .ok()
        .map(|e| e.error);
    (Response::from_parts(parts, Body::from(bytes)), reason)
}

#[cfg(test)]
mod tests {
    use super::Hosts;

    #[test]
    fn hosts_are_ip_addresses_localhost_or_named_at_the_port() {
        let hosts = Hosts {
            ports: vec![7070],
            names: vec!["deploy.example.com".to_owned()],
        };
        for ok in [
            "127.0.0.1:7070",
            "localhost:7070",
            "LOCALHOST:7070",
            "[::1]:7070",
            "10.0.0.5:7070",
            "deploy.example.com:7070",
        ] {
            assert!(hosts.allows(ok), "{ok}");
        }
        for refused in [
            "",
            "evil.example:7070",
            "127.0.0.1:8080",
            "127.0.0.1",
            "localhost.evil.example:7070",
            "[::1]",
        ] {
            assert!(!hosts.allows(refused), "{refused}");
        }
    }
}
