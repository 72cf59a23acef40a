//! A service's metrics: compact thresholds and full-form metrics become `MetricSpec`s, and its
//! judge a `JudgeSpec` over them.

mod args;
pub(super) mod judge;
mod preset;

pub(super) use args::Args;

use std::time::Duration;

use bellwether_core::spec::{
    BuiltinMetric, Condition, ConditionOp, DEFAULT_CONFIDENCE, Evidence, Inconclusive, JudgeSpec,
    MetricSpec, Operand, ProviderSpec, Unit,
};

use super::names;
use super::provider::{self, BUILTIN, Table};
use super::scalars::{Zero, duration, duration_or};
use crate::diagnostic::Sink;
use crate::model::{
    AnalysisConfig, FullMetricConfig, InconclusiveConfig, MetricConfig, PresetConfig, ProviderRef,
    Threshold, TrafficRoutingConfig, UnitConfig,
};
use crate::span::{Pos, Spanned};
use crate::values::Percent;
use preset::Mesh;

/// Builtin metrics are cheap to measure, and a failing canary must be caught within about a
/// second of the evidence.
const BUILTIN_INTERVAL: Duration = Duration::from_secs(1);
/// Prometheus, web and job measurements cost a query, a request or a process each.
const EXTERNAL_INTERVAL: Duration = Duration::from_secs(10);
const DEFAULT_WINDOW: Duration = Duration::from_secs(30);
const DEFAULT_MIN_SAMPLE: u64 = 50;
const DEFAULT_CONSECUTIVE_ERROR_LIMIT: u32 = 4;

/// The analysis-wide defaults that each metric may override.
struct Defaults {
    interval: Option<Duration>,
    window: Duration,
    min_sample: u64,
    confidence: f64,
    inconclusive: Inconclusive,
}

/// A service's lowered metrics, and the names of all it declares: a metric that failed its
/// checks is still declared, so references to it are not reported a second time. Likewise a
/// judge with problems is still declared, at its position.
#[derive(Default)]
pub(super) struct Metrics {
    pub(super) specs: Vec<MetricSpec>,
    pub(super) names: Vec<String>,
    pub(super) judge: Option<Spanned<JudgeSpec>>,
    pub(super) args: Args,
}

/// Lowers a service's metrics, reporting bad ones and duplicate names; `routing` is the
/// service's `trafficRouting`, whose mesh or ingress presets read.
pub(super) fn metrics(
    analysis: Option<&Spanned<AnalysisConfig>>,
    service: &str,
    routing: Option<&TrafficRoutingConfig>,
    providers: &Table,
    sink: &mut Sink<'_>,
) -> Metrics {
    let Some(analysis) = analysis else {
        return Metrics::default();
    };
    let a = &analysis.value;
    let defaults = Defaults {
        interval: a
            .interval
            .as_ref()
            .and_then(|i| duration(i, "interval", Zero::Rejected, sink)),
        window: duration_or(
            a.window.as_ref(),
            "window",
            Zero::Rejected,
            DEFAULT_WINDOW,
            sink,
        ),
        min_sample: a
            .min_sample
            .as_ref()
            .map_or(DEFAULT_MIN_SAMPLE, |m| m.value.0),
        confidence: confidence(a.confidence.as_ref(), DEFAULT_CONFIDENCE, sink),
        inconclusive: a
            .inconclusive
            .as_ref()
            .map_or(Inconclusive::Pause, |i| match i.value {
                InconclusiveConfig::Pause => Inconclusive::Pause,
                InconclusiveConfig::Pass => Inconclusive::Pass,
                InconclusiveConfig::Fail => Inconclusive::Fail,
            }),
    };
    let routed = Routed {
        service,
        mesh: Mesh::of(service, routing),
    };
    let mut args = Args::declare(&a.args, service, sink);
    let mut specs: Vec<MetricSpec> = Vec::new();
    let mut seen: Vec<(String, Pos)> = Vec::new();
    for metric in &a.metrics {
        let (name, spec) = match &metric.value {
            MetricConfig::Compact(t) => (t.name(), Some(compact(t, &defaults))),
            MetricConfig::Full(full) => (
                full.name.value.clone(),
                full_form(full, metric.pos, &defaults, &routed, providers, sink),
            ),
        };
        let pos = match &metric.value {
            MetricConfig::Full(full) => full.name.pos.or(metric.pos),
            MetricConfig::Compact(_) => metric.pos,
        };
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            sink.error(
                pos,
                format!(
                    "duplicate metric `{name}` (the first is at line {}; expected each name once: give one of them another `name` in the full form)",
                    first.line
                ),
            );
            continue;
        }
        seen.push((name, pos));
        if let Some(spec) = &spec {
            let at = match &metric.value {
                MetricConfig::Full(full) => full.query.as_ref().map_or(pos, |q| q.pos),
                MetricConfig::Compact(_) => pos,
            };
            args.check_metric(spec, at, sink);
        }
        specs.extend(spec);
    }
    let names: Vec<String> = seen.into_iter().map(|(name, _)| name).collect();
    let declared: Vec<&str> = names.iter().map(String::as_str).collect();
    let judge = a
        .judge
        .as_ref()
        .map(|j| Spanned::new(judge::lower(j, &declared, sink), j.pos));
    if let Some(j) = &judge {
        args.judged = j.value.metrics.iter().map(|m| m.metric.clone()).collect();
    }
    Metrics {
        specs,
        names,
        judge,
        args,
    }
}

fn compact(t: &Threshold, defaults: &Defaults) -> MetricSpec {
    let (evidence, slower_than) = evidence(t);
    MetricSpec {
        name: t.name(),
        provider: ProviderSpec::Builtin {
            metric: t.metric,
            window: defaults.window,
            slower_than,
        },
        unit: t.metric.unit(),
        interval: defaults.interval.unwrap_or(BUILTIN_INTERVAL),
        count: None,
        initial_delay: Duration::ZERO,
        success: Some(t.condition()),
        failure: None,
        failure_limit: 0,
        inconclusive_limit: 0,
        consecutive_error_limit: DEFAULT_CONSECUTIVE_ERROR_LIMIT,
        dry_run: false,
        min_sample: defaults.min_sample,
        evidence,
        confidence: defaults.confidence,
        inconclusive: defaults.inconclusive,
    }
}

/// How a threshold on a builtin metric is judged: a share of requests (errors, successes,
/// requests slower than a latency threshold) or a latency quantile against the baseline's on
/// every request since the analysis began, with the latency threshold the router must count
/// against; anything else on each measurement's window.
fn evidence(t: &Threshold) -> (Evidence, Option<Duration>) {
    if matches!(t.op, ConditionOp::Eq | ConditionOp::Ne) {
        return (Evidence::Window, None);
    }
    match (t.metric, t.rhs) {
        (BuiltinMetric::ErrorRate | BuiltinMetric::SuccessRate, _) => (Evidence::Cumulative, None),
        (BuiltinMetric::Latency { .. }, Operand::Value(seconds)) => {
            match Duration::try_from_secs_f64(seconds) {
                Ok(threshold) => (Evidence::Cumulative, Some(threshold)),
                Err(_) => (Evidence::Window, None),
            }
        }
        // Against the baseline's quantile: the two latency histograms.
        (BuiltinMetric::Latency { .. }, _) => (Evidence::Cumulative, None),
        _ => (Evidence::Window, None),
    }
}

/// A confidence above 50% and below 100%, as a fraction.
fn confidence(c: Option<&Spanned<Percent>>, default: f64, sink: &mut Sink<'_>) -> f64 {
    match c {
        Some(c) if !(c.value.0 > 50.0 && c.value.0 < 100.0) => {
            sink.error(
                c.pos,
                format!(
                    "confidence {} is not above 50% and below 100% (expected e.g. 95% or 99%)",
                    c.value
                ),
            );
            default
        }
        c => c.map_or(default, |c| c.value.0 / 100.0),
    }
}

/// What a full-form metric measures, and its conditions, once its form is checked.
struct Judged {
    provider: ProviderSpec,
    builtin: Option<BuiltinMetric>,
    success: Option<Condition>,
    failure: Option<Condition>,
    evidence: Evidence,
    /// How values are shown unless the metric says: a builtin metric's unit, a share's ratio.
    unit: Option<Unit>,
}

/// The service whose metrics are lowered, and where its requests are counted.
struct Routed<'a> {
    service: &'a str,
    mesh: Option<Mesh>,
}

fn full_form(
    m: &FullMetricConfig,
    pos: Pos,
    defaults: &Defaults,
    routed: &Routed<'_>,
    providers: &Table,
    sink: &mut Sink<'_>,
) -> Option<MetricSpec> {
    names::identifier("metric", &m.name, sink);
    let name = m.name.value.as_str();
    let judged = match &m.threshold {
        _ if m.preset.is_some() => preset_form(m, pos, routed, providers, sink),
        _ if m.errors.is_some() || m.total.is_some() => counts_form(m, pos, providers, sink),
        Some(t) => threshold_form(m, t, defaults, sink),
        None => query_form(m, pos, defaults, providers, sink),
    };
    let interval_default = match judged.as_ref().and_then(|j| j.builtin) {
        Some(_) => BUILTIN_INTERVAL,
        None => EXTERNAL_INTERVAL,
    };
    let interval = m
        .interval
        .as_ref()
        .and_then(|i| duration(i, "interval", Zero::Rejected, sink))
        .or(defaults.interval)
        .unwrap_or(interval_default);
    let count = match &m.count {
        Some(c) if c.value.0 == 0 => {
            sink.error(c.pos, "count 0 takes no measurement (expected 1 or more, or no `count` to measure until the analysis stops)");
            None
        }
        c => c.as_ref().map(|c| c.value.0),
    };
    let initial_delay = duration_or(
        m.initial_delay.as_ref(),
        "initialDelay",
        Zero::Allowed,
        Duration::ZERO,
        sink,
    );
    if m.window.is_some() && judged.as_ref().is_some_and(|j| j.builtin.is_none()) {
        sink.error(
            m.window.as_ref().map_or(pos, |w| w.pos),
            format!("metric `{name}` has a `window`, which only builtin metrics use (expected it left out)"),
        );
    }
    let j = judged?;
    let unit = m.unit.map(unit).or(j.unit).unwrap_or(Unit::Plain);
    Some(MetricSpec {
        name: name.to_owned(),
        provider: j.provider,
        unit,
        interval,
        count,
        initial_delay,
        success: j.success,
        failure: j.failure,
        failure_limit: m.failure_limit.as_ref().map_or(0, |l| l.value.0),
        inconclusive_limit: m.inconclusive_limit.as_ref().map_or(0, |l| l.value.0),
        consecutive_error_limit: m
            .consecutive_error_limit
            .as_ref()
            .map_or(DEFAULT_CONSECUTIVE_ERROR_LIMIT, |l| l.value.0),
        dry_run: m.dry_run.unwrap_or(false),
        min_sample: m
            .min_sample
            .as_ref()
            .map_or(defaults.min_sample, |s| s.value.0),
        evidence: j.evidence,
        confidence: confidence(m.confidence.as_ref(), defaults.confidence, sink),
        inconclusive: defaults.inconclusive,
    })
}

/// `threshold: latency_p99 <= 200ms`: a compact threshold with the full form's options.
fn threshold_form(
    m: &FullMetricConfig,
    t: &Spanned<Threshold>,
    defaults: &Defaults,
    sink: &mut Sink<'_>,
) -> Option<Judged> {
    let mut ok = true;
    for (key, at) in set(m, &["query", "successCondition", "failureCondition"]) {
        sink.error(
            at,
            format!("`threshold` and `{key}` are both set (expected one or the other)"),
        );
        ok = false;
    }
    if let Some(p) = &m.provider
        && !matches!(&p.value, ProviderRef::Named(n) if n == BUILTIN)
    {
        sink.error(p.pos, "`threshold` measures a builtin metric (expected no `provider`, or `provider: builtin`)");
        ok = false;
    }
    let window = window(m, defaults, sink);
    // An explicit window asks for per-interval judgement.
    let (evidence, slower_than) = match m.window {
        Some(_) => (Evidence::Window, None),
        None => evidence(&t.value),
    };
    ok.then(|| Judged {
        provider: ProviderSpec::Builtin {
            metric: t.value.metric,
            window,
            slower_than,
        },
        builtin: Some(t.value.metric),
        success: Some(t.value.condition()),
        failure: None,
        evidence,
        unit: Some(t.value.metric.unit()),
    })
}

/// A provider, a query, and conditions over `result`.
fn query_form(
    m: &FullMetricConfig,
    pos: Pos,
    defaults: &Defaults,
    providers: &Table,
    sink: &mut Sink<'_>,
) -> Option<Judged> {
    let name = m.name.value.as_str();
    let success = condition("successCondition", m.success_condition.as_ref(), sink);
    let failure = condition("failureCondition", m.failure_condition.as_ref(), sink);
    let unconditioned = m.success_condition.is_none() && m.failure_condition.is_none();
    let (provider, builtin) = match m.provider.as_ref().map(|p| (&p.value, p.pos)) {
        None => builtin(m, defaults, sink)?,
        Some((ProviderRef::Named(n), _)) if n == BUILTIN => builtin(m, defaults, sink)?,
        Some((ProviderRef::Named(n), at)) => match providers.get(n) {
            Some(base) => (
                provider::complete(base?, m.query.as_ref(), name, pos, sink)?,
                None,
            ),
            None => {
                let reference = Spanned::new(n.clone(), at);
                names::reference("provider", &reference, &providers.names(), sink);
                return None;
            }
        },
        Some((ProviderRef::Inline(config), at)) => {
            let what = format!("metric `{name}`'s provider");
            let base = provider::lower(config, at, &what, sink)?;
            (
                provider::complete(&base, m.query.as_ref(), name, pos, sink)?,
                None,
            )
        }
    };
    // A job's exit status is its verdict, as the schema says: 0 passes.
    let success = match (&provider, unconditioned) {
        (ProviderSpec::Job { .. }, true) => Some(Some(Condition::Expr("result == 0".to_owned()))),
        (_, true) => {
            sink.error(
                pos,
                format!("metric `{name}` has neither successCondition nor failureCondition (expected at least one, e.g. `successCondition: result <= 0.5`)"),
            );
            return None;
        }
        (_, false) => success,
    };
    Some(Judged {
        provider,
        builtin,
        success: success?,
        failure: failure?,
        evidence: Evidence::Window,
        unit: builtin.map(BuiltinMetric::unit),
    })
}

/// `errors`, `total` and a `threshold` on `error_rate`: a prometheus metric judged, as the
/// builtin one is, on the counts since the analysis began.
fn counts_form(
    m: &FullMetricConfig,
    pos: Pos,
    providers: &Table,
    sink: &mut Sink<'_>,
) -> Option<Judged> {
    let name = m.name.value.as_str();
    let mut ok = true;
    for (key, present, other) in [
        ("errors", m.errors.is_some(), "total"),
        ("total", m.total.is_some(), "errors"),
    ] {
        if !present {
            sink.error(pos, format!("metric `{name}` has `{other}` without `{key}` (expected both: PromQL counting failed requests, and every request)"));
            ok = false;
        }
    }
    let judged = ["query", "successCondition", "failureCondition", "window"];
    for (key, at) in set(m, &judged) {
        sink.error(at, format!("`errors` and `total` are judged by `threshold`, and `{key}` is set too (expected it left out)"));
        ok = false;
    }
    let threshold = match &m.threshold {
        Some(t) if t.value.metric == BuiltinMetric::ErrorRate => Some(t),
        Some(t) => {
            sink.error(t.pos, format!("`errors` and `total` count failed requests, so the threshold is on `error_rate`, not `{}` (expected e.g. `threshold: error_rate <= 1%`)", t.value.metric));
            None
        }
        None => {
            sink.error(pos, format!("metric `{name}` has `errors` and `total` but no `threshold` (expected e.g. `threshold: error_rate <= 1%`)"));
            None
        }
    };
    let base = prometheus_base(m, pos, "counts with PromQL", providers, sink);
    let provider = match base? {
        provider::Base::Prometheus {
            address,
            headers,
            timeout,
        } => ProviderSpec::Prometheus {
            address,
            query: m.errors.as_ref()?.value.clone(),
            headers,
            timeout,
            total: Some(m.total.as_ref()?.value.clone()),
        },
        _ => {
            let at = m.provider.as_ref().map_or(pos, |p| p.pos);
            sink.error(at, format!("`errors` and `total` are PromQL, and metric `{name}`'s provider is not prometheus (expected a prometheus provider)"));
            return None;
        }
    };
    let threshold = threshold?;
    ok.then(|| Judged {
        provider,
        builtin: None,
        success: Some(threshold.value.condition()),
        failure: None,
        evidence: Evidence::Cumulative,
        unit: Some(Unit::Ratio),
    })
}

/// `preset` and a `threshold`: the PromQL of the service's mesh or ingress for the check named.
fn preset_form(
    m: &FullMetricConfig,
    pos: Pos,
    routed: &Routed<'_>,
    providers: &Table,
    sink: &mut Sink<'_>,
) -> Option<Judged> {
    let name = m.name.value.as_str();
    let preset = m.preset.as_ref()?;
    let mut ok = true;
    let written = [
        "query",
        "errors",
        "total",
        "successCondition",
        "failureCondition",
        "window",
    ];
    for (key, at) in set(m, &written) {
        sink.error(at, format!("`preset` writes the query and is judged by `threshold`, and `{key}` is set too (expected it left out)"));
        ok = false;
    }
    let (preset_name, judged_on, expected) = match preset.value {
        PresetConfig::RequestSuccessRate => (
            "request-success-rate",
            "`success_rate` or `error_rate`",
            "success_rate >= 99%",
        ),
        PresetConfig::RequestDuration => (
            "request-duration",
            "a latency quantile",
            "latency_p99 <= 200ms",
        ),
    };
    let Some(mesh) = &routed.mesh else {
        sink.error(preset.pos, format!("preset `{preset_name}` reads Istio's or NGINX Ingress's metrics, and service `{}` is routed by neither (expected `trafficRouting` with `istio` or `nginx`)", routed.service));
        return None;
    };
    let threshold = match &m.threshold {
        Some(t) if t.value.rhs.is_relative() => {
            sink.error(t.pos, format!("preset `{preset_name}` measures one revision, so its threshold is a value, not relative to the baseline (expected e.g. `threshold: {expected}`)"));
            None
        }
        Some(t) => Some(t),
        None => {
            sink.error(pos, format!("metric `{name}` has a `preset` but no `threshold` (expected e.g. `threshold: {expected}`)"));
            None
        }
    };
    let base = prometheus_base(m, pos, "is a preset over PromQL", providers, sink);
    let (address, headers, timeout) = match base? {
        provider::Base::Prometheus {
            address,
            headers,
            timeout,
        } => (address, headers, timeout),
        _ => {
            let at = m.provider.as_ref().map_or(pos, |p| p.pos);
            sink.error(at, format!("preset `{preset_name}` is PromQL, and metric `{name}`'s provider is not prometheus (expected a prometheus provider)"));
            return None;
        }
    };
    let threshold = threshold?;
    let t = &threshold.value;
    let (query, total, evidence, unit) = match (preset.value, t.metric) {
        (
            PresetConfig::RequestSuccessRate,
            BuiltinMetric::SuccessRate | BuiltinMetric::ErrorRate,
        ) => {
            let (hits, total) = mesh.counts(t.metric == BuiltinMetric::ErrorRate);
            (hits, Some(total), Evidence::Cumulative, Unit::Ratio)
        }
        (PresetConfig::RequestDuration, BuiltinMetric::Latency { permille }) => {
            let quantile = f64::from(permille) / 1000.0;
            (
                mesh.duration(quantile),
                None,
                Evidence::Window,
                Unit::Seconds,
            )
        }
        _ => {
            sink.error(threshold.pos, format!("preset `{preset_name}` is judged on {judged_on}, not `{}` (expected e.g. `threshold: {expected}`)", t.metric));
            return None;
        }
    };
    ok.then(|| Judged {
        provider: ProviderSpec::Prometheus {
            address,
            query,
            headers,
            timeout,
            total,
        },
        builtin: None,
        success: Some(t.condition()),
        failure: None,
        evidence,
        unit: Some(unit),
    })
}

/// The prometheus provider a metric names (or writes inline) that its PromQL is sent to; `why`
/// says why it needs one.
fn prometheus_base(
    m: &FullMetricConfig,
    pos: Pos,
    why: &str,
    providers: &Table,
    sink: &mut Sink<'_>,
) -> Option<provider::Base> {
    let name = m.name.value.as_str();
    match m.provider.as_ref().map(|p| (&p.value, p.pos)) {
        Some((ProviderRef::Named(n), at)) if n != BUILTIN => match providers.get(n) {
            Some(base) => base.cloned(),
            None => {
                let reference = Spanned::new(n.clone(), at);
                names::reference("provider", &reference, &providers.names(), sink);
                None
            }
        },
        Some((ProviderRef::Inline(config), at)) => {
            provider::lower(config, at, &format!("metric `{name}`'s provider"), sink)
        }
        _ => {
            let at = m.provider.as_ref().map_or(pos, |p| p.pos);
            sink.error(at, format!("metric `{name}` {why}, so it needs a prometheus `provider` (expected e.g. `provider: prom`)"));
            None
        }
    }
}

/// The builtin provider: `query`, or else the metric's name, names the builtin metric.
fn builtin(
    m: &FullMetricConfig,
    defaults: &Defaults,
    sink: &mut Sink<'_>,
) -> Option<(ProviderSpec, Option<BuiltinMetric>)> {
    let which = m.query.as_ref().unwrap_or(&m.name);
    let window = window(m, defaults, sink);
    match BuiltinMetric::from_name(which.value.trim()) {
        Some(metric) => {
            let provider = ProviderSpec::Builtin {
                metric,
                window,
                slower_than: None,
            };
            Some((provider, Some(metric)))
        }
        None => {
            sink.error(
                which.pos,
                format!(
                    "unknown builtin metric `{}` (expected one of {}, or a `provider` such as prometheus)",
                    which.value,
                    BuiltinMetric::NAMES.join(", ")
                ),
            );
            None
        }
    }
}

/// Which of `keys` (`query`, `errors`, `total`, `successCondition`, `failureCondition`,
/// `window`) the metric sets, and where: the forms that write or judge them refuse them.
fn set<'k>(m: &FullMetricConfig, keys: &[&'k str]) -> Vec<(&'k str, Pos)> {
    let at = |key: &str| match key {
        "query" => m.query.as_ref().map(|q| q.pos),
        "errors" => m.errors.as_ref().map(|q| q.pos),
        "total" => m.total.as_ref().map(|q| q.pos),
        "successCondition" => m.success_condition.as_ref().map(|c| c.pos),
        "failureCondition" => m.failure_condition.as_ref().map(|c| c.pos),
        "window" => m.window.as_ref().map(|w| w.pos),
        _ => None,
    };
    keys.iter().filter_map(|k| Some((*k, at(k)?))).collect()
}

fn window(m: &FullMetricConfig, defaults: &Defaults, sink: &mut Sink<'_>) -> Duration {
    duration_or(
        m.window.as_ref(),
        "window",
        Zero::Rejected,
        defaults.window,
        sink,
    )
}

/// An expression condition: kept as written for the analysis engine, parsed here so that a
/// syntax error is found by `validate`.
/// `None` after an error; `Some(None)` when absent.
fn condition(
    key: &str,
    text: Option<&Spanned<String>>,
    sink: &mut Sink<'_>,
) -> Option<Option<Condition>> {
    let Some(text) = text else {
        return Some(None);
    };
    let t = text.value.trim();
    if t.is_empty() {
        sink.error(
            text.pos,
            format!("{key} is empty (expected an expression over `result`, e.g. `result <= 0.5`)"),
        );
        return None;
    }
    if !t.contains("result") {
        sink.error(
            text.pos,
            format!("{key} `{t}` never mentions `result` (expected e.g. `result <= 0.5`)"),
        );
        return None;
    }
    if let Err(e) = bellwether_condition::compile(t) {
        // A condition written over several lines is shown on one, as every diagnostic is.
        let shown = t.split_whitespace().collect::<Vec<_>>().join(" ");
        sink.error(
            text.pos,
            format!(
                "{key} `{shown}` does not parse: {} at line {}, column {} of the expression (expected CEL or Argo Rollouts' expr-lang over `result`, e.g. `result[0] >= 0.95`)",
                e.message, e.line, e.column
            ),
        );
        return None;
    }
    Some(Some(Condition::Expr(t.to_owned())))
}

fn unit(u: UnitConfig) -> Unit {
    match u {
        UnitConfig::Ratio => Unit::Ratio,
        UnitConfig::Seconds => Unit::Seconds,
        UnitConfig::PerSecond => Unit::PerSecond,
        UnitConfig::Plain => Unit::Plain,
    }
}
