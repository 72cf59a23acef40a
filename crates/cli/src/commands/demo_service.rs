//! `bellwether demo-service` (hidden): a small HTTP service to put behind the router in demos
//! and benchmarks. It listens on 127.0.0.1:$PORT; `GET /health` always answers 200; every other
//! request answers 200 with a short body, or 500 for a share `DEMO_ERROR_RATE` (0 to 1, spread
//! evenly: with 0.1 every tenth request fails), after `DEMO_LATENCY` (e.g. `20ms`).
//! `DEMO_VERSION` is echoed in the `x-demo-version` header and the body.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::exit::{self, Code};

/// What the environment asks the service to be.
#[derive(Debug, PartialEq)]
pub(crate) struct Settings {
    port: u16,
    error_rate: f64,
    latency: Duration,
    version: String,
}

impl Settings {
    pub(crate) fn from_env(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let port = var("PORT").context("PORT is not set (the port to listen on, 0 for any)")?;
        let port = port
            .trim()
            .parse()
            .with_context(|| format!("PORT `{port}` is not a port number"))?;
        let error_rate = match var("DEMO_ERROR_RATE") {
            None => 0.0,
            Some(text) => {
                let rate: f64 = text.trim().parse().with_context(|| {
                    format!("DEMO_ERROR_RATE `{text}` is not a number (expected 0 to 1, e.g. 0.05)")
                })?;
                if !(0.0..=1.0).contains(&rate) {
                    bail!("DEMO_ERROR_RATE {text} is outside 0 to 1");
                }
                rate
            }
        };
        let latency = match var("DEMO_LATENCY") {
            None => Duration::ZERO,
            Some(text) => bellwether_config::values::DurationValue::parse(&text)
                .map_err(anyhow::Error::msg)
                .context("DEMO_LATENCY")?
                .to_std()
                .with_context(|| format!("DEMO_LATENCY `{text}` is negative"))?,
        };
        let version = var("DEMO_VERSION").unwrap_or_else(|| "v1".to_owned());
        Ok(Self {
            port,
            error_rate,
            latency,
            version,
        })
    }
}

pub(crate) fn run() -> anyhow::Result<Code> {
    let settings = Settings::from_env(|name| std::env::var(name).ok())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(serve(settings))?;
    Ok(exit::SUCCESS)
}

/// The service's answers; `served` counts the requests that may fail.
struct Service {
    settings: Settings,
    version: HeaderValue,
    body: Bytes,
    served: AtomicU64,
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], settings.port));
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    println!(
        "demo-service {} listening on {}",
        settings.version,
        listener.local_addr()?
    );
    let version = HeaderValue::from_str(&settings.version)
        .context("DEMO_VERSION is not a valid header value")?;
    let body = Bytes::from(format!("hello from {}\n", settings.version));
    let service = Arc::new(Service {
        settings,
        version,
        body,
        served: AtomicU64::new(0),
    });
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = Arc::clone(&service);
        tokio::spawn(async move {
            let handler = service_fn(move |req| {
                let service = Arc::clone(&service);
                async move { Ok::<_, Infallible>(service.answer(req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(TokioIo::new(stream), handler)
                .await;
        });
    }
}

impl Service {
    async fn answer(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        if req.uri().path() == "/health" {
            return self.respond(StatusCode::OK, Bytes::from_static(b"ok\n"));
        }
        if !self.settings.latency.is_zero() {
            tokio::time::sleep(self.settings.latency).await;
        }
        let n = self.served.fetch_add(1, Ordering::Relaxed);
        if fails(n, self.settings.error_rate) {
            return self.respond(
                StatusCode::INTERNAL_SERVER_ERROR,
                Bytes::from_static(b"injected error\n"),
            );
        }
        self.respond(StatusCode::OK, self.body.clone())
    }

    fn respond(&self, status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert("x-demo-version", self.version.clone());
        response
    }
}

/// Whether the `n`th request fails at `rate`: exactly `rate` of any run of requests, spread
/// evenly, so a test or a demo sees the same error rate every time.
fn fails(n: u64, rate: f64) -> bool {
    let before = (n as f64 * rate).floor();
    let after = ((n + 1) as f64 * rate).floor();
    after > before
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> anyhow::Result<Settings> {
        Settings::from_env(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn the_environment_configures_the_service() {
        let s = settings(&[
            ("PORT", "9001"),
            ("DEMO_ERROR_RATE", "0.25"),
            ("DEMO_LATENCY", "20ms"),
            ("DEMO_VERSION", "v2"),
        ])
        .unwrap();
        assert_eq!(
            s,
            Settings {
                port: 9001,
                error_rate: 0.25,
                latency: Duration::from_millis(20),
                version: "v2".into()
            }
        );
        let defaults = settings(&[("PORT", "0")]).unwrap();
        assert_eq!(
            (
                defaults.error_rate,
                defaults.latency,
                defaults.version.as_str()
            ),
            (0.0, Duration::ZERO, "v1")
        );
    }

    #[test]
    fn bad_settings_say_what_is_wrong() {
        let message = |vars: &[(&str, &str)]| format!("{:#}", settings(vars).unwrap_err());
        assert_eq!(
            message(&[]),
            "PORT is not set (the port to listen on, 0 for any)"
        );
        assert!(message(&[("PORT", "http")]).starts_with("PORT `http` is not a port number"));
        assert_eq!(
            message(&[("PORT", "1"), ("DEMO_ERROR_RATE", "2")]),
            "DEMO_ERROR_RATE 2 is outside 0 to 1"
        );
        assert!(
            message(&[("PORT", "1"), ("DEMO_LATENCY", "soon")])
                .starts_with("DEMO_LATENCY: `soon` is not a duration")
        );
        assert_eq!(
            message(&[("PORT", "1"), ("DEMO_LATENCY", "-1s")]),
            "DEMO_LATENCY `-1s` is negative"
        );
    }

    #[test]
    fn failures_are_spread_evenly_at_the_rate() {
        for (rate, expected) in [(0.0, 0), (0.1, 100), (0.25, 250), (0.333, 333), (1.0, 1000)] {
            assert_eq!(
                (0..1000).filter(|n| fails(*n, rate)).count(),
                expected,
                "{rate}"
            );
        }
        let tenth: Vec<u64> = (0..30).filter(|n| fails(*n, 0.1)).collect();
        assert_eq!(tenth, [9, 19, 29]);
    }
}
