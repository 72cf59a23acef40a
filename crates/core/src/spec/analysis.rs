//! How a rollout is judged: metrics, the providers that measure them, and their conditions.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::VerifySpec;

/// Which metrics of the service an analysis runs, and whether the service's judge runs too.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AnalysisRef {
    /// Metric names. Empty means all of them, or none beside the judge when `judge` is set.
    pub metrics: Vec<String>,
    /// Run the service's canary-versus-baseline judge ([`JudgeSpec`]) as part of the analysis.
    /// Absent in analyses recorded before the judge existed, hence the default.
    #[serde(default)]
    pub judge: bool,
    /// Suites of checks run against the revision under analysis, by name
    /// ([`ServiceSpec::verify`](super::ServiceSpec::verify)); each must pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verify: Vec<String>,
    /// Synthetic requests to the revision under analysis while the analysis runs, for one
    /// with too little traffic of its own (a blue-green preview has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_generator: Option<Box<TrafficGenerator>>,
    /// Values of the arguments the metrics' `{{args.NAME}}` placeholders name: those the
    /// reference gives, then the defaults the service's analysis declares.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
}

impl AnalysisRef {
    pub fn all() -> Self {
        Self::default()
    }

    /// Whether it names no metric, no suite and no judge: it then runs all the service's
    /// metrics.
    pub fn is_all(&self) -> bool {
        self.metrics.is_empty() && self.verify.is_empty() && !self.judge
    }

    /// What it runs, as people read it: `analysis (all metrics)`, `verify (smoke)`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.is_all() {
            parts.push("analysis (all metrics)".to_owned());
        } else if !self.metrics.is_empty() {
            parts.push(format!("analysis ({})", self.metrics.join(", ")));
        }
        if self.judge {
            parts.push("judge".to_owned());
        }
        if !self.verify.is_empty() {
            parts.push(format!("verify ({})", self.verify.join(", ")));
        }
        let mut described = parts.join(" and ");
        if let Some(g) = &self.traffic_generator {
            described.push_str(&format!(" on synthetic traffic ({}/s)", g.rate));
        }
        described
    }
}

/// One metric: what to measure, how often, and what counts as success or failure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricSpec {
    pub name: String,
    pub provider: ProviderSpec,
    pub unit: Unit,
    pub interval: Duration,
    /// How many measurements to take; `None` runs until the analysis is stopped.
    pub count: Option<u32>,
    pub initial_delay: Duration,
    pub success: Option<Condition>,
    pub failure: Option<Condition>,
    /// Failed measurements tolerated before the metric fails.
    pub failure_limit: u32,
    /// Inconclusive measurements tolerated before the metric is inconclusive.
    pub inconclusive_limit: u32,
    /// Consecutive provider errors tolerated (errors are retried, not failures).
    pub consecutive_error_limit: u32,
    /// Measured and reported, never decisive.
    pub dry_run: bool,
    /// Requests a measurement over traffic needs before it can pass or fail; only
    /// [`Evidence::Window`] measurements wait for it (a confidence sequence needs no minimum).
    pub min_sample: u64,
    /// What a measurement judges: its window's value, or every request since the analysis began.
    #[serde(default)]
    pub evidence: Evidence,
    /// The confidence of [`Evidence::Cumulative`] decisions and of the intervals shown: 0.95
    /// keeps the chance of failing a revision that meets the threshold below 5% over the whole
    /// analysis, however often it looks.
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    /// What a metric that ends inconclusive does to the rollout.
    #[serde(default)]
    pub inconclusive: Inconclusive,
}

impl MetricSpec {
    /// The metric that runs `suite` once against the revision under analysis and fails the
    /// analysis when the suite fails. Its name, `verify:NAME`, cannot clash with a metric of
    /// the file, whose names have no `:`.
    pub fn verify(suite: &VerifySpec) -> Self {
        Self {
            name: format!("verify:{}", suite.name),
            provider: ProviderSpec::Verify {
                suite: suite.clone(),
            },
            unit: Unit::Plain,
            // Only a retry after a provider error (no ready replica yet) waits this long.
            interval: VERIFY_RETRY,
            count: Some(1),
            initial_delay: Duration::ZERO,
            success: Some(Condition::Threshold {
                op: ConditionOp::Eq,
                rhs: Operand::Value(1.0),
            }),
            failure: None,
            failure_limit: 0,
            inconclusive_limit: 0,
            consecutive_error_limit: VERIFY_ERRORS,
            dry_run: false,
            min_sample: 0,
            evidence: Evidence::Window,
            confidence: DEFAULT_CONFIDENCE,
            inconclusive: Inconclusive::Fail,
        }
    }
}

/// A suite that cannot start (no ready replica to check) is tried again this much later, up to
/// [`VERIFY_ERRORS`] times.
const VERIFY_RETRY: Duration = Duration::from_secs(5);
const VERIFY_ERRORS: u32 = 6;

/// The confidence of analyses that do not say: 95%.
pub const DEFAULT_CONFIDENCE: f64 = 0.95;

fn default_confidence() -> f64 {
    DEFAULT_CONFIDENCE
}

/// What one measurement of a metric judges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// The value over the measurement's window, judged against the threshold on its own (Argo
    /// Rollouts' and Flagger's semantics): for external providers and explicit per-interval
    /// metrics.
    #[default]
    Window,
    /// Every request since the analysis began, as a share of requests (errors, successes, or
    /// requests slower than a latency threshold) judged by an anytime-valid confidence
    /// sequence: the metric fails once the whole interval lies beyond the threshold, passes
    /// once it lies within, and waits while it straddles.
    Cumulative,
}

/// What an inconclusive metric (too little evidence when its time ran out, or values that
/// satisfied neither condition) does to the rollout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Inconclusive {
    /// The rollout pauses with the reason, for a person to promote or abort.
    #[default]
    Pause,
    /// The metric passes, and its message says it was inconclusive.
    Pass,
    /// The metric fails, and the rollout is rolled back.
    Fail,
}

impl Inconclusive {
    pub const NAMES: &'static [&'static str] = &["pause", "pass", "fail"];

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "pause" => Some(Self::Pause),
            "pass" => Some(Self::Pass),
            "fail" => Some(Self::Fail),
            _ => None,
        }
    }
}

/// The canary-versus-baseline judge of a service, in the style of Kayenta: every `interval`, one
/// sample of each judged metric for the canary and for the baseline. Metrics whose provider
/// counts requests are compared on everything since the judge began at every interval (a
/// regression may fail the judge early); the others, after `count` samples, by the
/// Mann-Whitney U test. The metrics' groups make a 0–100 score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JudgeSpec {
    /// Time between samples. A builtin metric's sample covers the interval just ended.
    pub interval: Duration,
    /// Samples of each metric, for each revision, before a passing verdict.
    pub count: u32,
    /// 0.95 calls a metric the same on both revisions a regression with probability ≤ 5%.
    pub confidence: f64,
    /// A score at or above this passes.
    pub pass_score: f64,
    /// A score at or above this, and below `pass_score`, is inconclusive: a person decides.
    pub marginal_score: f64,
    /// Group weights in percent. Groups not listed share what the listed ones leave of 100.
    pub group_weights: BTreeMap<String, f64>,
    pub metrics: Vec<JudgedMetricSpec>,
}

/// One metric in the judge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JudgedMetricSpec {
    /// A metric of the service ([`ServiceSpec::metrics`](super::ServiceSpec::metrics)): the judge
    /// measures it with the same provider and query, and ignores its conditions and schedule.
    pub metric: String,
    pub direction: Direction,
    /// A regression of a critical metric fails the judgement, whatever the score.
    pub critical: bool,
    pub group: String,
    /// The effect-size guard: the canary's mean must differ from the baseline's by at least this
    /// ratio (1.1 is 10%) for a significant difference to count.
    pub min_ratio: f64,
}

/// Which change of a judged metric is a regression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Higher is worse: errors, latency, CPU.
    Increase,
    /// Lower is worse: success rate, throughput.
    Decrease,
    Either,
}

impl Direction {
    pub const NAMES: &'static [&'static str] = &["increase", "decrease", "either"];

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "increase" => Some(Self::Increase),
            "decrease" => Some(Self::Decrease),
            "either" => Some(Self::Either),
            _ => None,
        }
    }
}

/// Where a metric's value comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderSpec {
    /// The built-in router's per-revision signals and the platform's resource use.
    Builtin {
        metric: BuiltinMetric,
        window: Duration,
        /// For a latency metric judged on [`Evidence::Cumulative`]: the threshold whose slower
        /// requests the router counts, one by one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        slower_than: Option<Duration>,
    },
    Prometheus {
        address: String,
        /// PromQL whose value is the measurement; with `total`, the count of hits (e.g. failed
        /// requests) among `total`'s requests.
        query: String,
        headers: BTreeMap<String, String>,
        timeout: Duration,
        /// The counts form: PromQL counting every request, so that `query / total` is a share
        /// judged on [`Evidence::Cumulative`]. Both are running counts (sums of counters): the
        /// analysis subtracts its first reading.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        total: Option<String>,
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
    /// A suite of checks against the revision's address: 1 when it passes, 0 when it fails.
    Verify { suite: VerifySpec },
}

/// The signals the built-in provider measures for one revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinMetric {
    SuccessRate,
    ErrorRate,
    /// A latency quantile in tenths of a percent: p99 is 990, p99.9 is 999.
    Latency {
        permille: u16,
    },
    RequestRate,
    Cpu,
    Memory,
}

impl BuiltinMetric {
    /// The metric a compact threshold names, e.g. `success_rate` or `latency_p99`.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "success_rate" => Self::SuccessRate,
            "error_rate" => Self::ErrorRate,
            "request_rate" => Self::RequestRate,
            "cpu" => Self::Cpu,
            "memory" => Self::Memory,
            _ => {
                let q = name.strip_prefix("latency_p")?;
                let permille = match q {
                    "50" => 500,
                    "75" => 750,
                    "90" => 900,
                    "95" => 950,
                    "99" => 990,
                    "999" => 999,
                    _ => return None,
                };
                Self::Latency { permille }
            }
        })
    }

    pub const NAMES: &'static [&'static str] = &[
        "success_rate",
        "error_rate",
        "latency_p50",
        "latency_p75",
        "latency_p90",
        "latency_p95",
        "latency_p99",
        "latency_p999",
        "request_rate",
        "cpu",
        "memory",
    ];

    pub fn unit(self) -> Unit {
        match self {
            Self::SuccessRate | Self::ErrorRate | Self::Cpu | Self::Memory => Unit::Ratio,
            Self::Latency { .. } => Unit::Seconds,
            Self::RequestRate => Unit::PerSecond,
        }
    }

    /// Whether the metric is computed over requests, and so needs a minimum sample.
    pub fn is_traffic(self) -> bool {
        !matches!(self, Self::Cpu | Self::Memory)
    }
}

/// How a metric's values are shown: ratios as percentages, seconds as durations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Ratio,
    Seconds,
    PerSecond,
    Plain,
}

impl Unit {
    pub fn format(self, v: f64) -> String {
        match self {
            Unit::Ratio => format!("{}%", trim(v * 100.0)),
            Unit::Seconds if v < 1.0 => format!("{}ms", trim(v * 1000.0)),
            Unit::Seconds => format!("{}s", trim(v)),
            Unit::PerSecond => format!("{}/s", trim(v)),
            Unit::Plain => trim(v),
        }
    }
}

fn trim(v: f64) -> String {
    let s = format!("{:.3}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

/// When a measurement passes or fails.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// `result <op> rhs`, from the compact form such as `latency_p99 <= 200ms`.
    Threshold { op: ConditionOp, rhs: Operand },
    /// A full expression over `result` (and `baseline`), from `successCondition`/`failureCondition`.
    Expr(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl ConditionOp {
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Eq => "==",
            Self::Ne => "!=",
        }
    }

    pub fn from_symbol(s: &str) -> Option<Self> {
        Some(match s {
            "<" => Self::Lt,
            "<=" => Self::Le,
            ">" => Self::Gt,
            ">=" => Self::Ge,
            "==" => Self::Eq,
            "!=" => Self::Ne,
            _ => return None,
        })
    }

    pub fn holds(self, lhs: f64, rhs: f64) -> bool {
        match self {
            Self::Lt => lhs < rhs,
            Self::Le => lhs <= rhs,
            Self::Gt => lhs > rhs,
            Self::Ge => lhs >= rhs,
            Self::Eq => lhs == rhs,
            Self::Ne => lhs != rhs,
        }
    }
}

/// The right-hand side of a threshold: a fixed value or one relative to the baseline revision.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operand {
    Value(f64),
    BaselinePlus(f64),
    BaselineTimes(f64),
}

impl Operand {
    pub fn is_relative(self) -> bool {
        !matches!(self, Operand::Value(_))
    }
}

impl Condition {
    /// Renders the condition for people, in the metric's unit.
    pub fn describe(&self, unit: Unit) -> String {
        match self {
            Condition::Threshold { op, rhs } => {
                let rhs = match rhs {
                    Operand::Value(v) => unit.format(*v),
                    Operand::BaselinePlus(v) => format!("baseline + {}", unit.format(*v)),
                    Operand::BaselineTimes(v) => format!("baseline * {}", trim(*v)),
                };
                format!("{} {rhs}", op.symbol())
            }
            Condition::Expr(e) => e.clone(),
        }
    }
}

impl fmt::Display for BuiltinMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SuccessRate => f.write_str("success_rate"),
            Self::ErrorRate => f.write_str("error_rate"),
            Self::Latency { permille: 999 } => f.write_str("latency_p999"),
            Self::Latency { permille } => write!(f, "latency_p{}", permille / 10),
            Self::RequestRate => f.write_str("request_rate"),
            Self::Cpu => f.write_str("cpu"),
            Self::Memory => f.write_str("memory"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_names_round_trip() {
        for name in BuiltinMetric::NAMES {
            let m = BuiltinMetric::from_name(name).unwrap();
            assert_eq!(m.to_string(), *name);
        }
        assert_eq!(BuiltinMetric::from_name("latency_p42"), None);
    }

    #[test]
    fn analysis_refs_recorded_before_the_judge_still_load() {
        let old: AnalysisRef = serde_json::from_str(r#"{"metrics":["error_rate"]}"#).unwrap();
        assert_eq!(
            old,
            AnalysisRef {
                metrics: vec!["error_rate".to_owned()],
                ..AnalysisRef::default()
            }
        );
        let judged = AnalysisRef {
            judge: true,
            ..AnalysisRef::default()
        };
        let json = serde_json::to_string(&judged).unwrap();
        assert_eq!(json, r#"{"metrics":[],"judge":true}"#);
        assert_eq!(serde_json::from_str::<AnalysisRef>(&json).unwrap(), judged);
        let verified = AnalysisRef {
            verify: vec!["smoke".to_owned()],
            ..AnalysisRef::default()
        };
        let json = serde_json::to_string(&verified).unwrap();
        assert_eq!(json, r#"{"metrics":[],"judge":false,"verify":["smoke"]}"#);
        assert_eq!(
            serde_json::from_str::<AnalysisRef>(&json).unwrap(),
            verified
        );
        assert_eq!(verified.describe(), "verify (smoke)");
        assert_eq!(AnalysisRef::all().describe(), "analysis (all metrics)");
    }

    #[test]
    fn directions_read_as_written() {
        for name in Direction::NAMES {
            let d = Direction::from_name(name).unwrap();
            assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{name}\""));
        }
        assert_eq!(Direction::from_name("up"), None);
    }

    #[test]
    fn conditions_read_in_their_unit() {
        let c = Condition::Threshold {
            op: ConditionOp::Le,
            rhs: Operand::Value(0.2),
        };
        assert_eq!(c.describe(Unit::Seconds), "<= 200ms");
        let c = Condition::Threshold {
            op: ConditionOp::Ge,
            rhs: Operand::Value(0.99),
        };
        assert_eq!(c.describe(Unit::Ratio), ">= 99%");
        let c = Condition::Threshold {
            op: ConditionOp::Le,
            rhs: Operand::BaselinePlus(0.005),
        };
        assert_eq!(c.describe(Unit::Ratio), "<= baseline + 0.5%");
    }
}

/// `GET path` at `rate` requests per second, sent through the service's router and routed to
/// the canary alone (by a header only the control plane knows), so that they count in the
/// canary's signals as real requests do and reach no other revision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrafficGenerator {
    /// Requests per second; never more than [`TrafficGenerator::MAX_RATE`].
    pub rate: f64,
    pub path: String,
    /// Sent with every request.
    pub headers: BTreeMap<String, String>,
}

impl TrafficGenerator {
    /// The most requests per second a generator sends, whatever it is asked: synthetic
    /// traffic is for gathering evidence, never a load test of production.
    pub const MAX_RATE: f64 = 100.0;
}
