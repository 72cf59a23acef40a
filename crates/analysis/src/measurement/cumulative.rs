//! Judging a metric on every request since the analysis began: the provider's running counts
//! less the first reading, a confidence sequence over them (see [`crate::sequential`]), and a
//! message with the interval and the counts:
//! `error_rate 4.1% (95% CI 1.1%–10%, 9 of 219 requests since 12:03:04) > 1%`.

use bellwether_core::rollout::Verdict;
use bellwether_core::spec::{
    BuiltinMetric, Condition, ConditionOp, MetricSpec, Operand, ProviderSpec, Unit,
};
use bellwether_core::time::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Measurement, Waiting, describe};
use crate::judge::Evidence;
use crate::sequential::{self, Interval, Latencies, Side, Tally};
use crate::value::{Observation, Role, Sample, Value, thousands, time_of_day};

/// The first reading of a metric's counts in a run: what later readings subtract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub at: Timestamp,
    pub canary: Tally,
    pub baseline: Option<Tally>,
    /// For a latency quantile against the baseline's: the two histograms.
    pub latencies: Option<(Latencies, Latencies)>,
}

/// What a cumulative measurement counted and concluded, for views and charts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Counted {
    /// When counting began.
    pub since: Timestamp,
    pub canary: Tally,
    pub baseline: Option<Tally>,
    /// The interval of the canary's share, or of its difference from the baseline's.
    pub interval: Interval,
    pub confidence: f64,
}

/// A threshold on a share of requests: the metric's condition, restated for the share the
/// provider counts.
#[derive(Clone, Copy, Debug)]
struct ShareCondition {
    op: ConditionOp,
    limit: Operand,
    /// For a latency quantile: the threshold whose slower requests are counted.
    slower_than: Option<f64>,
}

impl ShareCondition {
    /// `latency_p99 <= 200ms` is "at most 1% of requests slower than 200 ms"; rates are
    /// shares already. `None` for conditions a share cannot express.
    fn of(spec: &MetricSpec) -> Option<Self> {
        let Some(Condition::Threshold { op, rhs }) = spec.success else {
            return None;
        };
        if matches!(op, ConditionOp::Eq | ConditionOp::Ne) {
            return None;
        }
        match &spec.provider {
            ProviderSpec::Builtin {
                metric: BuiltinMetric::Latency { permille },
                ..
            } => {
                let Operand::Value(threshold) = rhs else {
                    return None;
                };
                Some(Self {
                    op,
                    limit: Operand::Value(1.0 - f64::from(*permille) / 1000.0),
                    slower_than: Some(threshold),
                })
            }
            _ => Some(Self {
                op,
                limit: rhs,
                slower_than: None,
            }),
        }
    }

    /// A share below (`<`, `<=`) or above (`>`, `>=`) the limit passes.
    fn passes_below(self) -> bool {
        matches!(self.op, ConditionOp::Lt | ConditionOp::Le)
    }
}

impl Measurement {
    /// Judges the counts since `origin` (set by the first reading) with a confidence sequence.
    pub fn assess_cumulative(
        spec: &MetricSpec,
        at: Timestamp,
        canary: Observation,
        baseline: Option<Observation>,
        origin: &mut Option<Origin>,
    ) -> Self {
        if let Some(quantile) = QuantileCondition::of(spec) {
            return quantile.assess(spec, at, canary, baseline, origin);
        }
        let Some(condition) = ShareCondition::of(spec) else {
            let why = "its condition is not a threshold on a share of requests";
            return Self::failed(spec, at, Role::Canary, why);
        };
        let relative = condition.limit.is_relative();
        let Some(canary_now) = canary.tally else {
            return Self::failed(
                spec,
                at,
                Role::Canary,
                "the provider gave no request counts",
            );
        };
        let baseline_now = baseline.as_ref().and_then(|b| b.tally);
        if relative && baseline_now.is_none() {
            return Self::failed(
                spec,
                at,
                Role::Baseline,
                "the provider gave no request counts",
            );
        }
        let o = origin.get_or_insert_with(|| Origin {
            at,
            canary: canary_now,
            baseline: baseline_now,
            latencies: None,
        });
        let c = canary_now.since(o.canary);
        let b = match (baseline_now, o.baseline) {
            (Some(now), Some(first)) => Some(now.since(first)),
            (now, _) => now,
        };
        let mut m = Self::new(spec, at, Verdict::Inconclusive, String::new());
        m.value = c.share().map(Value::Number);
        if condition.slower_than.is_some() {
            m.value = canary.value.clone(); // The quantile over the window, in seconds.
        }
        m.baseline = b
            .and_then(Tally::share)
            .map(Value::Number)
            .filter(|_| relative);
        let window = at.since(o.at);
        m.window = Some(window);
        m.sample = Some(Sample {
            requests: c.total,
            window,
        });
        m.baseline_sample = b.filter(|_| relative).map(|b| Sample {
            requests: b.total,
            window,
        });
        let since = time_of_day(o.at);
        let name = &spec.name;
        let empty = [
            (Role::Canary, Some(c)),
            (Role::Baseline, b.filter(|_| relative)),
        ];
        for (role, tally) in empty {
            if tally.is_some_and(|t| t.total == 0) {
                m.waiting = Some(Waiting::NoData { role });
                m.message = format!("{name} not judged: no requests to the {role} since {since}");
                return m;
            }
        }
        let confidence = spec.confidence;
        let (interval, limit) = match (condition.limit, b) {
            (Operand::Value(p0), _) => (sequential::share(c, p0, confidence), p0),
            (Operand::BaselinePlus(d), Some(b)) => {
                (sequential::difference(c, b, 1.0, confidence), d)
            }
            (Operand::BaselineTimes(k), Some(b)) => {
                (sequential::difference(c, b, k, confidence), 0.0)
            }
            (_, None) => {
                return Self::failed(
                    spec,
                    at,
                    Role::Baseline,
                    "the provider gave no request counts",
                );
            }
        };
        m.counted = Some(Counted {
            since: o.at,
            canary: c,
            baseline: b.filter(|_| relative),
            interval,
            confidence,
        });
        let side = match condition.limit {
            Operand::Value(p0) => sequential::side_of_threshold(c, p0, confidence),
            _ => interval.side_of(limit),
        };
        let (verdict, comparison) = verdict(side, condition.passes_below());
        m.verdict = verdict;
        let stated = statement(spec, condition, c, b, interval, since);
        let limit = limit_text(spec, condition);
        m.message = if side == Side::Straddles {
            m.waiting = Some(Waiting::Evidence);
            format!("{name} not judged yet: {stated} straddles {limit}")
        } else {
            format!("{name} {stated} {comparison} {limit}")
        };
        m
    }
}

/// The verdict of an interval on one side of the limit (or straddling it), and the comparison
/// the message states.
fn verdict(side: Side, passes_below: bool) -> (Verdict, &'static str) {
    match (side, passes_below) {
        (Side::Straddles, _) => (Verdict::Inconclusive, "straddles"),
        (Side::Below, true) => (Verdict::Successful, "<"),
        (Side::Above, false) => (Verdict::Successful, ">"),
        (Side::Above, true) => (Verdict::Failed, ">"),
        (Side::Below, false) => (Verdict::Failed, "<"),
    }
}

/// `4.1% (95% CI 1.1%–10%, 9 of 219 requests since 12:03:04)`, or for a latency quantile
/// `3.1% of requests slower than 200ms (…)`, or against the baseline
/// `4.1% vs baseline 0.5% (difference 95% CI …; canary 9 of 219, baseline 50 of 10,000 requests since …)`.
fn statement(
    spec: &MetricSpec,
    condition: ShareCondition,
    c: Tally,
    b: Option<Tally>,
    interval: Interval,
    since: String,
) -> String {
    let pct = |v: f64| Unit::Ratio.format(v);
    let share = c.share().map_or_else(|| "-".to_owned(), pct);
    let ci = format!(
        "{} CI {}–{}",
        pct(spec.confidence),
        pct(interval.low),
        pct(interval.high)
    );
    let counts = |t: Tally| format!("{} of {}", thousands(t.hits), thousands(t.total));
    if let Some(threshold) = condition.slower_than {
        let t = Unit::Seconds.format(threshold);
        return format!(
            "{share} of requests slower than {t} ({ci}, {} requests since {since})",
            counts(c)
        );
    }
    match b.filter(|_| condition.limit.is_relative()) {
        Some(b) => {
            let base = b.share().map_or_else(|| "-".to_owned(), pct);
            format!(
                "{share} vs baseline {base} (difference {ci}; canary {}, baseline {} requests since {since})",
                counts(c),
                counts(b)
            )
        }
        None => format!("{share} ({ci}, {} requests since {since})", counts(c)),
    }
}

/// The limit as the condition states it: `1%`, `baseline + 0.5%`, `1% (p99 <= 200ms)`.
fn limit_text(spec: &MetricSpec, condition: ShareCondition) -> String {
    let pct = |v: f64| Unit::Ratio.format(v);
    match condition.limit {
        Operand::Value(p0) => match &spec.provider {
            ProviderSpec::Builtin { metric, .. } if condition.slower_than.is_some() => {
                let quantile = metric.to_string();
                let quantile = quantile.trim_start_matches("latency_");
                format!("{} ({quantile} {})", pct(p0), describe(spec))
            }
            _ => pct(p0),
        },
        Operand::BaselinePlus(d) if d < 0.0 => format!("baseline - {}", pct(-d)),
        Operand::BaselinePlus(d) => format!("baseline + {}", pct(d)),
        Operand::BaselineTimes(k) => format!("baseline * {}", Unit::Plain.format(k)),
    }
}

/// `latency_p99 <= baseline * 1.2` (or `+ 50ms`): the canary's quantile against the
/// baseline's, each a quantile confidence sequence at half the risk.
#[derive(Clone, Copy, Debug)]
struct QuantileCondition {
    op: ConditionOp,
    quantile: f64,
    rhs: Operand,
}

impl QuantileCondition {
    fn of(spec: &MetricSpec) -> Option<Self> {
        let Some(Condition::Threshold { op, rhs }) = spec.success else {
            return None;
        };
        let ProviderSpec::Builtin {
            metric: BuiltinMetric::Latency { permille },
            ..
        } = spec.provider
        else {
            return None;
        };
        (rhs.is_relative() && !matches!(op, ConditionOp::Eq | ConditionOp::Ne)).then_some(Self {
            op,
            quantile: f64::from(permille) / 1000.0,
            rhs,
        })
    }

    /// The baseline's quantile interval turned into the limit's, in seconds.
    fn limit(self, low: f64, high: f64) -> (f64, f64) {
        match self.rhs {
            Operand::BaselinePlus(d) => (low + d, high + d),
            Operand::BaselineTimes(k) => (low * k, high * k),
            Operand::Value(v) => (v, v),
        }
    }

    fn assess(
        self,
        spec: &MetricSpec,
        at: Timestamp,
        canary: Observation,
        baseline: Option<Observation>,
        origin: &mut Option<Origin>,
    ) -> Measurement {
        let no_counts =
            |role| Measurement::failed(spec, at, role, "the provider gave no latency histogram");
        let Some(canary_now) = canary.latencies else {
            return no_counts(Role::Canary);
        };
        let Some(baseline_now) = baseline.and_then(|b| b.latencies) else {
            return no_counts(Role::Baseline);
        };
        let o = origin.get_or_insert_with(|| Origin {
            at,
            canary: Tally::default(),
            baseline: None,
            latencies: Some((canary_now.clone(), baseline_now.clone())),
        });
        let (c, b) = match &o.latencies {
            Some((canary_first, baseline_first)) => (
                canary_now.since(canary_first),
                baseline_now.since(baseline_first),
            ),
            None => (canary_now, baseline_now),
        };
        let mut m = Measurement::new(spec, at, Verdict::Inconclusive, String::new());
        let window = at.since(o.at);
        m.window = Some(window);
        m.sample = Some(Sample {
            requests: c.total(),
            window,
        });
        m.baseline_sample = Some(Sample {
            requests: b.total(),
            window,
        });
        let since = time_of_day(o.at);
        let name = &spec.name;
        for (role, latencies) in [(Role::Canary, &c), (Role::Baseline, &b)] {
            if latencies.total() == 0 {
                m.waiting = Some(Waiting::NoData { role });
                m.message = format!("{name} not judged: no requests to the {role} since {since}");
                return m;
            }
        }
        let e = Evidence::of_quantiles(o.at, self.quantile, &c, &b, spec.confidence);
        let unbounded = |high: Option<f64>| high.unwrap_or(f64::INFINITY);
        let (canary_low, canary_high) = (e.canary.low, unbounded(e.canary.high));
        let (limit_low, limit_high) = self.limit(e.baseline.low, unbounded(e.baseline.high));
        m.value = Some(Value::Number(e.canary.value));
        m.baseline = Some(Value::Number(e.baseline.value));
        // The canary's quantile is at least its low end and at most its high end.
        let side = if canary_low > limit_high {
            Side::Above
        } else if canary_high < limit_low {
            Side::Below
        } else {
            Side::Straddles
        };
        let passes_below = matches!(self.op, ConditionOp::Lt | ConditionOp::Le);
        let (verdict, comparison) = verdict(side, passes_below);
        m.verdict = verdict;
        let ms = |v: f64| {
            if v.is_finite() {
                Unit::Seconds.format(v)
            } else {
                "?".to_owned()
            }
        };
        let shown = |v: &Option<Value>| {
            v.as_ref()
                .and_then(Value::as_number)
                .map_or_else(|| "-".to_owned(), ms)
        };
        let stated = format!(
            "{} vs baseline {} ({} CIs {}–{} and {}–{}; canary {}, baseline {} requests since {since})",
            shown(&m.value),
            shown(&m.baseline),
            Unit::Ratio.format(spec.confidence),
            ms(canary_low),
            ms(canary_high),
            ms(e.baseline.low),
            ms(unbounded(e.baseline.high)),
            thousands(c.total()),
            thousands(b.total()),
        );
        let limit = match self.rhs {
            Operand::BaselinePlus(d) if d < 0.0 => format!("baseline - {}", ms(-d)),
            Operand::BaselinePlus(d) => format!("baseline + {}", ms(d)),
            Operand::BaselineTimes(k) => format!("baseline * {}", Unit::Plain.format(k)),
            Operand::Value(v) => ms(v),
        };
        m.message = if side == Side::Straddles {
            m.waiting = Some(Waiting::Evidence);
            format!("{name} not judged yet: {stated} straddles {limit}")
        } else {
            format!("{name} {stated} {comparison} {limit}")
        };
        m
    }
}
