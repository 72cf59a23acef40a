//! Rolling windows of one revision's golden signals: rings of time buckets, each with counters
//! and a latency histogram, plus a running total since the revision started.
//!
//! Recording touches three buckets (the 1 s ring, the 10 s ring and the total); a query merges
//! at most sixty buckets of the finest ring that covers the window, so "success rate over the
//! last 30 s" costs about 0.1 ms (measured in a release build with every bucket full) and can
//! be asked many times a second.
//!
//! A bucket's histogram is about 17 KiB, so the buckets are allocated with a revision's first
//! request: a control plane with thousands of revisions that take no traffic pays nothing for
//! them.

use std::time::Duration;

use bellwether_core::signal::{LatencyQuantiles, SlowerCount, TrafficSample, TrafficTotals};
use hdrhistogram::Histogram;

/// Latencies are recorded in microseconds, up to an hour, to two significant figures (1%).
const LOWEST_MICROS: u64 = 1;
const HIGHEST_MICROS: u64 = 3_600_000_000;
const SIGNIFICANT_FIGURES: u8 = 2;

/// Buckets per ring; with the widths below the rings span one and ten minutes.
const BUCKETS: usize = 60;
const FINE: Duration = Duration::from_secs(1);
const COARSE: Duration = Duration::from_secs(10);

/// How one request ended, as the router saw it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outcome {
    /// The response's status; `None` when the router failed the request itself.
    pub(crate) status: Option<u16>,
    pub(crate) latency: Duration,
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
}

/// Counters and a histogram for one span of time.
#[derive(Clone, Debug)]
pub(crate) struct Bucket {
    /// Which span this bucket holds: its start as a multiple of the ring's width.
    index: u64,
    pub(crate) requests: u64,
    pub(crate) status_classes: [u64; 5],
    pub(crate) proxy_errors: u64,
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
    pub(crate) latency: Histogram<u64>,
}

impl Bucket {
    pub(crate) fn new() -> Self {
        Self {
            index: 0,
            requests: 0,
            status_classes: [0; 5],
            proxy_errors: 0,
            bytes_in: 0,
            bytes_out: 0,
            latency: new_histogram(),
        }
    }

    fn reset(&mut self, index: u64) {
        self.index = index;
        self.requests = 0;
        self.status_classes = [0; 5];
        self.proxy_errors = 0;
        self.bytes_in = 0;
        self.bytes_out = 0;
        self.latency.reset();
    }

    fn record(&mut self, outcome: &Outcome) {
        self.requests += 1;
        match outcome.status {
            Some(status @ 100..=599) => self.status_classes[usize::from(status / 100 - 1)] += 1,
            // A status outside 1xx-5xx is no answer a client can use: count it as an error.
            Some(_) | None => self.proxy_errors += 1,
        }
        self.bytes_in += outcome.bytes_in;
        self.bytes_out += outcome.bytes_out;
        let micros = u64::try_from(outcome.latency.as_micros()).unwrap_or(u64::MAX);
        self.latency.saturating_record(micros.max(LOWEST_MICROS));
    }

    fn add(&mut self, other: &Bucket) {
        self.requests += other.requests;
        for (mine, theirs) in self.status_classes.iter_mut().zip(other.status_classes) {
            *mine += theirs;
        }
        self.proxy_errors += other.proxy_errors;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        // Both histograms share bounds and precision, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
    }

    /// The bucket as the core's sample over `window`.
    pub(crate) fn sample(&self, window: Duration, in_flight: u64) -> TrafficSample {
        TrafficSample {
            window,
            requests: self.requests,
            status_classes: self.status_classes,
            proxy_errors: self.proxy_errors,
            latency: quantiles(&self.latency),
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            in_flight,
        }
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(LOWEST_MICROS, HIGHEST_MICROS, SIGNIFICANT_FIGURES)
        .expect("constant histogram bounds are valid")
}

fn quantiles(h: &Histogram<u64>) -> Option<LatencyQuantiles> {
    if h.is_empty() {
        return None;
    }
    let at = |q: f64| h.value_at_quantile(q) as f64 / 1e6;
    Some(LatencyQuantiles {
        p50: at(0.5),
        p75: at(0.75),
        p90: at(0.9),
        p95: at(0.95),
        p99: at(0.99),
        p999: at(0.999),
        max: h.max() as f64 / 1e6,
    })
}

/// Buckets of one width, reused in a circle; none until the first request.
#[derive(Debug)]
struct Ring {
    width: Duration,
    buckets: Vec<Bucket>,
}

impl Ring {
    fn new(width: Duration) -> Self {
        Self {
            width,
            buckets: Vec::new(),
        }
    }

    fn index(&self, elapsed: Duration) -> u64 {
        (elapsed.as_nanos() / self.width.as_nanos()) as u64
    }

    fn record(&mut self, elapsed: Duration, outcome: &Outcome) {
        if self.buckets.is_empty() {
            self.buckets = (0..BUCKETS).map(|_| Bucket::new()).collect();
        }
        let index = self.index(elapsed);
        let bucket = &mut self.buckets[(index % BUCKETS as u64) as usize];
        if bucket.index != index {
            bucket.reset(index);
        }
        bucket.record(outcome);
    }

    fn span(&self) -> Duration {
        self.width * BUCKETS as u32
    }

    /// The buckets that cover the last `window`, merged, and the span they actually cover.
    fn merged(&self, elapsed: Duration, window: Duration) -> (Bucket, Duration) {
        // The oldest bucket is the one holding the instant `window` ago, so the span covered is
        // at least the window (less only when the ring is too short for it).
        let current = self.index(elapsed);
        let oldest = self
            .index(elapsed.saturating_sub(window))
            .max(current.saturating_sub(BUCKETS as u64 - 1));
        let mut merged = Bucket::new();
        for bucket in &self.buckets {
            if bucket.requests > 0 && (oldest..=current).contains(&bucket.index) {
                merged.add(bucket);
            }
        }
        let covered = elapsed.saturating_sub(self.width * oldest as u32);
        (merged, covered)
    }
}

/// All windows of one revision.
#[derive(Debug)]
pub(crate) struct Windows {
    fine: Ring,
    coarse: Ring,
    /// `None` until the first request.
    total: Option<Bucket>,
    /// Requests slower than each latency threshold analysis asked about, counted one by one
    /// from the first time it asked: a histogram bucket may straddle a threshold, a count
    /// cannot.
    slower: Vec<(Duration, SlowerCount)>,
}

impl Windows {
    pub(crate) fn new() -> Self {
        Self {
            fine: Ring::new(FINE),
            coarse: Ring::new(COARSE),
            total: None,
            slower: Vec::new(),
        }
    }

    /// Records a request that ended `elapsed` after the revision started.
    pub(crate) fn record(&mut self, elapsed: Duration, outcome: &Outcome) {
        self.fine.record(elapsed, outcome);
        self.coarse.record(elapsed, outcome);
        self.total.get_or_insert_with(Bucket::new).record(outcome);
        for (threshold, count) in &mut self.slower {
            count.of += 1;
            count.slower += u64::from(outcome.latency > *threshold);
        }
    }

    /// The counts since the start, and of requests slower than `slower_than` since it was
    /// first asked for (from zero, then).
    pub(crate) fn totals(&mut self, slower_than: Option<Duration>) -> TrafficTotals {
        let (requests, errors) = self.total.as_ref().map_or((0, 0), |t| {
            (t.requests, t.status_classes[4] + t.proxy_errors)
        });
        let slower =
            slower_than.map(
                |threshold| match self.slower.iter().find(|(t, _)| *t == threshold) {
                    Some((_, count)) => *count,
                    None => {
                        self.slower.push((threshold, SlowerCount::default()));
                        SlowerCount::default()
                    }
                },
            );
        TrafficTotals {
            requests,
            errors,
            slower,
        }
    }

    /// The signals over the last `window` as of `elapsed` after the start: the whole history
    /// when the revision is younger than the window, else the finest ring that covers it.
    pub(crate) fn sample(
        &self,
        elapsed: Duration,
        window: Duration,
        in_flight: u64,
    ) -> TrafficSample {
        if window >= elapsed {
            return match &self.total {
                Some(total) => total.sample(elapsed, in_flight),
                None => TrafficSample {
                    window: elapsed,
                    in_flight,
                    ..TrafficSample::default()
                },
            };
        }
        let ring = if window <= self.fine.span() {
            &self.fine
        } else {
            &self.coarse
        };
        let (merged, covered) = ring.merged(elapsed, window.min(ring.span()));
        merged.sample(covered, in_flight)
    }

    /// The latency distribution since the start, bucket by bucket: see
    /// [`bellwether_core::signal::SignalSource::latencies`].
    pub(crate) fn latencies(&self) -> Vec<(u64, u64)> {
        self.total.as_ref().map_or_else(Vec::new, |t| {
            t.latency
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect()
        })
    }

    /// Everything since the start, for the Prometheus counters; `None` before any request.
    pub(crate) fn total(&self) -> Option<&Bucket> {
        self.total.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(millis: u64) -> Outcome {
        Outcome {
            status: Some(200),
            latency: Duration::from_millis(millis),
            bytes_in: 10,
            bytes_out: 100,
        }
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn a_young_revision_reports_its_whole_life() {
        let mut w = Windows::new();
        w.record(secs(0.5), &ok(10));
        w.record(
            secs(1.5),
            &Outcome {
                status: None,
                ..ok(20)
            },
        );
        let s = w.sample(secs(2.0), secs(30.0), 3);
        assert_eq!(s.window, secs(2.0));
        assert_eq!((s.requests, s.proxy_errors, s.in_flight), (2, 1, 3));
        assert_eq!(s.status_classes, [0, 1, 0, 0, 0]);
        assert_eq!((s.bytes_in, s.bytes_out), (20, 200));
        let q = s.latency.unwrap();
        assert!((q.max - 0.020).abs() < 0.001, "{q:?}");
    }

    #[test]
    fn old_requests_leave_the_window() {
        let mut w = Windows::new();
        for t in 0..100 {
            let status = if t < 50 { 500 } else { 200 };
            w.record(
                secs(f64::from(t) + 0.5),
                &Outcome {
                    status: Some(status),
                    ..ok(5)
                },
            );
        }
        let last_10 = w.sample(secs(100.0), secs(10.0), 0);
        assert_eq!(last_10.requests, 10);
        assert_eq!(last_10.status_classes[4], 0);
        assert_eq!(last_10.window, secs(10.0));
        // Ninety seconds is beyond the fine ring: the coarse ring answers, in 10 s steps.
        let last_90 = w.sample(secs(100.0), secs(90.0), 0);
        assert_eq!(last_90.requests, 90);
        assert_eq!(last_90.status_classes[4], 40);
        assert_eq!(w.total().map(|t| t.requests), Some(100));
    }

    #[test]
    fn a_revision_without_requests_has_no_buckets_yet() {
        let mut w = Windows::new();
        let s = w.sample(secs(90.0), secs(30.0), 2);
        assert_eq!((s.requests, s.in_flight, s.latency), (0, 2, None));
        assert_eq!(w.sample(secs(5.0), secs(30.0), 0).window, secs(5.0));
        assert!(w.fine.buckets.is_empty() && w.coarse.buckets.is_empty());
        assert!(w.total().is_none());
        w.record(secs(91.0), &ok(1));
        assert_eq!(w.fine.buckets.len(), BUCKETS);
        assert_eq!(w.sample(secs(92.0), secs(30.0), 0).requests, 1);
    }

    #[test]
    fn a_reused_bucket_forgets_its_previous_lap() {
        let mut w = Windows::new();
        w.record(secs(0.5), &ok(1));
        w.record(secs(60.5), &ok(1));
        let s = w.sample(secs(61.0), secs(5.0), 0);
        assert_eq!(s.requests, 1);
    }

    #[test]
    fn totals_count_every_request_and_slow_ones_exactly_from_when_asked() {
        let mut w = Windows::new();
        let threshold = Duration::from_millis(200);
        w.record(secs(0.1), &ok(500));
        let first = w.totals(Some(threshold));
        assert_eq!((first.requests, first.errors), (1, 0));
        assert_eq!(first.slower, Some(SlowerCount { slower: 0, of: 0 }));
        // Exactly at the threshold is not slower; a hair above is, whatever the histogram's
        // precision (its buckets are 1% wide around 200 ms).
        w.record(secs(0.2), &ok(200));
        w.record(
            secs(0.3),
            &Outcome {
                latency: Duration::from_micros(200_001),
                ..ok(0)
            },
        );
        w.record(
            secs(0.4),
            &Outcome {
                status: Some(503),
                ..ok(10)
            },
        );
        w.record(
            secs(0.5),
            &Outcome {
                status: None,
                ..ok(10)
            },
        );
        let later = w.totals(Some(threshold));
        assert_eq!((later.requests, later.errors), (5, 2));
        assert_eq!(later.slower, Some(SlowerCount { slower: 1, of: 4 }));
        assert_eq!(w.totals(None).slower, None);
    }

    #[test]
    fn the_latency_distribution_counts_each_request_once_under_a_bound_at_least_its_latency() {
        let mut w = Windows::new();
        assert!(w.latencies().is_empty());
        for ms in [5, 5, 120, 480] {
            w.record(secs(0.1), &ok(ms));
        }
        let buckets = w.latencies();
        assert_eq!(buckets.iter().map(|(_, n)| n).sum::<u64>(), 4);
        assert!(buckets.windows(2).all(|b| b[0].0 < b[1].0), "{buckets:?}");
        // Within the histogram's precision (1%), the requests at most each latency.
        for (ms, want) in [(5, 2), (120, 3), (480, 4)] {
            let bound = ms * 1_000 * 101 / 100;
            let at_most: u64 = buckets
                .iter()
                .filter(|(b, _)| *b <= bound)
                .map(|(_, n)| n)
                .sum();
            assert_eq!(at_most, want, "{ms}ms: {buckets:?}");
        }
    }

    #[test]
    fn strange_statuses_and_huge_latencies_do_not_panic() {
        let mut w = Windows::new();
        w.record(
            secs(0.1),
            &Outcome {
                status: Some(999),
                latency: Duration::MAX,
                ..ok(0)
            },
        );
        let s = w.sample(secs(0.2), secs(1.0), 0);
        assert_eq!((s.requests, s.proxy_errors), (1, 1));
        assert!(s.latency.unwrap().max >= 3600.0);
    }
}
