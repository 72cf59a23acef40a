//! What the traffic router measured for one revision over a window, and what the platform
//! measured of its resource use: the inputs of the built-in analysis provider. The router fills
//! in [`TrafficSample`]s and the platform [`ResourceSample`]s, from the readings it keeps in a
//! [`ResourceHistory`]; analysis reads them through [`SignalSource`] and [`ResourceSource`].

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::rollout::RevisionNumber;

mod history;

pub use history::{ResourceHistory, ResourcePoint};

/// Golden signals of one revision of one service over one window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrafficSample {
    /// The span actually covered: shorter than asked when the revision is younger than that.
    pub window: Duration,
    /// Requests that completed in the window (a response was sent or the request failed).
    pub requests: u64,
    /// Responses by status class: index 0 is 1xx, 1 is 2xx, ... 4 is 5xx.
    pub status_classes: [u64; 5],
    /// Requests the router could not complete against this revision (connect errors, timeouts,
    /// a backend that closed mid-response); they count as errors.
    pub proxy_errors: u64,
    /// Latency quantiles in seconds, `None` when no request completed.
    pub latency: Option<LatencyQuantiles>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Requests in flight now.
    pub in_flight: u64,
}

/// Latency quantiles of one window, in seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyQuantiles {
    pub p50: f64,
    pub p75: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl TrafficSample {
    /// 5xx responses plus requests the router failed: what users saw as errors.
    pub fn errors(&self) -> u64 {
        self.status_classes[4] + self.proxy_errors
    }

    /// The share of requests that did not error, `None` without requests.
    pub fn success_rate(&self) -> Option<f64> {
        self.error_rate().map(|e| 1.0 - e)
    }

    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.errors() as f64 / self.requests as f64)
    }

    /// Requests per second over the window.
    pub fn request_rate(&self) -> Option<f64> {
        let secs = self.window.as_secs_f64();
        (secs > 0.0).then(|| self.requests as f64 / secs)
    }

    /// The latency quantile for a built-in metric's permille (990 is p99).
    pub fn latency_quantile(&self, permille: u16) -> Option<f64> {
        let q = self.latency?;
        Some(match permille {
            0..=500 => q.p50,
            501..=750 => q.p75,
            751..=900 => q.p90,
            901..=950 => q.p95,
            951..=990 => q.p99,
            _ => q.p999,
        })
    }
}

/// Counts over a revision's whole life, for judging on all the evidence since an analysis
/// began: a reader subtracts its first reading. They only grow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficTotals {
    /// Requests that completed (a response was sent or the request failed).
    pub requests: u64,
    /// 5xx responses and requests the router failed, as in [`TrafficSample::errors`].
    pub errors: u64,
    /// Requests slower than the threshold asked for, counted exactly (not read off a histogram).
    pub slower: Option<SlowerCount>,
}

/// Requests slower than a latency threshold, out of the requests timed against it: a source
/// starts counting when a threshold is first asked for, so `of` may be below the total.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlowerCount {
    pub slower: u64,
    pub of: u64,
}

/// Resolves once a source may have something new for a revision. Taken before a measurement,
/// it lets a metric that found nothing wait for news instead of asking again every interval:
/// thousands of background analyses of revisions without traffic then cost nothing.
pub type Change = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Where the built-in provider reads traffic signals: the router on the embedded default.
pub trait SignalSource: Send + Sync {
    /// The signals of `revision` of `service` over the last `window`; `None` when the source
    /// knows no such revision.
    fn sample(
        &self,
        service: &str,
        revision: RevisionNumber,
        window: Duration,
    ) -> Option<TrafficSample>;

    /// The counts of `revision` of `service` since its first request, and of its requests
    /// slower than `slower_than` since that threshold was first asked for; `None` when the
    /// source knows no such revision.
    fn totals(
        &self,
        service: &str,
        revision: RevisionNumber,
        slower_than: Option<Duration>,
    ) -> Option<TrafficTotals>;

    /// The latency distribution of `revision` of `service` since its first request, for
    /// judging quantiles on all the evidence: `(upper bound in microseconds, requests)` per
    /// bucket, ascending, each request counted in the first bucket whose bound is at least its
    /// latency. `None` when the source knows no such revision or keeps no distribution.
    fn latencies(&self, service: &str, revision: RevisionNumber) -> Option<Vec<(u64, u64)>> {
        let _ = (service, revision);
        None
    }

    /// Resolves once a request of `revision` of `service` completes after this call; `None`
    /// when the source cannot tell, and the revision is then read every interval.
    fn next_completion(&self, service: &str, revision: RevisionNumber) -> Option<Change> {
        let _ = (service, revision);
        None
    }
}

/// Resource use of one revision's replicas over one window, as shares of what a replica may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceSample {
    /// The span actually covered: shorter than asked when the revision is younger than that.
    pub window: Duration,
    /// Replicas that were measured.
    pub replicas: u32,
    /// CPU of the busiest replica as a share of its limit, or of one core when it has none.
    /// The busiest rather than the mean, so that one hot replica is not averaged away.
    pub cpu: Option<f64>,
    /// Resident memory of the fullest replica as a share of its limit, or of the machine's
    /// memory when it has none (the local platform); on a cluster, only replicas with a memory
    /// limit are measured (`None` when none has one).
    pub memory: Option<f64>,
}

/// Where the built-in provider reads CPU and memory: the local platform (from `/proc`) on the
/// embedded default, the cluster's metrics API (`metrics.k8s.io`) on the kubernetes platform.
pub trait ResourceSource: Send + Sync {
    /// The resource use of `revision` of `service` over the last `window`; `None` when the
    /// platform runs no such revision.
    fn resources(
        &self,
        service: &str,
        revision: RevisionNumber,
        window: Duration,
    ) -> Option<ResourceSample>;

    /// Resolves once the platform has a reading of `revision` of `service` taken after this
    /// call; `None` when it cannot tell, and the revision is then read every interval.
    fn next_reading(&self, service: &str, revision: RevisionNumber) -> Option<Change> {
        let _ = (service, revision);
        None
    }
}

/// Where checks reach a revision: the verify provider runs its suites against one of the
/// revision's ready replicas, directly rather than through the router, so that they test that
/// revision alone.
pub trait AddressSource: Send + Sync {
    /// The `host:port` of a ready replica of `revision` of `service` (another one on the next
    /// call, where there are several); `None` while it has none.
    fn address(&self, service: &str, revision: RevisionNumber) -> Option<String>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_count_proxy_errors_as_errors() {
        let s = TrafficSample {
            window: Duration::from_secs(10),
            requests: 200,
            status_classes: [0, 190, 0, 2, 6],
            proxy_errors: 2,
            ..TrafficSample::default()
        };
        assert_eq!(s.errors(), 8);
        assert_eq!(s.error_rate(), Some(0.04));
        assert_eq!(s.success_rate(), Some(0.96));
        assert_eq!(s.request_rate(), Some(20.0));
        assert_eq!(TrafficSample::default().error_rate(), None);
    }
}
