//! The metrics of a test, k6's built-ins by k6's names: what one sample adds to them, and the
//! values a threshold or the summary reads. Latencies go into HDR histograms (microseconds,
//! three significant digits), so shards recorded apart merge exactly.

use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;

/// A built-in metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    Checks,
    DroppedIterations,
    HttpReqDuration,
    HttpReqFailed,
    HttpReqs,
    IterationDuration,
    Iterations,
    Vus,
    VusMax,
}

/// How a metric aggregates, which decides what a threshold may ask of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Durations: avg, min, med, max, p(N).
    Trend,
    /// A share of true samples: rate.
    Rate,
    /// A count: count, and rate per second.
    Counter,
    /// A level: value, min, max.
    Gauge,
}

impl Metric {
    pub const ALL: [Metric; 9] = [
        Metric::Checks,
        Metric::DroppedIterations,
        Metric::HttpReqDuration,
        Metric::HttpReqFailed,
        Metric::HttpReqs,
        Metric::IterationDuration,
        Metric::Iterations,
        Metric::Vus,
        Metric::VusMax,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::Checks => "checks",
            Metric::DroppedIterations => "dropped_iterations",
            Metric::HttpReqDuration => "http_req_duration",
            Metric::HttpReqFailed => "http_req_failed",
            Metric::HttpReqs => "http_reqs",
            Metric::IterationDuration => "iteration_duration",
            Metric::Iterations => "iterations",
            Metric::Vus => "vus",
            Metric::VusMax => "vus_max",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    pub fn kind(self) -> Kind {
        match self {
            Metric::HttpReqDuration | Metric::IterationDuration => Kind::Trend,
            Metric::Checks | Metric::HttpReqFailed => Kind::Rate,
            Metric::DroppedIterations | Metric::HttpReqs | Metric::Iterations => Kind::Counter,
            Metric::Vus | Metric::VusMax => Kind::Gauge,
        }
    }

    /// The tags its samples carry, which a sub-metric may select on.
    pub fn tags(self) -> &'static [Tag] {
        match self {
            Metric::HttpReqDuration | Metric::HttpReqFailed | Metric::HttpReqs => &[
                Tag::Scenario,
                Tag::Name,
                Tag::Method,
                Tag::Url,
                Tag::Status,
                Tag::ExpectedResponse,
            ],
            Metric::Checks => &[Tag::Scenario, Tag::Name, Tag::Check],
            Metric::DroppedIterations | Metric::IterationDuration | Metric::Iterations => {
                &[Tag::Scenario]
            }
            Metric::Vus | Metric::VusMax => &[],
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A tag a sample carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tag {
    Scenario,
    Name,
    Method,
    Url,
    Status,
    ExpectedResponse,
    Check,
}

impl Tag {
    pub const ALL: [Tag; 7] = [
        Tag::Scenario,
        Tag::Name,
        Tag::Method,
        Tag::Url,
        Tag::Status,
        Tag::ExpectedResponse,
        Tag::Check,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Tag::Scenario => "scenario",
            Tag::Name => "name",
            Tag::Method => "method",
            Tag::Url => "url",
            Tag::Status => "status",
            Tag::ExpectedResponse => "expected_response",
            Tag::Check => "check",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// The tags of one sample; a metric without a tag leaves it empty.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tags<'a> {
    pub scenario: &'a str,
    pub name: &'a str,
    pub method: &'a str,
    pub url: &'a str,
    /// 0 when no response came.
    pub status: u16,
    pub check: &'a str,
}

impl Tags<'_> {
    /// Whether the tag has `value`, as a sub-metric's selector writes it.
    pub fn has(&self, tag: Tag, value: &str) -> bool {
        match tag {
            Tag::Scenario => self.scenario == value,
            Tag::Name => self.name == value,
            Tag::Method => self.method == value,
            Tag::Url => self.url == value,
            Tag::Status => value.parse() == Ok(self.status),
            Tag::ExpectedResponse => value == expected(self.status).to_string(),
            Tag::Check => self.check == value,
        }
    }
}

/// Whether a status is what k6 expects by default (200 to 399); 0 (no response) is not.
pub fn expected(status: u16) -> bool {
    (200..400).contains(&status)
}

/// One observation.
#[derive(Clone, Copy, Debug)]
pub enum Sample {
    /// A request ended (or failed to): its duration and whether it failed.
    Request { duration: Duration, failed: bool },
    /// A check was judged.
    Check { id: usize, passed: bool },
    /// An iteration ended.
    Iteration { duration: Duration },
    /// An arrival-rate iteration found no free VU.
    Dropped,
    /// The number of active VUs, and how many exist.
    Vus { active: u64, max: u64 },
}

/// The highest latency a histogram holds; longer ones count as this.
const MAX_MICROS: u64 = 3_600_000_000;

/// A metric's aggregate.
#[derive(Clone, Debug)]
pub enum Series {
    Trend(Trend),
    Rate(Rate),
    Counter(u64),
    Gauge(Gauge),
}

impl Series {
    fn new(kind: Kind) -> Self {
        match kind {
            Kind::Trend => Series::Trend(Trend::default()),
            Kind::Rate => Series::Rate(Rate::default()),
            Kind::Counter => Series::Counter(0),
            Kind::Gauge => Series::Gauge(Gauge::default()),
        }
    }

    fn merge(&mut self, other: &Series) {
        match (self, other) {
            (Series::Trend(a), Series::Trend(b)) => a.merge(b),
            (Series::Rate(a), Series::Rate(b)) => {
                a.passes += b.passes;
                a.total += b.total;
            }
            (Series::Counter(a), Series::Counter(b)) => *a += b,
            (Series::Gauge(a), Series::Gauge(b)) => a.merge(b),
            _ => {}
        }
    }
}

/// Durations: a histogram for quantiles, exact count, sum, min and max.
#[derive(Clone, Debug)]
pub struct Trend {
    histogram: Histogram<u64>,
    count: u64,
    sum_micros: u64,
    min_micros: u64,
    max_micros: u64,
}

impl Default for Trend {
    fn default() -> Self {
        Self {
            histogram: Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("the bounds are valid"),
            count: 0,
            sum_micros: 0,
            min_micros: u64::MAX,
            max_micros: 0,
        }
    }
}

impl Trend {
    pub fn record(&mut self, duration: Duration) {
        let micros = u64::try_from(duration.as_micros())
            .unwrap_or(u64::MAX)
            .min(MAX_MICROS);
        self.histogram.saturating_record(micros.max(1));
        self.count += 1;
        self.sum_micros = self.sum_micros.saturating_add(micros);
        self.min_micros = self.min_micros.min(micros);
        self.max_micros = self.max_micros.max(micros);
    }

    fn merge(&mut self, other: &Trend) {
        // Both have the same bounds, so adding cannot fail.
        let _ = self.histogram.add(&other.histogram);
        self.count += other.count;
        self.sum_micros = self.sum_micros.saturating_add(other.sum_micros);
        self.min_micros = self.min_micros.min(other.min_micros);
        self.max_micros = self.max_micros.max(other.max_micros);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The values in milliseconds, as k6 reports them; 0 without samples, as k6.
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum_micros as f64 / self.count as f64 / 1000.0
        }
    }

    pub fn min(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.min_micros as f64 / 1000.0
        }
    }

    pub fn max(&self) -> f64 {
        self.max_micros as f64 / 1000.0
    }

    /// The `p`th percentile (0 to 100).
    pub fn percentile(&self, p: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let value = self
            .histogram
            .value_at_quantile((p / 100.0).clamp(0.0, 1.0));
        // The histogram answers with its bucket's highest value; never past the true extremes.
        value.clamp(self.min_micros, self.max_micros) as f64 / 1000.0
    }
}

/// A share of samples that were true.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rate {
    pub passes: u64,
    pub total: u64,
}

impl Rate {
    pub fn add(&mut self, passed: bool) {
        self.passes += u64::from(passed);
        self.total += 1;
    }

    pub fn fails(&self) -> u64 {
        self.total - self.passes
    }

    /// 0 without samples, as k6.
    pub fn rate(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.passes as f64 / self.total as f64
        }
    }
}

/// A level seen over time: the last value, and the lowest and highest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gauge {
    pub value: u64,
    pub min: u64,
    pub max: u64,
    seen: bool,
}

impl Gauge {
    fn set(&mut self, value: u64) {
        self.min = if self.seen {
            self.min.min(value)
        } else {
            value
        };
        self.max = self.max.max(value);
        self.value = value;
        self.seen = true;
    }

    fn merge(&mut self, other: &Gauge) {
        if other.seen {
            self.set(other.value);
            self.min = self.min.min(other.min);
            self.max = self.max.max(other.max);
        }
    }
}

/// A metric, or a sub-metric: the samples of a metric whose tags have the given values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    pub metric: Metric,
    pub tags: Vec<(Tag, String)>,
}

impl Selector {
    pub fn matches(&self, tags: &Tags<'_>) -> bool {
        self.tags.iter().all(|(tag, value)| tags.has(*tag, value))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.metric.name())?;
        if !self.tags.is_empty() {
            let tags: Vec<String> = self
                .tags
                .iter()
                .map(|(t, v)| format!("{}:{v}", t.name()))
                .collect();
            write!(f, "{{{}}}", tags.join(","))?;
        }
        Ok(())
    }
}

/// Every metric of a test (or of one shard of it): the built-ins, the sub-metrics the
/// thresholds select, and each check's passes and fails.
#[derive(Clone, Debug)]
pub struct Metrics {
    builtin: Vec<Series>,
    subs: Vec<(Selector, Series)>,
    checks: Vec<Rate>,
}

impl Metrics {
    /// Empty metrics that keep `subs` apart and count `checks` checks.
    pub fn new(subs: &[Selector], checks: usize) -> Self {
        Self {
            builtin: Metric::ALL.iter().map(|m| Series::new(m.kind())).collect(),
            subs: subs
                .iter()
                .map(|s| (s.clone(), Series::new(s.metric.kind())))
                .collect(),
            checks: vec![Rate::default(); checks],
        }
    }

    /// Adds one sample with its tags.
    pub fn record(&mut self, sample: Sample, tags: &Tags<'_>) {
        match sample {
            Sample::Request { duration, failed } => {
                self.each(Metric::HttpReqs, tags, |s| s.count(1));
                self.each(Metric::HttpReqDuration, tags, |s| s.time(duration));
                self.each(Metric::HttpReqFailed, tags, |s| s.share(failed));
            }
            Sample::Check { id, passed } => {
                if let Some(rate) = self.checks.get_mut(id) {
                    rate.add(passed);
                }
                self.each(Metric::Checks, tags, |s| s.share(passed));
            }
            Sample::Iteration { duration } => {
                self.each(Metric::Iterations, tags, |s| s.count(1));
                self.each(Metric::IterationDuration, tags, |s| s.time(duration));
            }
            Sample::Dropped => self.each(Metric::DroppedIterations, tags, |s| s.count(1)),
            Sample::Vus { active, max } => {
                self.each(Metric::Vus, tags, |s| s.level(active));
                self.each(Metric::VusMax, tags, |s| s.level(max));
            }
        }
    }

    /// Applies `f` to the metric and to each of its sub-metrics that `tags` select.
    fn each(&mut self, metric: Metric, tags: &Tags<'_>, f: impl Fn(&mut Series)) {
        f(&mut self.builtin[metric as usize]);
        for (selector, series) in &mut self.subs {
            if selector.metric == metric && selector.matches(tags) {
                f(series);
            }
        }
    }

    /// Adds another shard's metrics (made with the same sub-metrics and checks).
    pub fn merge(&mut self, other: &Metrics) {
        for (a, b) in self.builtin.iter_mut().zip(&other.builtin) {
            a.merge(b);
        }
        for ((_, a), (_, b)) in self.subs.iter_mut().zip(&other.subs) {
            a.merge(b);
        }
        for (a, b) in self.checks.iter_mut().zip(&other.checks) {
            a.passes += b.passes;
            a.total += b.total;
        }
    }

    pub fn series(&self, metric: Metric) -> &Series {
        &self.builtin[metric as usize]
    }

    /// The series a selector names: the built-in metric, or one of the sub-metrics.
    pub fn select(&self, selector: &Selector) -> Option<&Series> {
        if selector.tags.is_empty() {
            return Some(self.series(selector.metric));
        }
        self.subs
            .iter()
            .find(|(s, _)| s == selector)
            .map(|(_, series)| series)
    }

    pub fn trend(&self, metric: Metric) -> Option<&Trend> {
        match self.series(metric) {
            Series::Trend(t) => Some(t),
            _ => None,
        }
    }

    pub fn rate(&self, metric: Metric) -> Rate {
        match self.series(metric) {
            Series::Rate(r) => *r,
            _ => Rate::default(),
        }
    }

    pub fn count(&self, metric: Metric) -> u64 {
        match self.series(metric) {
            Series::Counter(n) => *n,
            _ => 0,
        }
    }

    pub fn gauge(&self, metric: Metric) -> Gauge {
        match self.series(metric) {
            Series::Gauge(g) => *g,
            _ => Gauge::default(),
        }
    }

    /// Each check's passes and fails, by the id the plan gave it.
    pub fn checks(&self) -> &[Rate] {
        &self.checks
    }
}

impl Series {
    fn count(&mut self, n: u64) {
        if let Series::Counter(c) = self {
            *c += n;
        }
    }

    fn time(&mut self, duration: Duration) {
        if let Series::Trend(t) = self {
            t.record(duration);
        }
    }

    fn share(&mut self, yes: bool) {
        if let Series::Rate(r) = self {
            r.add(yes);
        }
    }

    fn level(&mut self, value: u64) {
        if let Series::Gauge(g) = self {
            g.set(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn samples_reach_their_metric_and_the_sub_metrics_that_select_them() {
        let login = Selector {
            metric: Metric::HttpReqDuration,
            tags: vec![(Tag::Name, "login".into())],
        };
        let errors = Selector {
            metric: Metric::HttpReqs,
            tags: vec![(Tag::Status, "500".into())],
        };
        let mut a = Metrics::new(&[login.clone(), errors.clone()], 1);
        let mut b = a.clone();
        let tags = |name, status| Tags {
            name,
            status,
            ..Tags::default()
        };
        for n in 1..=100 {
            a.record(
                Sample::Request {
                    duration: ms(n),
                    failed: false,
                },
                &tags("home", 200),
            );
        }
        b.record(
            Sample::Request {
                duration: ms(500),
                failed: true,
            },
            &tags("login", 500),
        );
        b.record(
            Sample::Check {
                id: 0,
                passed: false,
            },
            &Tags::default(),
        );
        a.merge(&b);
        let all = a.trend(Metric::HttpReqDuration).unwrap();
        assert_eq!(all.count(), 101);
        assert_eq!((all.min(), all.max()), (1.0, 500.0));
        assert!((all.percentile(50.0) - 51.0).abs() < 0.1);
        assert!((all.avg() - (5050.0 + 500.0) / 101.0).abs() < 1e-9);
        let Some(Series::Trend(login)) = a.select(&login) else {
            panic!("a trend")
        };
        assert_eq!((login.count(), login.max()), (1, 500.0));
        assert!(matches!(a.select(&errors), Some(Series::Counter(1))));
        assert_eq!(a.rate(Metric::HttpReqFailed).rate(), 1.0 / 101.0);
        assert_eq!(
            a.checks()[0],
            Rate {
                passes: 0,
                total: 1
            }
        );
        assert_eq!(a.rate(Metric::Checks).fails(), 1);
    }

    #[test]
    fn an_empty_trend_reads_zero_as_in_k6() {
        let t = Trend::default();
        assert_eq!(
            (t.avg(), t.min(), t.max(), t.percentile(95.0)),
            (0.0, 0.0, 0.0, 0.0)
        );
    }

    #[test]
    fn gauges_keep_their_range() {
        let mut m = Metrics::new(&[], 0);
        for active in [3, 10, 1] {
            m.record(Sample::Vus { active, max: 10 }, &Tags::default());
        }
        let g = m.gauge(Metric::Vus);
        assert_eq!((g.value, g.min, g.max), (1, 1, 10));
    }
}
