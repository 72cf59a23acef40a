//! Metric providers: declared once under `providers` (or inline on a metric), completed by each
//! metric's `query`.

use std::collections::BTreeMap;
use std::time::Duration;

use bellwether_core::spec::ProviderSpec;

use super::scalars::{Zero, duration_or};
use super::{exactly_one, names};
use crate::diagnostic::Sink;
use crate::model::{JobConfig, PrometheusConfig, ProviderConfig, WebConfig};
use crate::span::{Entries, Pos, Spanned};

/// The name a metric uses for the built-in provider; no declaration may take it.
pub(super) const BUILTIN: &str = "builtin";

const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_JOB_TIMEOUT: Duration = Duration::from_secs(60);
pub(super) const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

/// A provider before a metric's query completes it.
#[derive(Clone, Debug)]
pub(super) enum Base {
    Prometheus {
        address: String,
        headers: BTreeMap<String, String>,
        timeout: Duration,
    },
    Web {
        url: String,
        method: String,
        headers: BTreeMap<String, String>,
        body: Option<String>,
        json_path: Option<String>,
        timeout: Duration,
    },
    Job {
        command: Vec<String>,
        timeout: Duration,
    },
}

/// The declared providers by name; `None` for one that failed its checks (already reported), so
/// that metrics using it are not reported again.
pub(super) struct Table {
    entries: Vec<(String, Option<Base>)>,
}

impl Table {
    pub(super) fn get(&self, name: &str) -> Option<Option<&Base>> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.as_ref())
    }

    /// Names a metric may use, `builtin` first.
    pub(super) fn names(&self) -> Vec<&str> {
        std::iter::once(BUILTIN)
            .chain(self.entries.iter().map(|(n, _)| n.as_str()))
            .collect()
    }
}

pub(super) fn table(providers: &Entries<ProviderConfig>, sink: &mut Sink<'_>) -> Table {
    let mut entries = Vec::new();
    for (name, config) in providers.iter() {
        names::identifier("provider", name, sink);
        if name.value == BUILTIN {
            sink.error(name.pos, "provider name `builtin` is reserved for the built-in provider (expected another name)");
        }
        let what = format!("provider `{}`", name.value);
        entries.push((
            name.value.clone(),
            lower(&config.value, config.pos, &what, sink),
        ));
    }
    Table { entries }
}

/// Checks one provider; `what` names it in messages.
pub(super) fn lower(c: &ProviderConfig, pos: Pos, what: &str, sink: &mut Sink<'_>) -> Option<Base> {
    let kinds = [
        ("prometheus", c.prometheus.is_some()),
        ("web", c.web.is_some()),
        ("job", c.job.is_some()),
    ];
    if !exactly_one(sink, pos, what, &kinds) {
        return None;
    }
    if let Some(p) = &c.prometheus {
        return prometheus(p, sink);
    }
    if let Some(w) = &c.web {
        return web(w, sink);
    }
    c.job.as_ref().and_then(|j| job(j, sink))
}

fn prometheus(p: &Spanned<PrometheusConfig>, sink: &mut Sink<'_>) -> Option<Base> {
    let ok = http_url(
        "prometheus address",
        &p.address,
        "http://127.0.0.1:9090",
        sink,
    );
    let timeout = duration_or(
        p.timeout.as_ref(),
        "timeout",
        Zero::Rejected,
        DEFAULT_HTTP_TIMEOUT,
        sink,
    );
    ok.then(|| Base::Prometheus {
        address: p.address.value.clone(),
        headers: p.headers.clone(),
        timeout,
    })
}

fn web(w: &Spanned<WebConfig>, sink: &mut Sink<'_>) -> Option<Base> {
    let mut ok = http_url(
        "web url",
        &w.url,
        "http://127.0.0.1:8080/metrics.json",
        sink,
    );
    let method = match &w.method {
        Some(m) if !METHODS.contains(&m.value.as_str()) => {
            sink.error(
                m.pos,
                format!(
                    "unknown HTTP method `{}` (expected one of {})",
                    m.value,
                    METHODS.join(", ")
                ),
            );
            ok = false;
            String::new()
        }
        Some(m) => m.value.clone(),
        None => "GET".to_owned(),
    };
    let timeout = duration_or(
        w.timeout.as_ref(),
        "timeout",
        Zero::Rejected,
        DEFAULT_HTTP_TIMEOUT,
        sink,
    );
    ok.then(|| Base::Web {
        url: w.url.value.clone(),
        method,
        headers: w.headers.clone(),
        body: w.body.clone(),
        json_path: w.json_path.as_ref().map(|p| p.value.clone()),
        timeout,
    })
}

fn job(j: &Spanned<JobConfig>, sink: &mut Sink<'_>) -> Option<Base> {
    let ok = command(&j.command, sink);
    let timeout = duration_or(
        j.timeout.as_ref(),
        "timeout",
        Zero::Rejected,
        DEFAULT_JOB_TIMEOUT,
        sink,
    );
    ok.then(|| Base::Job {
        command: j.command.value.0.clone(),
        timeout,
    })
}

/// A command must name a program.
pub(super) fn command(command: &Spanned<crate::model::Command>, sink: &mut Sink<'_>) -> bool {
    match command.value.0.first() {
        None => sink.error(
            command.pos,
            "command is empty (expected a program and its arguments, e.g. [\"./api\", \"--flag\"])",
        ),
        Some(program) if program.trim().is_empty() => sink.error(
            command.pos,
            "command's program is empty (expected e.g. [\"./api\", \"--flag\"])",
        ),
        Some(_) => return true,
    }
    false
}

fn http_url(what: &str, url: &Spanned<String>, example: &str, sink: &mut Sink<'_>) -> bool {
    let u = url.value.as_str();
    let rest = u
        .strip_prefix("http://")
        .or_else(|| u.strip_prefix("https://"));
    if rest.is_some_and(|host| !host.is_empty()) {
        return true;
    }
    sink.error(
        url.pos,
        format!("{what} `{u}` must start with http:// or https:// (expected e.g. {example})"),
    );
    false
}

/// Completes a provider with a metric's `query`; `metric` names the metric in messages.
pub(super) fn complete(
    base: &Base,
    query: Option<&Spanned<String>>,
    metric: &str,
    pos: Pos,
    sink: &mut Sink<'_>,
) -> Option<ProviderSpec> {
    let query = query.filter(|q| !q.value.trim().is_empty());
    match base {
        Base::Prometheus {
            address,
            headers,
            timeout,
        } => match query {
            Some(q) => Some(ProviderSpec::Prometheus {
                address: address.clone(),
                query: q.value.clone(),
                headers: headers.clone(),
                timeout: *timeout,
                total: None,
            }),
            None => {
                sink.error(
                    pos,
                    format!("metric `{metric}` needs a `query` for its prometheus provider (expected PromQL, e.g. `sum(rate(http_requests_total{{code=~\"5..\"}}[1m]))`)"),
                );
                None
            }
        },
        Base::Web {
            url,
            method,
            headers,
            body,
            json_path,
            timeout,
        } => Some(ProviderSpec::Web {
            url: url.clone(),
            method: method.clone(),
            headers: headers.clone(),
            body: body.clone(),
            json_path: query.map(|q| q.value.clone()).or_else(|| json_path.clone()),
            timeout: *timeout,
        }),
        Base::Job { command, timeout } => {
            if let Some(q) = query {
                sink.error(
                    q.pos.or(pos),
                    "`query` has no meaning for a job provider (expected it left out)",
                );
            }
            Some(ProviderSpec::Job {
                command: command.clone(),
                timeout: *timeout,
            })
        }
    }
}
