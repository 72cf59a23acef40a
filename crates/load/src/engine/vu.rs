//! A VU: runs an iteration (each request in order, its checks, its think time) on its own
//! connection and records what it saw.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bellwether_http1::{RequestFraming, encode_request_head};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HOST};
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use tokio::time::Instant;

use super::Shared;
use crate::client::{Answer, Client, Outgoing};
use crate::metrics::{Sample, Tags, expected};
use crate::plan::{self, Plan, Rule};

/// A request's parts that need no variant, made once.
pub(crate) struct Prepared {
    target: Option<Target>,
    headers: Option<HeaderMap>,
    body: Option<Bytes>,
    /// The whole request on the wire, when no part of it takes a variant.
    wire: Option<Bytes>,
    /// A check reads the body.
    keep_body: bool,
}

/// Where a request goes.
struct Target {
    url: String,
    /// `host:port`, to connect to.
    authority: String,
    /// The Host header: the authority as written.
    host: HeaderValue,
    /// Origin form: `/path?query`.
    path: Uri,
}

impl Target {
    fn new(url: String) -> Result<Self, String> {
        let uri = plan::check_url(&url)?;
        let written = uri.authority().map_or("", |a| a.as_str());
        let host = HeaderValue::from_str(written).map_err(|e| e.to_string())?;
        let authority = if uri.port().is_some() {
            written.to_owned()
        } else {
            format!("{written}:80")
        };
        let path = Uri::from_maybe_shared(Bytes::copy_from_slice(
            uri.path_and_query().map_or("/", |p| p.as_str()).as_bytes(),
        ))
        .map_err(|e| e.to_string())?;
        Ok(Self {
            url,
            authority,
            host,
            path,
        })
    }
}

pub(crate) fn prepare(plan: &Plan) -> Vec<Prepared> {
    plan.requests
        .iter()
        .map(|r| {
            let target = r.url.fixed().and_then(|u| Target::new(u.to_owned()).ok());
            let mut headers = r
                .headers
                .iter()
                .map(|(name, value)| {
                    let value = HeaderValue::from_str(value.fixed()?).ok()?;
                    Some((name.clone(), value))
                })
                .collect::<Option<HeaderMap>>();
            if let (Some(headers), Some(target)) = (&mut headers, &target)
                && !headers.contains_key(HOST)
            {
                headers.insert(HOST, target.host.clone());
            }
            (r, target, headers)
        })
        .map(|(r, target, headers)| {
            let mut prepared = Prepared {
                target,
                headers,
                body: match &r.body {
                    None => Some(Bytes::new()),
                    Some(b) => b.fixed().map(|b| Bytes::copy_from_slice(b.as_bytes())),
                },
                wire: None,
                keep_body: r
                    .checks
                    .iter()
                    .any(|c| matches!(c.rule, Rule::BodyContains(_))),
            };
            if let (Some(target), Some(_), Some(_)) =
                (&prepared.target, &prepared.headers, &prepared.body)
            {
                prepared.wire = wire(r, &prepared, target, &[]).ok().map(Bytes::from);
            }
            prepared
        })
        .collect()
}

/// Counts a VU as active while it runs an iteration, even one interrupted.
struct Active<'a>(&'a Shared);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

pub(crate) struct Vu {
    shared: Arc<Shared>,
    scenario: usize,
    shard: usize,
    client: Client,
}

impl Vu {
    pub(crate) fn new(shared: Arc<Shared>, scenario: usize) -> Self {
        Self {
            shard: shared.allocate(),
            client: Client::new(Arc::clone(&shared.connector)),
            shared,
            scenario,
        }
    }

    /// Runs one iteration. An arrival-rate iteration is timed from `due`, when it should have
    /// started, so a late start counts against the target, not the generator's schedule.
    pub(crate) async fn iteration(&mut self, due: Option<Instant>) {
        let shared = Arc::clone(&self.shared);
        shared.active.fetch_add(1, Ordering::Relaxed);
        let _active = Active(&shared);
        let plan = &shared.plan;
        let scenario = plan.scenarios[self.scenario].name.as_str();
        let began = due.unwrap_or_else(Instant::now);
        let mut first = Some(began);
        for (i, (request, prepared)) in plan.requests.iter().zip(&shared.prepared).enumerate() {
            let row = if request.variants.rows.is_empty() {
                &[][..]
            } else {
                let n = shared.rows[i].fetch_add(1, Ordering::Relaxed) as usize;
                &request.variants.rows[n % request.variants.rows.len()][..]
            };
            let filled;
            let target = match &prepared.target {
                Some(t) => Ok(t),
                None => {
                    filled = Target::new(request.url.fill(row));
                    filled.as_ref()
                }
            };
            let sent = first.take().unwrap_or_else(Instant::now);
            let made;
            let bytes = match (&prepared.wire, target) {
                (Some(wire), _) => Ok(&wire[..]),
                (None, Ok(target)) => {
                    made = wire(request, prepared, target, row);
                    made.as_deref().map_err(String::clone)
                }
                (None, Err(e)) => Err(e.to_owned()),
            };
            let answer = match (bytes, target) {
                (Ok(wire), Ok(target)) => {
                    let outgoing = Outgoing {
                        method: &request.method,
                        wire,
                        keep_body: prepared.keep_body,
                    };
                    self.client
                        .send(&target.authority, outgoing, request.timeout)
                        .await
                }
                (Err(e), _) => Err(e),
                (_, Err(e)) => Err(e.to_owned()),
            };
            let took = Instant::now().saturating_duration_since(sent);
            let status = answer.as_ref().map_or(0, |a| a.status);
            let url = target.map_or("", |t| t.url.as_str());
            let tags = Tags {
                scenario,
                name: &request.name,
                method: request.method.as_str(),
                url,
                status,
                check: "",
            };
            let failed = !expected(status);
            shared.record(
                self.shard,
                Sample::Request {
                    duration: took,
                    failed,
                },
                &tags,
            );
            for check in &request.checks {
                let passed = judge(&check.rule, answer.as_ref().ok(), took);
                let tags = Tags {
                    scenario,
                    name: &request.name,
                    check: &plan.checks[check.id],
                    ..Tags::default()
                };
                shared.record(
                    self.shard,
                    Sample::Check {
                        id: check.id,
                        passed,
                    },
                    &tags,
                );
            }
            if !request.sleep.is_zero() {
                tokio::time::sleep(request.sleep).await;
            }
        }
        let tags = Tags {
            scenario,
            ..Tags::default()
        };
        let duration = Instant::now().saturating_duration_since(began);
        shared.record(self.shard, Sample::Iteration { duration }, &tags);
    }
}

/// The request as it goes on the wire: head and body in one piece, for one write.
fn wire(
    request: &plan::Request,
    prepared: &Prepared,
    target: &Target,
    row: &[String],
) -> Result<Vec<u8>, String> {
    let body = match &prepared.body {
        Some(b) => b.clone(),
        None => Bytes::from(request.body.as_ref().map_or(String::new(), |b| b.fill(row))),
    };
    let headers = match &prepared.headers {
        Some(h) => h.clone(),
        None => {
            let mut headers = HeaderMap::with_capacity(request.headers.len());
            for (name, value) in &request.headers {
                let value = HeaderValue::from_str(&value.fill(row))
                    .map_err(|_| format!("header {name} is not a header value once filled"))?;
                headers.append(name.clone(), value);
            }
            headers
        }
    };
    let (mut parts, ()) = Request::builder()
        .method(request.method.clone())
        .uri(target.path.clone())
        .body(())
        .map_err(|e| e.to_string())?
        .into_parts();
    parts.headers = headers;
    if !parts.headers.contains_key(HOST) {
        parts.headers.insert(HOST, target.host.clone());
    }
    // A method that gives meaning to a body says how long it is even when it is empty
    // (RFC 9110 §8.6); any body is sent with its length.
    let framing = if !body.is_empty()
        || matches!(request.method, Method::POST | Method::PUT | Method::PATCH)
    {
        parts
            .headers
            .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        RequestFraming::Sized
    } else {
        RequestFraming::None
    };
    let mut out = encode_request_head(&parts, framing);
    out.extend_from_slice(&body);
    Ok(out)
}

fn judge(rule: &Rule, answer: Option<&Answer>, took: std::time::Duration) -> bool {
    match (rule, answer) {
        (Rule::Status(s), Some(a)) => a.status == *s,
        (Rule::BodyContains(text), Some(a)) => a
            .body
            .as_ref()
            .is_some_and(|b| contains(b, text.as_bytes())),
        (Rule::MaxDuration(max), Some(_)) => took < *max,
        (_, None) => false,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}
