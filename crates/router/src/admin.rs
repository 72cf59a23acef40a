//! The admin HTTP API of a router: read its signals and table, change weights, header routes
//! and mirroring at run time, and scrape `/metrics`.
//!
//! | request | answer |
//! |---|---|
//! | `GET /signals?window=30s` | every revision's signals over the window (default 60 s), JSON |
//! | `GET /table` | the table in force, JSON |
//! | `PUT /table` | replace the whole table (same JSON) |
//! | `PUT /weights` | `{"canary": 10}` or `{"canary": "0.5%"}`: percentages; the rest goes to the first revision not named |
//! | `PUT /header-routes` | `[{"revision": "canary", "header": "x-canary", "exact": "1"}]` (`prefix`, `regex`) |
//! | `PUT /mirror` | `{"revision": "canary", "weight": 500}` (basis points) or `null` |
//! | `GET /metrics` | Prometheus text format |
//! | `GET /health` | `ok` |
//!
//! `PUT /table` can send live traffic anywhere, so the API listens off loopback only with a
//! token ([`bind`]), and with a token every request must present it as
//! `Authorization: Bearer <token>` (compared in constant time).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bellwether_core::signal::TrafficSample;
use bellwether_core::spec::Weight;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Serialize;
use tokio::net::TcpListener;

use crate::Router;
use crate::error::RouterError;
use crate::spec::{HeaderRouteSpec, MirrorSpec, TableSpec};

/// Admin requests carry small JSON documents.
const MAX_BODY: usize = 1 << 20;
const DEFAULT_WINDOW: Duration = Duration::from_secs(60);

/// The bearer token every admin request must present.
#[derive(Clone)]
pub struct AdminToken(Arc<str>);

impl AdminToken {
    /// `None` for an empty token, which would protect nothing.
    pub fn new(token: &str) -> Option<AdminToken> {
        let token = token.trim();
        (!token.is_empty()).then(|| AdminToken(Arc::from(token)))
    }

    /// Whether `header` is `Bearer <this token>`, in time that does not depend on where
    /// a wrong token first differs.
    fn admits(&self, header: Option<&HeaderValue>) -> bool {
        let given = header
            .and_then(|h| h.as_bytes().strip_prefix(b"Bearer "))
            .unwrap_or_default();
        let expected = self.0.as_bytes();
        let differ = given
            .iter()
            .zip(expected)
            .fold(given.len() ^ expected.len(), |acc, (a, b)| {
                acc | usize::from(a ^ b)
            });
        differ == 0
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(..)")
    }
}

/// Binds the admin API's listener: off loopback only with a token.
pub async fn bind(
    addr: SocketAddr,
    token: Option<&AdminToken>,
) -> Result<TcpListener, RouterError> {
    if token.is_none() && !addr.ip().is_loopback() {
        return Err(RouterError::AdminUnprotected(addr));
    }
    Router::bind(addr).await
}

/// Serves the admin API of `router` on `listener` for as long as the future runs; with a
/// `token`, only to requests that present it.
pub async fn serve(router: Arc<Router>, listener: TcpListener, token: Option<AdminToken>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let router = Arc::clone(&router);
        let token = token.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let router = Arc::clone(&router);
                let admitted = token
                    .as_ref()
                    .is_none_or(|t| t.admits(req.headers().get(header::AUTHORIZATION)));
                async move {
                    if !admitted {
                        let mut refused = text(
                            StatusCode::UNAUTHORIZED,
                            "this admin API needs `Authorization: Bearer <token>` with the router's admin token\n".into(),
                        );
                        refused
                            .headers_mut()
                            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                        return Ok::<_, Infallible>(refused);
                    }
                    Ok::<_, Infallible>(handle(&router, req).await)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(router: &Router, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    match (req.method().clone(), path.as_str()) {
        (Method::GET, "/health") => text(StatusCode::OK, "ok\n".into()),
        (Method::GET, "/metrics") => {
            let mut r = text(
                StatusCode::OK,
                crate::metrics::render(router.signals(), &[router]),
            );
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            r
        }
        (Method::GET, "/table") => json(StatusCode::OK, &router.spec()),
        (Method::GET, "/signals") => match window(&query) {
            Ok(window) => json(StatusCode::OK, &signals(router, window)),
            Err(e) => text(StatusCode::BAD_REQUEST, e),
        },
        (Method::PUT, "/table") => {
            change(router, req, |spec, new: TableSpec| {
                *spec = new;
                Ok(())
            })
            .await
        }
        (Method::PUT, "/weights") => {
            change(
                router,
                req,
                |spec, new: serde_json::Map<String, serde_json::Value>| {
                    let weights = new
                        .into_iter()
                        .map(|(name, value)| Ok((name, weight(&value)?)))
                        .collect::<Result<Vec<_>, RouterError>>()?;
                    spec.set_weights(&weights)
                },
            )
            .await
        }
        (Method::PUT, "/header-routes") => {
            change(router, req, |spec, new: Vec<HeaderRouteSpec>| {
                spec.header_routes = new;
                Ok(())
            })
            .await
        }
        (Method::PUT, "/mirror") => {
            change(router, req, |spec, new: Option<MirrorSpec>| {
                spec.mirror = new;
                Ok(())
            })
            .await
        }
        (
            _,
            "/health" | "/metrics" | "/table" | "/signals" | "/weights" | "/header-routes"
            | "/mirror",
        ) => text(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{} is not allowed on {path}\n", req.method()),
        ),
        _ => text(
            StatusCode::NOT_FOUND,
            format!("no such admin resource: {path}\n"),
        ),
    }
}

/// Parses the body as `T`, applies `apply` to a copy of the table and swaps it in; answers
/// with the table now in force, or 400 and the reason.
async fn change<T: serde::de::DeserializeOwned>(
    router: &Router,
    req: Request<Incoming>,
    apply: impl FnOnce(&mut TableSpec, T) -> Result<(), RouterError>,
) -> Response<Full<Bytes>> {
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("cannot read the body: {e}\n"),
            );
        }
    };
    let new: T = match serde_json::from_slice(&body) {
        Ok(new) => new,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}\n")),
    };
    match router.update(|spec| apply(spec, new)) {
        Ok(spec) => json(StatusCode::OK, &spec),
        Err(e) => text(StatusCode::BAD_REQUEST, format!("{e}\n")),
    }
}

/// A percentage as a JSON number (`10`, `0.5`) or string (`"10%"`).
fn weight(value: &serde_json::Value) -> Result<Weight, RouterError> {
    let bad = |reason: String| RouterError::BadWeight {
        text: value.to_string(),
        reason,
    };
    match value {
        serde_json::Value::Number(n) => {
            let pct = n.as_f64().ok_or_else(|| bad("not a number".into()))?;
            Weight::from_percent_f64(pct).map_err(|e| bad(e.to_string()))
        }
        serde_json::Value::String(s) => s
            .parse()
            .map_err(|e: bellwether_core::spec::WeightError| bad(e.to_string())),
        _ => Err(bad("expected a percentage such as 10 or \"0.5%\"".into())),
    }
}

/// `window=30s` (also `500ms`, `2m`, `1h`, or bare seconds) from a query string.
fn window(query: &str) -> Result<Duration, String> {
    let Some(text) = query.split('&').find_map(|kv| kv.strip_prefix("window=")) else {
        return Ok(DEFAULT_WINDOW);
    };
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => f64::NAN,
    };
    number
        .parse::<f64>()
        .ok()
        .map(|n| n * scale)
        .filter(|secs| secs.is_finite() && *secs > 0.0)
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| {
            format!("window `{text}` is not a duration (expected e.g. 500ms, 30s, 2m)\n")
        })
}

/// One revision's signals as the API shows them.
#[derive(Debug, Serialize)]
struct RevisionReport {
    service: String,
    revision: String,
    number: u64,
    window_seconds: f64,
    success_rate: Option<f64>,
    error_rate: Option<f64>,
    request_rate: Option<f64>,
    #[serde(flatten)]
    sample: TrafficSample,
}

fn signals(router: &Router, window: Duration) -> Vec<RevisionReport> {
    let service = router.spec().service;
    router
        .signals()
        .all()
        .into_iter()
        .filter(|r| r.service() == service)
        .map(|r| {
            let sample = r.sample(window);
            RevisionReport {
                service: r.service().to_owned(),
                revision: r.name().to_owned(),
                number: r.number(),
                window_seconds: sample.window.as_secs_f64(),
                success_rate: sample.success_rate(),
                error_rate: sample.error_rate(),
                request_rate: sample.request_rate(),
                sample,
            }
        })
        .collect()
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn json(status: StatusCode, value: &impl Serialize) -> Response<Full<Bytes>> {
    match serde_json::to_vec_pretty(value) {
        Ok(mut body) => {
            body.push(b'\n');
            let mut r = Response::new(Full::new(Bytes::from(body)));
            *r.status_mut() = status;
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode: {e}\n"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_admitted_only_whole_and_as_a_bearer() {
        let token = AdminToken::new("s3cret").unwrap();
        let admits = |h: &str| token.admits(Some(&HeaderValue::from_str(h).unwrap()));
        assert!(admits("Bearer s3cret"));
        for wrong in [
            "Bearer s3cre",
            "Bearer s3crets",
            "Bearer S3cret",
            "s3cret",
            "Basic s3cret",
            "Bearer ",
        ] {
            assert!(!admits(wrong), "{wrong}");
        }
        assert!(!token.admits(None));
        assert!(AdminToken::new("  ").is_none());
    }

    #[test]
    fn windows_in_several_units_and_bad_ones() {
        assert_eq!(window(""), Ok(DEFAULT_WINDOW));
        assert_eq!(window("window=30s"), Ok(Duration::from_secs(30)));
        assert_eq!(window("x=1&window=500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(window("window=2m"), Ok(Duration::from_secs(120)));
        assert_eq!(window("window=1.5"), Ok(Duration::from_millis(1500)));
        for bad in ["window=", "window=-1s", "window=10y", "window=0"] {
            assert!(window(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn weights_as_numbers_or_strings() {
        let bp = |v: serde_json::Value| {
            weight(&v)
                .map(Weight::basis_points)
                .map_err(|e| e.to_string())
        };
        assert_eq!(bp(serde_json::json!(10)), Ok(1000));
        assert_eq!(bp(serde_json::json!(0.05)), Ok(5));
        assert_eq!(bp(serde_json::json!("12.5%")), Ok(1250));
        assert_eq!(
            bp(serde_json::json!(120)),
            Err("weight `120` is invalid: weight 120% is over 100%".into())
        );
        assert!(bp(serde_json::json!(true)).is_err());
    }
}
