//! `bellwether demo-service`: a small HTTP service to put behind the router in demos
//! and benchmarks. It listens on 127.0.0.1:$PORT; `GET /health` always answers 200; every other
//! request answers 200 with a short body, or 500 for a share `DEMO_ERROR_RATE` (0 to 1).
//!
//! It behaves like a real service, not a metronome: each request fails independently at that
//! rate, and takes a log-normal time whose median is `DEMO_LATENCY` (e.g. `20ms`) and whose
//! spread is `DEMO_LATENCY_SIGMA` (default 0.5: p99 about 3.2 times the median; 0 makes it
//! constant). `DEMO_SEED` seeds the draws (default: the clock, printed at start), so a run can
//! be repeated. `DEMO_FAILURES=even` spreads failures evenly instead (with 0.1 exactly every
//! tenth request fails), for tests that need exact counts. `DEMO_VERSION` (else
//! `BELLWETHER_VERSION`, which a control plane gives its replicas) is echoed in the
//! `x-demo-version` header and the body. `DEMO_EXIT_AFTER` (e.g. `3s`) makes it crash that
//! long after it starts: it exits with an error, dropping its connections, as a service that
//! dies would.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal};
use tokio::net::TcpListener;

use crate::exit::{self, Code};
use crate::output::say;

/// What the environment asks the service to be.
#[derive(Debug, PartialEq)]
pub(crate) struct Settings {
    port: u16,
    error_rate: f64,
    /// The median answer time.
    latency: Duration,
    /// The log-normal spread of answer times around the median; 0 for a constant.
    sigma: f64,
    failures: Failures,
    seed: u64,
    version: String,
    /// How long it runs before it crashes, if it does.
    exit_after: Option<Duration>,
}

/// How failures are spread over requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failures {
    /// Each request fails independently at the rate.
    Random,
    /// Exactly the rate of any run of requests.
    Even,
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
            Some(text) => duration("DEMO_LATENCY", &text)?,
        };
        let exit_after = var("DEMO_EXIT_AFTER")
            .map(|text| duration("DEMO_EXIT_AFTER", &text))
            .transpose()?;
        let sigma = match var("DEMO_LATENCY_SIGMA") {
            None => 0.5,
            Some(text) => match text.trim().parse::<f64>() {
                Ok(s) if (0.0..=5.0).contains(&s) => s,
                _ => bail!("DEMO_LATENCY_SIGMA `{text}` is not a number from 0 to 5 (e.g. 0.5)"),
            },
        };
        let failures = match var("DEMO_FAILURES").as_deref().map(str::trim) {
            None | Some("random") => Failures::Random,
            Some("even") => Failures::Even,
            Some(other) => bail!("DEMO_FAILURES `{other}` is neither `random` nor `even`"),
        };
        let seed = match var("DEMO_SEED") {
            Some(text) => match text.trim().parse() {
                Ok(seed) => seed,
                Err(_) => bail!("DEMO_SEED `{text}` is not a whole number"),
            },
            None => SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
        };
        // Under a control plane the revision's version is already in the environment.
        let version = var("DEMO_VERSION")
            .or_else(|| var("BELLWETHER_VERSION"))
            .unwrap_or_else(|| "v1".to_owned());
        Ok(Self {
            port,
            error_rate,
            latency,
            sigma,
            failures,
            seed,
            version,
            exit_after,
        })
    }
}

/// The duration the variable `name` holds.
fn duration(name: &str, text: &str) -> anyhow::Result<Duration> {
    bellwether_config::values::DurationValue::parse(text)
        .map_err(anyhow::Error::msg)
        .context(name.to_owned())?
        .to_std()
        .with_context(|| format!("{name} `{text}` is negative"))
}

pub(crate) fn run() -> anyhow::Result<Code> {
    let settings = Settings::from_env(|name| std::env::var(name).ok())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let exit_after = settings.exit_after;
    runtime.block_on(async {
        match exit_after {
            None => serve(settings).await,
            Some(after) => tokio::select! {
                served = serve(settings) => served,
                () = tokio::time::sleep(after) => {
                    bail!("crashing {after:?} after the start, as DEMO_EXIT_AFTER asks")
                }
            },
        }
    })?;
    Ok(exit::SUCCESS)
}

/// The service's answers; `served` counts the requests that may fail.
struct Service {
    settings: Settings,
    version: HeaderValue,
    body: Bytes,
    served: AtomicU64,
    draws: Mutex<Draws>,
}

/// Whether each request fails and how long it takes, drawn from one seeded generator.
struct Draws {
    rng: SmallRng,
    latency: Option<LogNormal<f64>>,
}

impl Draws {
    fn new(settings: &Settings) -> Self {
        let median = settings.latency.as_secs_f64();
        let latency = (median > 0.0 && settings.sigma > 0.0)
            .then(|| LogNormal::new(median.ln(), settings.sigma).ok())
            .flatten();
        Self {
            rng: SmallRng::seed_from_u64(settings.seed),
            latency,
        }
    }

    fn fails(&mut self, rate: f64) -> bool {
        self.rng.random_bool(rate)
    }

    /// An answer time: log-normal around the median, or the median itself.
    fn latency(&mut self, median: Duration) -> Duration {
        match &self.latency {
            Some(d) => Duration::try_from_secs_f64(d.sample(&mut self.rng)).unwrap_or(median),
            None => median,
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], settings.port));
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let failures = match settings.failures {
        Failures::Random => format!("failures at random, seed {}", settings.seed),
        Failures::Even => "failures spread evenly".to_owned(),
    };
    // The address comes last: whoever reads it may stop reading there.
    say(&format!(
        "demo-service {}: {failures}\ndemo-service {} listening on {}\n",
        settings.version,
        settings.version,
        listener.local_addr()?
    ));
    let version = HeaderValue::from_str(&settings.version)
        .context("DEMO_VERSION is not a valid header value")?;
    let body = Bytes::from(format!("hello from {}\n", settings.version));
    let service = Arc::new(Service {
        draws: Mutex::new(Draws::new(&settings)),
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
        let (fail, latency) = {
            let mut draws = self.draws.lock().unwrap_or_else(PoisonError::into_inner);
            let rate = self.settings.error_rate;
            let fail = match self.settings.failures {
                Failures::Random => draws.fails(rate),
                Failures::Even => fails_evenly(self.served.fetch_add(1, Ordering::Relaxed), rate),
            };
            (fail, draws.latency(self.settings.latency))
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if fail {
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
/// evenly, so a test sees the same error rate every time.
fn fails_evenly(n: u64, rate: f64) -> bool {
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
            ("DEMO_LATENCY_SIGMA", "0.2"),
            ("DEMO_FAILURES", "even"),
            ("DEMO_SEED", "42"),
            ("DEMO_VERSION", "v2"),
            ("DEMO_EXIT_AFTER", "3s"),
        ])
        .unwrap();
        assert_eq!(
            s,
            Settings {
                port: 9001,
                error_rate: 0.25,
                latency: Duration::from_millis(20),
                sigma: 0.2,
                failures: Failures::Even,
                seed: 42,
                version: "v2".into(),
                exit_after: Some(Duration::from_secs(3)),
            }
        );
        let defaults = settings(&[("PORT", "0")]).unwrap();
        assert_eq!(
            (
                defaults.error_rate,
                defaults.latency,
                defaults.version.as_str(),
                defaults.exit_after
            ),
            (0.0, Duration::ZERO, "v1", None)
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
        assert!(
            message(&[("PORT", "1"), ("DEMO_EXIT_AFTER", "later")])
                .starts_with("DEMO_EXIT_AFTER: `later` is not a duration")
        );
        assert_eq!(
            message(&[("PORT", "1"), ("DEMO_FAILURES", "bursty")]),
            "DEMO_FAILURES `bursty` is neither `random` nor `even`"
        );
        assert_eq!(
            message(&[("PORT", "1"), ("DEMO_SEED", "-3")]),
            "DEMO_SEED `-3` is not a whole number"
        );
    }

    /// Failures at random: over 20,000 requests at 5%, the count is within six standard
    /// deviations of 1,000 (a chance below 1e-8 of failing by bad luck), and the same seed
    /// draws the same failures and answer times.
    #[test]
    fn random_failures_and_latencies_repeat_with_their_seed() {
        let s = settings(&[("PORT", "0"), ("DEMO_SEED", "7"), ("DEMO_LATENCY", "10ms")]).unwrap();
        let draw = || {
            let mut d = Draws::new(&s);
            (0..20_000)
                .map(|_| (d.fails(0.05), d.latency(s.latency)))
                .collect::<Vec<_>>()
        };
        let first = draw();
        assert_eq!(first, draw());
        let failed = first.iter().filter(|(f, _)| *f).count();
        assert!((1_000usize.abs_diff(failed)) < 6 * 31, "{failed} failures");
        let mut latencies: Vec<Duration> = first.iter().map(|(_, l)| *l).collect();
        latencies.sort();
        let median = latencies[latencies.len() / 2].as_secs_f64();
        let p99 = latencies[latencies.len() * 99 / 100].as_secs_f64();
        assert!((median - 0.010).abs() < 0.0005, "median {median}");
        assert!(
            p99 > 2.5 * median,
            "a log-normal tail: p99 {p99}, median {median}"
        );
    }

    #[test]
    fn failures_are_spread_evenly_at_the_rate() {
        for (rate, expected) in [(0.0, 0), (0.1, 100), (0.25, 250), (0.333, 333), (1.0, 1000)] {
            assert_eq!(
                (0..1000).filter(|n| fails_evenly(*n, rate)).count(),
                expected,
                "{rate}"
            );
        }
        let tenth: Vec<u64> = (0..30).filter(|n| fails_evenly(*n, 0.1)).collect();
        assert_eq!(tenth, [9, 19, 29]);
    }
}
