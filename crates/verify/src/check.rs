//! One check, tried until it passes or its retries run out, each attempt bounded by its
//! `max_time`.

use std::time::Duration;

use bellwether_core::spec::{CheckSpec, CheckTarget, HttpCheck, TlsCheck};
use bellwether_core::time::human_duration;
use http::Uri;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::http::exchange;
use crate::judge::{self, Answer};
use crate::report::{CheckReport, Measured};
use crate::tls::{self, Tls};

/// Runs checks. One per process is enough: it keeps the TLS configurations.
pub struct Checker {
    tls: Tls,
}

impl Default for Checker {
    fn default() -> Self {
        Self::new()
    }
}

impl Checker {
    pub fn new() -> Self {
        Self { tls: Tls::new() }
    }

    /// Runs `check` with its retries. `base` is the address under test, against which an URL
    /// that is only a path is taken (`http://127.0.0.1:8080`, or just `127.0.0.1:8080`).
    pub async fn run(&self, check: &CheckSpec, base: Option<&str>) -> CheckReport {
        let plan = match &check.target {
            CheckTarget::Http(http) => Plan::Http(http, resolve_url(&http.url, base)),
            CheckTarget::Tcp { address, tls } => Plan::Tcp(address, tls.as_ref()),
        };
        let target = match &plan {
            Plan::Http(http, Ok(uri)) => format!("{} {uri}", http.method),
            Plan::Http(http, Err(_)) => format!("{} {}", http.method, http.url),
            Plan::Tcp(address, Some(_)) => format!("tls {address}"),
            Plan::Tcp(address, None) => format!("tcp {address}"),
        };
        let mut report = CheckReport {
            name: check.name.clone(),
            target,
            passed: false,
            attempts: 0,
            measured: Measured::default(),
            failures: Vec::new(),
        };
        for attempt in 0..=check.retries {
            if attempt > 0 {
                tokio::time::sleep(check.backoff).await;
            }
            report.attempts = attempt + 1;
            (report.measured, report.failures) = match &plan {
                Plan::Http(http, Ok(uri)) => self.http(http, uri, check.max_time).await,
                Plan::Http(_, Err(e)) => (Measured::default(), vec![e.clone()]),
                Plan::Tcp(address, tls) => self.tcp(address, *tls, check.max_time).await,
            };
            report.passed = report.failures.is_empty();
            // A URL that cannot be made fails the same way every time.
            if report.passed || matches!(plan, Plan::Http(_, Err(_))) {
                break;
            }
        }
        report
    }

    async fn http(&self, check: &HttpCheck, uri: &Uri, limit: Duration) -> (Measured, Vec<String>) {
        let start = Instant::now();
        let answered = tokio::time::timeout(limit, exchange(check, uri, &self.tls)).await;
        let mut measured = Measured {
            time_ms: Some(millis(start.elapsed())),
            ..Measured::default()
        };
        let exchange = match answered {
            Err(_) => return (measured, vec![too_slow(limit)]),
            Ok(Err(e)) => return (measured, vec![e]),
            Ok(Ok(exchange)) => exchange,
        };
        measured.status = Some(exchange.status);
        measured.body_bytes = Some(exchange.body.len());
        measured.certificate_days_left = exchange.certificate_days_left;
        let mut failures = judge::http(
            &check.expect,
            &Answer {
                status: exchange.status,
                headers: &exchange.headers,
                body: &exchange.body,
            },
        );
        if let Some(days) = exchange.certificate_days_left {
            failures.extend(judge::certificate(days, check.tls.min_days));
        }
        (measured, failures)
    }

    async fn tcp(
        &self,
        address: &str,
        tls: Option<&TlsCheck>,
        limit: Duration,
    ) -> (Measured, Vec<String>) {
        let start = Instant::now();
        let connected = tokio::time::timeout(limit, async {
            let tcp = TcpStream::connect(address)
                .await
                .map_err(|e| format!("cannot connect to {address}: {e}"))?;
            let Some(check) = tls else {
                return Ok(None);
            };
            let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
            let stream = self.tls.connect(tcp, host, check).await?;
            tls::days_left(&stream).map(Some)
        })
        .await;
        let mut measured = Measured {
            time_ms: Some(millis(start.elapsed())),
            ..Measured::default()
        };
        match connected {
            Err(_) => (measured, vec![too_slow(limit)]),
            Ok(Err(e)) => (measured, vec![e]),
            Ok(Ok(days)) => {
                measured.certificate_days_left = days;
                let min_days = tls.and_then(|t| t.min_days);
                let failures = days.and_then(|d| judge::certificate(d, min_days));
                (measured, failures.into_iter().collect())
            }
        }
    }
}

/// What an attempt reaches, worked out once per check.
enum Plan<'a> {
    Http(&'a HttpCheck, Result<Uri, String>),
    Tcp(&'a str, Option<&'a TlsCheck>),
}

/// The URL a check requests: `url` itself when absolute, else `url` taken relative to `base`.
pub fn resolve_url(url: &str, base: Option<&str>) -> Result<Uri, String> {
    let absolute = if url.starts_with("http://") || url.starts_with("https://") {
        url.to_owned()
    } else if url.starts_with('/') {
        let base = base.ok_or_else(|| {
            format!("`{url}` is a path: give the address to check it against (`--target`)")
        })?;
        let base = base.trim_end_matches('/');
        if base.starts_with("http://") || base.starts_with("https://") {
            format!("{base}{url}")
        } else {
            format!("http://{base}{url}")
        }
    } else {
        return Err(format!(
            "`{url}` is neither an http:// or https:// URL nor a path starting with /"
        ));
    };
    let uri: Uri = absolute
        .parse()
        .map_err(|e| format!("`{absolute}` is not a URL: {e}"))?;
    if uri.host().is_none() {
        return Err(format!("`{absolute}` names no host"));
    }
    Ok(uri)
}

fn too_slow(limit: Duration) -> String {
    format!("no answer within {}", human_duration(limit))
}

fn millis(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1000.0
}
