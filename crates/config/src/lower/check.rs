//! `checks:` and `verify:`: every rule that a check's run would otherwise find broken (a URL that
//! cannot be requested, a regular expression that does not compile, a JSON path not
//! understood, a suite naming a check that does not exist) is found here.

use std::collections::BTreeMap;
use std::time::Duration;

use bellwether_core::json_path::json_path;
use bellwether_core::spec::{
    BodyMatch, CheckSpec, CheckTarget, Expect, HeaderExpect, HttpCheck, JsonExpect, StatusRange,
    TlsCheck, VerifySpec,
};
use bellwether_core::time::human_duration;

use super::names;
use super::provider::METHODS;
use super::scalars::{Zero, duration_or};
use crate::diagnostic::Sink;
use crate::model::{CheckConfig, ProjectFile, TlsConfig, VerifyConfig};
use crate::span::{Entries, Spanned};

const DEFAULT_MAX_TIME: Duration = Duration::from_secs(10);
const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);
const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// What a suite's timeout adds to its duration by default: room for its last round's checks.
const TIMEOUT_SLACK: Duration = Duration::from_secs(60);
/// More retries than this only hide a failing service.
const MAX_RETRIES: u32 = 10;

/// Lowers `checks:` and `verify:`; a check or suite with a problem is reported and left out.
pub(super) fn lower(
    file: &ProjectFile,
    sink: &mut Sink<'_>,
) -> (BTreeMap<String, CheckSpec>, BTreeMap<String, VerifySpec>) {
    let mut checks = BTreeMap::new();
    for (name, config) in file.checks.iter() {
        names::identifier("check", name, sink);
        if let Some(spec) = check(&name.value, config, sink) {
            checks.insert(name.value.clone(), spec);
        }
    }
    let declared: Vec<&str> = file.checks.names().collect();
    let mut suites = BTreeMap::new();
    for (name, config) in file.verify.iter() {
        names::identifier("suite", name, sink);
        let spec = suite(&name.value, config, &checks, &declared, sink);
        suites.insert(name.value.clone(), spec);
    }
    (checks, suites)
}

fn check(name: &str, config: &Spanned<CheckConfig>, sink: &mut Sink<'_>) -> Option<CheckSpec> {
    let c = &config.value;
    let target = match (&c.url, &c.tcp) {
        (Some(url), None) => http(url, c, sink).map(CheckTarget::Http),
        (None, Some(tcp)) => {
            if let Some(key) = http_only_key(c) {
                sink.error(
                    config.pos,
                    format!("check `{name}` has `tcp` and `{key}` (`{key}` is for `url` checks)"),
                );
            }
            address(tcp, sink);
            Some(CheckTarget::Tcp {
                address: tcp.value.trim().to_owned(),
                tls: c.tls.as_ref().map(|t| tls(t, sink)),
            })
        }
        (Some(_), Some(_)) => {
            sink.error(
                config.pos,
                format!("check `{name}` has both `url` and `tcp` (expected exactly one of them)"),
            );
            None
        }
        (None, None) => {
            sink.error(
                config.pos,
                format!(
                    "check `{name}` has neither `url` nor `tcp` (expected e.g. `url: /healthz` or `tcp: 127.0.0.1:5432`)"
                ),
            );
            None
        }
    };
    let max_time = duration_or(
        c.max_time.as_ref(),
        "maxTime",
        Zero::Rejected,
        DEFAULT_MAX_TIME,
        sink,
    );
    let backoff = duration_or(
        c.backoff.as_ref(),
        "backoff",
        Zero::Allowed,
        DEFAULT_BACKOFF,
        sink,
    );
    let retries = match &c.retries {
        Some(r) if r.value.0 > MAX_RETRIES => {
            sink.error(
                r.pos,
                format!(
                    "retries {} is too many (expected at most {MAX_RETRIES})",
                    r.value.0
                ),
            );
            0
        }
        Some(r) => r.value.0,
        None => 0,
    };
    Some(CheckSpec {
        name: name.to_owned(),
        target: target?,
        max_time,
        retries,
        backoff,
    })
}

/// The first key set that only an HTTP check reads.
fn http_only_key(c: &CheckConfig) -> Option<&'static str> {
    [
        ("method", c.method.is_some()),
        ("headers", !c.headers.is_empty()),
        ("body", c.body.is_some()),
        ("status", c.status.is_some()),
        ("bodyContains", c.body_contains.is_some()),
        ("bodyRegex", c.body_regex.is_some()),
        ("jsonPath", !c.json_path.is_empty()),
        ("responseHeaders", !c.response_headers.is_empty()),
    ]
    .into_iter()
    .find_map(|(key, set)| set.then_some(key))
}

fn http(url: &Spanned<String>, c: &CheckConfig, sink: &mut Sink<'_>) -> Option<HttpCheck> {
    let u = url.value.trim();
    let https = u.starts_with("https://");
    let absolute = u.starts_with("http://") || https;
    let host_given = u
        .split_once("://")
        .is_some_and(|(_, rest)| !rest.is_empty() && !rest.starts_with('/'));
    if !(u.starts_with('/') || absolute && host_given) || u.chars().any(char::is_whitespace) {
        sink.error(
            url.pos,
            format!(
                "check url `{u}` is neither an http:// or https:// URL nor a path starting with / (expected e.g. /healthz or https://example.com/healthz)"
            ),
        );
    }
    let method = match &c.method {
        Some(m) if !METHODS.contains(&m.value.as_str()) => {
            sink.error(
                m.pos,
                format!(
                    "unknown HTTP method `{}` (expected one of {})",
                    m.value,
                    METHODS.join(", ")
                ),
            );
            String::new()
        }
        Some(m) => m.value.clone(),
        None => "GET".to_owned(),
    };
    let headers = header_map(&c.headers, "header", sink);
    let mut expect = Expect::default();
    if let Some(status) = &c.status {
        expect.status = status
            .value
            .0
            .iter()
            .filter_map(|s| {
                let range = StatusRange::parse(s);
                if range.is_none() {
                    sink.error(
                        status.pos,
                        format!(
                            "`{s}` is not an HTTP status (expected e.g. 200, 2xx or [200, 204])"
                        ),
                    );
                }
                range
            })
            .collect();
        if status.value.0.is_empty() {
            sink.error(
                status.pos,
                "status is an empty list (expected e.g. 200 or 2xx)",
            );
        }
    }
    expect.body = match (&c.body_contains, &c.body_regex) {
        (Some(text), None) => Some(BodyMatch::Contains(text.value.clone())),
        (None, Some(pattern)) => {
            if let Err(e) = regex::Regex::new(&pattern.value) {
                // The parser's message draws a caret under the pattern over several lines;
                // its last line says what is wrong.
                let text = e.to_string();
                let why = text.lines().last().unwrap_or_default();
                let why = why.strip_prefix("error: ").unwrap_or(why);
                sink.error(
                    pattern.pos,
                    format!(
                        "bodyRegex `{}` is not a regular expression ({why})",
                        pattern.value
                    ),
                );
            }
            Some(BodyMatch::Regex(pattern.value.clone()))
        }
        (Some(_), Some(pattern)) => {
            sink.error(
                pattern.pos,
                "a check has both `bodyContains` and `bodyRegex` (expected at most one of them)",
            );
            None
        }
        (None, None) => None,
    };
    for (path, value) in c.json_path.iter() {
        if let Err(e) = json_path(&serde_json::Value::Null, &path.value) {
            sink.error(path.pos, format!("{e} (expected e.g. `$.status`)"));
        }
        expect.json.push(JsonExpect {
            path: path.value.clone(),
            equals: value.value.clone(),
        });
    }
    expect.headers = header_map(&c.response_headers, "response header", sink)
        .into_iter()
        .map(|(name, value)| HeaderExpect {
            name,
            value: (!value.is_empty()).then_some(value),
        })
        .collect();
    let tls = match &c.tls {
        Some(t) if !https => {
            sink.error(
                t.pos,
                "`tls` applies to https:// URLs and `tcp` checks (expected an https:// URL)",
            );
            TlsCheck::default()
        }
        Some(t) => tls(t, sink),
        None => TlsCheck::default(),
    };
    Some(HttpCheck {
        url: u.to_owned(),
        method,
        headers: headers.into_iter().collect(),
        body: c.body.clone(),
        expect,
        tls,
    })
}

/// Headers with names and values HTTP can carry; each bad one reported.
pub(super) fn header_map(
    headers: &Entries<String>,
    what: &str,
    sink: &mut Sink<'_>,
) -> Vec<(String, String)> {
    const TOKEN: &[u8] = b"!#$%&'*+-.^_`|~";
    let mut valid = Vec::new();
    for (name, value) in headers.iter() {
        let n = name.value.as_str();
        if n.is_empty()
            || !n
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || TOKEN.contains(&b))
        {
            sink.error(
                name.pos,
                format!("`{n}` is not a valid {what} name (expected letters, digits and -)"),
            );
        } else if value.value.chars().any(|ch| ch.is_control() && ch != '\t') {
            sink.error(
                value.pos,
                format!("the value of {what} `{n}` holds a control character or a line break"),
            );
        } else {
            valid.push((n.to_owned(), value.value.clone()));
        }
    }
    valid
}

fn address(tcp: &Spanned<String>, sink: &mut Sink<'_>) {
    let a = tcp.value.trim();
    let port = a.rsplit_once(':').and_then(|(host, port)| {
        (!host.is_empty())
            .then(|| port.parse::<u16>().ok())
            .flatten()
    });
    if port.is_none_or(|p| p == 0) {
        sink.error(
            tcp.pos,
            format!(
                "tcp `{a}` is not host:port (expected e.g. 127.0.0.1:5432 or db.internal:5432)"
            ),
        );
    }
}

fn tls(t: &Spanned<TlsConfig>, sink: &mut Sink<'_>) -> TlsCheck {
    let c = &t.value;
    if c.insecure && c.ca.is_some() {
        sink.error(
            t.pos,
            "tls has both `insecure` and `ca` (expected one: `insecure` trusts any certificate)",
        );
    }
    if let Some(ca) = c.ca.as_ref().filter(|ca| ca.value.trim().is_empty()) {
        sink.error(ca.pos, "tls ca is empty (expected a PEM file)");
    }
    TlsCheck {
        min_days: c.min_days.as_ref().map(|d| d.value.0),
        ca: c.ca.as_ref().map(|ca| ca.value.clone()),
        insecure: c.insecure,
        server_name: c.server_name.as_ref().map(|n| n.value.clone()),
    }
}

fn suite(
    name: &str,
    config: &Spanned<VerifyConfig>,
    checks: &BTreeMap<String, CheckSpec>,
    declared: &[&str],
    sink: &mut Sink<'_>,
) -> VerifySpec {
    let c = &config.value;
    if c.checks.is_empty() {
        sink.error(
            config.pos,
            format!("suite `{name}` has no checks (expected e.g. `checks: [health]`)"),
        );
    }
    let mut members = Vec::new();
    for reference in &c.checks {
        if names::reference("check", reference, declared, sink) {
            members.extend(checks.get(&reference.value).cloned());
        }
    }
    let duration = duration_or(
        c.duration.as_ref(),
        "duration",
        Zero::Allowed,
        Duration::ZERO,
        sink,
    );
    let interval = duration_or(
        c.interval.as_ref(),
        "interval",
        Zero::Rejected,
        DEFAULT_INTERVAL,
        sink,
    );
    let min_success_rate = match &c.min_success_rate {
        Some(p) if !(0.0..=100.0).contains(&p.value.0) => {
            sink.error(
                p.pos,
                format!("minSuccessRate {} is not between 0% and 100%", p.value),
            );
            1.0
        }
        Some(p) => p.value.0 / 100.0,
        None => 1.0,
    };
    let timeout = duration_or(
        c.timeout.as_ref(),
        "timeout",
        Zero::Rejected,
        duration + TIMEOUT_SLACK,
        sink,
    );
    if timeout < duration {
        sink.error(
            c.timeout.as_ref().map_or(config.pos, |t| t.pos),
            format!(
                "timeout {} is shorter than the suite's duration {} (expected at least the duration)",
                human_duration(timeout),
                human_duration(duration)
            ),
        );
    }
    VerifySpec {
        name: name.to_owned(),
        checks: members,
        duration,
        interval,
        min_success_rate,
        timeout,
    }
}
