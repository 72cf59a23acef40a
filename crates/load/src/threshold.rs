//! Thresholds as k6 writes them: a metric or sub-metric (`http_req_duration{name:login}`) and
//! expressions over its aggregate (`p(95)<200`, `rate<0.01`, `count>100`), parsed and judged.

use std::fmt;
use std::time::Duration;

use crate::metrics::{Kind, Metric, Metrics, Selector, Series, Tag};

/// What a threshold reads of its metric.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Aggregate {
    Avg,
    Min,
    Med,
    Max,
    /// `p(N)`, N from 0 to 100.
    Percentile(f64),
    /// A rate metric's share, or a counter's count per second.
    Rate,
    Count,
    Value,
}

impl Aggregate {
    fn applies_to(self, kind: Kind) -> bool {
        match self {
            Aggregate::Avg | Aggregate::Med | Aggregate::Percentile(_) => kind == Kind::Trend,
            Aggregate::Min | Aggregate::Max => matches!(kind, Kind::Trend | Kind::Gauge),
            Aggregate::Rate => matches!(kind, Kind::Rate | Kind::Counter),
            Aggregate::Count => kind == Kind::Counter,
            Aggregate::Value => kind == Kind::Gauge,
        }
    }

    fn allowed(kind: Kind) -> &'static str {
        match kind {
            Kind::Trend => "avg, min, med, max or p(N)",
            Kind::Rate => "rate",
            Kind::Counter => "count or rate",
            Kind::Gauge => "value, min or max",
        }
    }

    /// The aggregate's value over `series`, `elapsed` being the test's length so far.
    pub fn of(self, series: &Series, elapsed: Duration) -> f64 {
        match (self, series) {
            (Aggregate::Avg, Series::Trend(t)) => t.avg(),
            (Aggregate::Min, Series::Trend(t)) => t.min(),
            (Aggregate::Med, Series::Trend(t)) => t.percentile(50.0),
            (Aggregate::Max, Series::Trend(t)) => t.max(),
            (Aggregate::Percentile(p), Series::Trend(t)) => t.percentile(p),
            (Aggregate::Rate, Series::Rate(r)) => r.rate(),
            (Aggregate::Count, Series::Counter(n)) => *n as f64,
            (Aggregate::Rate, Series::Counter(n)) => {
                let seconds = elapsed.as_secs_f64();
                if seconds > 0.0 {
                    *n as f64 / seconds
                } else {
                    0.0
                }
            }
            (Aggregate::Value, Series::Gauge(g)) => g.value as f64,
            (Aggregate::Min, Series::Gauge(g)) => g.min as f64,
            (Aggregate::Max, Series::Gauge(g)) => g.max as f64,
            _ => 0.0,
        }
    }
}

impl fmt::Display for Aggregate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Aggregate::Avg => f.write_str("avg"),
            Aggregate::Min => f.write_str("min"),
            Aggregate::Med => f.write_str("med"),
            Aggregate::Max => f.write_str("max"),
            Aggregate::Percentile(p) => write!(f, "p({p})"),
            Aggregate::Rate => f.write_str("rate"),
            Aggregate::Count => f.write_str("count"),
            Aggregate::Value => f.write_str("value"),
        }
    }
}

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    /// Longest spellings first, so `<=` is not read as `<`.
    const SPELLINGS: [(&'static str, Op); 7] = [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("===", Op::Eq),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];

    fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            Op::Lt => value < bound,
            Op::Le => value <= bound,
            Op::Gt => value > bound,
            Op::Ge => value >= bound,
            Op::Eq => value == bound,
            Op::Ne => value != bound,
        }
    }
}

/// One threshold expression: `p(95)<200`.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// As written, which is how the summary names it.
    pub source: String,
    pub aggregate: Aggregate,
    pub op: Op,
    pub bound: f64,
}

impl Expr {
    /// Parses `text` as a threshold on a metric of `kind`.
    pub fn parse(text: &str, kind: Kind) -> Result<Self, String> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let Some((at, spelling, op)) = Op::SPELLINGS
            .iter()
            .filter_map(|(s, op)| compact.find(s).map(|at| (at, *s, *op)))
            .min_by_key(|(at, s, _)| (*at, usize::MAX - s.len()))
        else {
            return Err(format!(
                "`{text}` has no comparison (expected e.g. p(95)<200, rate<0.01)"
            ));
        };
        let (left, right) = (&compact[..at], &compact[at + spelling.len()..]);
        let aggregate = match left {
            "avg" => Aggregate::Avg,
            "min" => Aggregate::Min,
            "med" => Aggregate::Med,
            "max" => Aggregate::Max,
            "rate" => Aggregate::Rate,
            "count" => Aggregate::Count,
            "value" => Aggregate::Value,
            other => match other
                .strip_prefix("p(")
                .and_then(|r| r.strip_suffix(')'))
                .map(str::parse::<f64>)
            {
                Some(Ok(p)) if (0.0..=100.0).contains(&p) => Aggregate::Percentile(p),
                Some(_) => {
                    return Err(format!(
                        "`{other}` in `{text}` is not a percentile (expected p(N) with N from 0 to 100)"
                    ));
                }
                None => {
                    return Err(format!(
                        "unknown aggregate `{other}` in `{text}` (expected {})",
                        Aggregate::allowed(kind)
                    ));
                }
            },
        };
        if !aggregate.applies_to(kind) {
            return Err(format!(
                "`{aggregate}` in `{text}` does not apply to a {} metric (expected {})",
                match kind {
                    Kind::Trend => "trend",
                    Kind::Rate => "rate",
                    Kind::Counter => "counter",
                    Kind::Gauge => "gauge",
                },
                Aggregate::allowed(kind)
            ));
        }
        let bound = match right.parse::<f64>() {
            Ok(b) if b.is_finite() => b,
            _ if right.is_empty() => {
                return Err(format!(
                    "`{text}` has no number after `{spelling}` (expected e.g. {aggregate}{spelling}200)"
                ));
            }
            _ => {
                return Err(format!(
                    "`{right}` in `{text}` is not a number (expected e.g. {aggregate}{spelling}200)"
                ));
            }
        };
        Ok(Self {
            source: text.trim().to_owned(),
            aggregate,
            op,
            bound,
        })
    }

    pub fn holds(&self, value: f64) -> bool {
        self.op.holds(value, self.bound)
    }
}

/// Parses a thresholds key: a metric name, and tags in braces for a sub-metric.
pub fn parse_selector(text: &str) -> Result<Selector, String> {
    let text = text.trim();
    let (name, tags) = match text.find('{') {
        None => (text, None),
        Some(at) => match text[at..]
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
        {
            Some(inner) => (&text[..at], Some(inner)),
            None => {
                return Err(format!(
                    "`{text}` has an unclosed `{{` (expected e.g. http_req_duration{{name:login}})"
                ));
            }
        },
    };
    let metric = Metric::parse(name.trim()).ok_or_else(|| {
        let names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        format!(
            "unknown metric `{}` (expected one of {})",
            name.trim(),
            names.join(", ")
        )
    })?;
    let mut selected = Vec::new();
    for pair in tags.into_iter().flat_map(|t| t.split(',')) {
        let Some((key, value)) = pair.split_once(':') else {
            return Err(format!(
                "`{}` in `{text}` is not a tag (expected key:value)",
                pair.trim()
            ));
        };
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        let tag = Tag::parse(key.trim())
            .filter(|t| metric.tags().contains(t))
            .ok_or_else(|| {
                let names: Vec<&str> = metric.tags().iter().map(|t| t.name()).collect();
                format!(
                    "`{metric}` has no tag `{}` (expected {})",
                    key.trim(),
                    if names.is_empty() {
                        "no tags".to_owned()
                    } else {
                        format!("one of {}", names.join(", "))
                    }
                )
            })?;
        selected.push((tag, value.to_owned()));
    }
    Ok(Selector {
        metric,
        tags: selected,
    })
}

/// A threshold: an expression on a metric, and whether failing it stops the test.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    pub selector: Selector,
    pub expr: Expr,
    pub abort_on_fail: bool,
    /// How long into the test before a failure may abort it.
    pub delay_abort_eval: Duration,
}

/// A threshold's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Judged {
    pub value: f64,
    pub passed: bool,
}

impl Threshold {
    /// Judges the threshold on the metrics so far.
    pub fn judge(&self, metrics: &Metrics, elapsed: Duration) -> Judged {
        let value = metrics
            .select(&self.selector)
            .map_or(0.0, |s| self.expr.aggregate.of(s, elapsed));
        Judged {
            value,
            passed: self.expr.holds(value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Sample, Tags};

    #[test]
    fn expressions_parse_as_k6_writes_them() {
        let cases = [
            (
                "p(95)<200",
                Kind::Trend,
                Aggregate::Percentile(95.0),
                Op::Lt,
                200.0,
            ),
            (
                "p(99.9) <= 1500",
                Kind::Trend,
                Aggregate::Percentile(99.9),
                Op::Le,
                1500.0,
            ),
            ("avg<100", Kind::Trend, Aggregate::Avg, Op::Lt, 100.0),
            ("med<50", Kind::Trend, Aggregate::Med, Op::Lt, 50.0),
            ("min>=1", Kind::Trend, Aggregate::Min, Op::Ge, 1.0),
            ("max<3000", Kind::Trend, Aggregate::Max, Op::Lt, 3000.0),
            ("rate<0.01", Kind::Rate, Aggregate::Rate, Op::Lt, 0.01),
            ("rate>0.99", Kind::Rate, Aggregate::Rate, Op::Gt, 0.99),
            ("count>100", Kind::Counter, Aggregate::Count, Op::Gt, 100.0),
            ("rate>=50", Kind::Counter, Aggregate::Rate, Op::Ge, 50.0),
            ("count==0", Kind::Counter, Aggregate::Count, Op::Eq, 0.0),
            ("count===0", Kind::Counter, Aggregate::Count, Op::Eq, 0.0),
            ("count!=3", Kind::Counter, Aggregate::Count, Op::Ne, 3.0),
            ("value<10", Kind::Gauge, Aggregate::Value, Op::Lt, 10.0),
        ];
        for (text, kind, aggregate, op, bound) in cases {
            let e = Expr::parse(text, kind).unwrap();
            assert_eq!(
                (e.aggregate, e.op, e.bound),
                (aggregate, op, bound),
                "{text}"
            );
            assert_eq!(e.source, text);
        }
    }

    #[test]
    fn bad_expressions_say_what_was_expected() {
        let cases = [
            (
                "p95<200",
                Kind::Trend,
                "unknown aggregate `p95` in `p95<200` (expected avg, min, med, max or p(N))",
            ),
            (
                "p(101)<200",
                Kind::Trend,
                "`p(101)` in `p(101)<200` is not a percentile (expected p(N) with N from 0 to 100)",
            ),
            (
                "p(95)",
                Kind::Trend,
                "`p(95)` has no comparison (expected e.g. p(95)<200, rate<0.01)",
            ),
            (
                "p(95)<fast",
                Kind::Trend,
                "`fast` in `p(95)<fast` is not a number (expected e.g. p(95)<200)",
            ),
            (
                "rate<0.01",
                Kind::Trend,
                "`rate` in `rate<0.01` does not apply to a trend metric (expected avg, min, med, max or p(N))",
            ),
            (
                "avg<1",
                Kind::Rate,
                "`avg` in `avg<1` does not apply to a rate metric (expected rate)",
            ),
            (
                "p(90)<1",
                Kind::Counter,
                "`p(90)` in `p(90)<1` does not apply to a counter metric (expected count or rate)",
            ),
        ];
        for (text, kind, message) in cases {
            assert_eq!(Expr::parse(text, kind).unwrap_err(), message, "{text}");
        }
    }

    #[test]
    fn selectors_name_a_metric_and_its_tags() {
        let s = parse_selector("http_req_duration{name:login, status:200}").unwrap();
        assert_eq!(s.metric, Metric::HttpReqDuration);
        assert_eq!(
            s.tags,
            [(Tag::Name, "login".into()), (Tag::Status, "200".into())]
        );
        assert_eq!(s.to_string(), "http_req_duration{name:login,status:200}");
        assert_eq!(parse_selector("checks").unwrap().tags, []);
        for (text, message) in [
            (
                "http_req_durations",
                "unknown metric `http_req_durations` (expected one of checks, dropped_iterations, http_req_duration, http_req_failed, http_reqs, iteration_duration, iterations, vus, vus_max)",
            ),
            (
                "http_reqs{name:a",
                "`http_reqs{name:a` has an unclosed `{` (expected e.g. http_req_duration{name:login})",
            ),
            (
                "http_reqs{login}",
                "`login` in `http_reqs{login}` is not a tag (expected key:value)",
            ),
            (
                "iterations{name:a}",
                "`iterations` has no tag `name` (expected one of scenario)",
            ),
            (
                "vus{scenario:a}",
                "`vus` has no tag `scenario` (expected no tags)",
            ),
        ] {
            assert_eq!(parse_selector(text).unwrap_err(), message, "{text}");
        }
    }

    #[test]
    fn thresholds_are_judged_on_their_metric_or_sub_metric() {
        let login = parse_selector("http_req_duration{name:login}").unwrap();
        let mut metrics = Metrics::new(std::slice::from_ref(&login), 0);
        for (name, ms, failed) in [
            ("home", 10, false),
            ("home", 20, false),
            ("login", 300, true),
        ] {
            let tags = Tags {
                name,
                ..Tags::default()
            };
            let duration = Duration::from_millis(ms);
            metrics.record(Sample::Request { duration, failed }, &tags);
        }
        let threshold = |selector: &str, expr: &str| {
            let selector = parse_selector(selector).unwrap();
            Threshold {
                expr: Expr::parse(expr, selector.metric.kind()).unwrap(),
                selector,
                abort_on_fail: false,
                delay_abort_eval: Duration::ZERO,
            }
        };
        let second = Duration::from_secs(1);
        let judge = |s, e| threshold(s, e).judge(&metrics, second);
        assert_eq!(
            judge("http_req_duration", "avg<200"),
            Judged {
                value: 110.0,
                passed: true
            }
        );
        assert!(!judge("http_req_duration", "max<200").passed);
        assert_eq!(
            judge("http_req_duration{name:login}", "min>250").value,
            300.0
        );
        assert!(!judge("http_req_failed", "rate<0.01").passed);
        assert_eq!(
            judge("http_reqs", "rate>=3"),
            Judged {
                value: 3.0,
                passed: true
            }
        );
        assert!(judge("http_reqs", "count==3").passed);
        assert!(
            judge("checks", "rate==0").passed,
            "no checks: the rate is 0"
        );
    }
}
