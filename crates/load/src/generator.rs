//! The seam for other crates: steady synthetic traffic at one URL, so that a canary of a
//! low-traffic service gathers evidence. The generator enforces its cap whatever rate it is
//! asked for, and never has more than [`Generator::MAX_IN_FLIGHT`] requests outstanding, so a
//! slow service is not piled on: an iteration that finds them all busy is dropped.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, Method};

use crate::client::{Connect, Tcp};
use crate::engine::{Options, Run};
use crate::metrics::{Metric, Metrics};
use crate::plan::{self, Executor, Plan, Request, Scenario};
use crate::schedule::{RateRamp, Stage};
use crate::template::{Template, Variants};

/// What to send.
#[derive(Clone, Debug, PartialEq)]
pub struct Traffic {
    /// An `http://` URL; each request is a GET of it.
    pub url: String,
    /// Sent with every request (e.g. the header a router routes the canary by).
    pub headers: Vec<(String, String)>,
    /// Requests per second asked for.
    pub rate: f64,
    /// Requests per second never exceeded, whatever `rate` says.
    pub cap: f64,
}

/// What a generator has sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    pub requests: u64,
    /// Requests without an answer of 200 to 399.
    pub failed: u64,
    /// Requests not sent because `MAX_IN_FLIGHT` were outstanding.
    pub dropped: u64,
}

impl Sent {
    fn of(metrics: &Metrics) -> Self {
        Self {
            requests: metrics.count(Metric::HttpReqs),
            failed: metrics.rate(Metric::HttpReqFailed).passes,
            dropped: metrics.count(Metric::DroppedIterations),
        }
    }
}

/// Traffic being sent; it stops when dropped or told to.
pub struct Generator {
    run: Option<Run>,
    rate: f64,
}

/// How long a generator runs unless stopped: as good as forever.
const FOREVER: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

impl Generator {
    /// The most requests outstanding at once.
    pub const MAX_IN_FLIGHT: u32 = 64;

    /// Starts sending on the current tokio runtime, over TCP.
    pub fn start(traffic: Traffic) -> Result<Generator, String> {
        Self::start_with(traffic, Arc::new(Tcp))
    }

    /// Starts sending through `connector`.
    pub fn start_with(traffic: Traffic, connector: Arc<dyn Connect>) -> Result<Generator, String> {
        let positive = |what: &str, n: f64| {
            if n.is_finite() && n > 0.0 {
                Ok(n)
            } else {
                Err(format!(
                    "{what} {n} is not a rate (expected requests per second above 0)"
                ))
            }
        };
        let rate = positive("rate", traffic.rate)?.min(positive("cap", traffic.cap)?);
        plan::check_url(&traffic.url)?;
        let mut headers = Vec::new();
        for (name, value) in &traffic.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("`{name}` is not a header name"))?;
            http::HeaderValue::from_str(value)
                .map_err(|_| format!("`{value}` is not a header value"))?;
            headers.push((
                name,
                Template::parse(value, &[]).map_err(|e| e.to_string())?,
            ));
        }
        let in_flight = Self::MAX_IN_FLIGHT.min(rate.ceil() as u32).max(1);
        let plan = Plan {
            scenarios: vec![Scenario {
                name: "traffic".to_owned(),
                executor: Executor::Arrival {
                    ramping: false,
                    ramp: RateRamp {
                        start: rate,
                        stages: vec![Stage {
                            duration: FOREVER,
                            target: rate,
                        }],
                    },
                    pre_allocated: 1,
                    max_vus: in_flight,
                },
                start_time: Duration::ZERO,
                graceful_stop: Duration::ZERO,
            }],
            requests: vec![Request {
                name: "traffic".to_owned(),
                method: Method::GET,
                url: Template::parse(&traffic.url, &[])?,
                headers,
                body: None,
                variants: Variants::default(),
                sleep: Duration::ZERO,
                timeout: Duration::from_secs(10),
                checks: Vec::new(),
            }],
            checks: Vec::new(),
            thresholds: Vec::new(),
            sub_metrics: Vec::new(),
        };
        let run = Run::start(
            plan,
            Options {
                connector,
                samples: None,
                workers: Vec::new(),
            },
        );
        Ok(Generator {
            run: Some(run),
            rate,
        })
    }

    /// The rate it sends at: the one asked for, or the cap if lower.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// What it has sent so far.
    pub fn sent(&self) -> Sent {
        self.run
            .as_ref()
            .map(|r| Sent::of(&r.metrics()))
            .unwrap_or_default()
    }

    /// Stops sending and waits for the requests in flight to be let go.
    pub async fn stop(mut self) -> Sent {
        match self.run.take() {
            Some(run) => {
                run.stop();
                Sent::of(&run.finish().await.metrics)
            }
            None => Sent::default(),
        }
    }
}

impl Drop for Generator {
    fn drop(&mut self) {
        if let Some(run) = &self.run {
            run.stop();
        }
    }
}
