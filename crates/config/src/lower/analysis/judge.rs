//! The judge: its settings and metrics become a `JudgeSpec`, each metric checked against the
//! service's metrics and each group against the weights.

use std::collections::BTreeMap;
use std::time::Duration;

use bellwether_core::spec::{
    CanaryStep, DEFAULT_CONFIDENCE, Direction, JudgeSpec, JudgedMetricSpec, Strategy,
};

use crate::diagnostic::Sink;
use crate::lower::names;
use crate::lower::scalars::{Zero, duration_or};
use crate::model::{JudgeConfig, JudgedMetricConfig, Number};
use crate::span::{Entries, Pos, Spanned};
use crate::suggest::did_you_mean;
use crate::values::Percent;

/// A sample every 10s for two minutes: enough points for the test to see a modest difference,
/// short enough for a canary step.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
const DEFAULT_COUNT: u32 = 12;
/// With two samples of two points each, no difference reaches 95% confidence.
const MIN_COUNT: u32 = 3;
const DEFAULT_PASS: f64 = 95.0;
const DEFAULT_MARGINAL: f64 = 75.0;
const DEFAULT_GROUP: &str = "default";
const DEFAULT_MIN_RATIO: f64 = 1.1;
/// Weights are written with at most a couple of decimals; this absorbs their float sums.
const TOLERANCE: f64 = 1e-6;

/// Lowers the judge of a service whose metrics are `declared`, reporting every problem.
pub(super) fn lower(
    judge: &Spanned<JudgeConfig>,
    declared: &[&str],
    sink: &mut Sink<'_>,
) -> JudgeSpec {
    let j = &judge.value;
    let interval = duration_or(
        j.interval.as_ref(),
        "interval",
        Zero::Rejected,
        DEFAULT_INTERVAL,
        sink,
    );
    let count = match &j.count {
        Some(c) if c.value.0 < MIN_COUNT => {
            sink.error(
                c.pos,
                format!(
                    "count {} is too few samples for the judge's test to find any difference (expected {MIN_COUNT} or more)",
                    c.value.0
                ),
            );
            DEFAULT_COUNT
        }
        c => c.as_ref().map_or(DEFAULT_COUNT, |c| c.value.0),
    };
    let confidence = super::confidence(j.confidence.as_ref(), DEFAULT_CONFIDENCE, sink);
    let pass = score(j.pass.as_ref(), "pass", DEFAULT_PASS, sink);
    let marginal = score(j.marginal.as_ref(), "marginal", DEFAULT_MARGINAL, sink);
    if pass < marginal {
        let at = j
            .pass
            .as_ref()
            .or(j.marginal.as_ref())
            .map_or(judge.pos, |s| s.pos);
        sink.error(
            at,
            format!(
                "pass {} is below marginal {} (expected pass at or above marginal: a score below marginal fails, one from marginal to pass pauses for a person)",
                shown(pass),
                shown(marginal)
            ),
        );
    }
    if j.metrics.is_empty() {
        sink.error(
            judge.pos,
            "the judge has no metrics (expected e.g. `metrics: [{metric: error_rate, direction: increase}]`)",
        );
    }
    let metrics = metrics(&j.metrics, declared, sink);
    let group_weights = j
        .groups
        .as_ref()
        .map(|g| groups(g, &j.metrics, sink))
        .unwrap_or_default();
    JudgeSpec {
        interval,
        count,
        confidence,
        pass_score: pass,
        marginal_score: marginal,
        group_weights,
        metrics,
    }
}

/// Warns about a judge that no analysis asks for: it would never run.
pub(in crate::lower) fn check_asked_for(judge: Pos, strategy: &Strategy, sink: &mut Sink<'_>) {
    let asked = match strategy {
        Strategy::Canary(c) => {
            let steps = c.steps.iter().any(|s| match s {
                CanaryStep::Analysis(a) => a.judge,
                _ => false,
            });
            steps
                || c.background_analysis
                    .as_ref()
                    .is_some_and(|b| b.analysis.judge)
        }
        Strategy::BlueGreen(b) => [&b.pre_promotion_analysis, &b.post_promotion_analysis]
            .into_iter()
            .flatten()
            .any(|a| a.judge),
        Strategy::Rolling(r) => r.analysis.as_ref().is_some_and(|a| a.judge),
    };
    if !asked {
        sink.warning(
            judge,
            "no analysis asks for the judge, so it never runs (expected e.g. the canary step `- analysis: {judge: true}`, or `judge: true` in a pre- or post-promotion analysis)",
        );
    }
}

fn score(s: Option<&Spanned<Number>>, key: &str, default: f64, sink: &mut Sink<'_>) -> f64 {
    match s {
        Some(s) if !(0.0..=100.0).contains(&s.value.0) => {
            sink.error(
                s.pos,
                format!("{key} {} is not a score (expected 0–100)", shown(s.value.0)),
            );
            default
        }
        s => s.map_or(default, |s| s.value.0),
    }
}

fn metrics(
    metrics: &[Spanned<JudgedMetricConfig>],
    declared: &[&str],
    sink: &mut Sink<'_>,
) -> Vec<JudgedMetricSpec> {
    let mut seen: Vec<(&str, Pos)> = Vec::new();
    let mut out = Vec::with_capacity(metrics.len());
    for m in metrics {
        let m = &m.value;
        let name = m.metric.value.as_str();
        if declared.is_empty() {
            sink.error(
                m.metric.pos,
                format!("unknown metric `{name}` (the service declares no `analysis.metrics`; expected the judge's metrics among them)"),
            );
        } else {
            names::reference("metric", &m.metric, declared, sink);
        }
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            sink.error(
                m.metric.pos,
                format!(
                    "metric `{name}` is judged twice (the first is at line {}; expected each metric once)",
                    first.line
                ),
            );
        }
        seen.push((name, m.metric.pos));
        let direction = match &m.direction {
            None => Direction::Either,
            Some(d) => Direction::from_name(d.value.trim()).unwrap_or_else(|| {
                sink.error(
                    d.pos,
                    format!(
                        "unknown direction `{}`{} (expected one of {})",
                        d.value,
                        did_you_mean(&d.value, Direction::NAMES.iter().copied()),
                        Direction::NAMES.join(", ")
                    ),
                );
                Direction::Either
            }),
        };
        let group = match &m.group {
            Some(g) if g.value.trim().is_empty() => {
                sink.error(g.pos, "group is empty (expected a name such as `errors`)");
                DEFAULT_GROUP.to_owned()
            }
            g => g
                .as_ref()
                .map_or(DEFAULT_GROUP, |g| g.value.as_str())
                .to_owned(),
        };
        let min_ratio = match &m.min_ratio {
            Some(r) if !(r.value.0 >= 1.0 && r.value.0.is_finite()) => {
                sink.error(
                    r.pos,
                    format!(
                        "minRatio {} is below 1 (expected 1 or more: with 1.2, a significant difference counts once the means are 20% apart)",
                        shown(r.value.0)
                    ),
                );
                DEFAULT_MIN_RATIO
            }
            r => r.as_ref().map_or(DEFAULT_MIN_RATIO, |r| r.value.0),
        };
        out.push(JudgedMetricSpec {
            metric: name.to_owned(),
            direction,
            critical: m.critical.unwrap_or(false),
            group,
            min_ratio,
        });
    }
    out
}

/// The group weights, in percent. Every listed group must have a metric; the weights may not
/// pass 100%, must reach it when every group is listed, and must leave something for the
/// groups that are not.
fn groups(
    groups: &Spanned<Entries<Percent>>,
    metrics: &[Spanned<JudgedMetricConfig>],
    sink: &mut Sink<'_>,
) -> BTreeMap<String, f64> {
    let group_of = |m: &JudgedMetricConfig| {
        m.group
            .as_ref()
            .map_or(DEFAULT_GROUP, |g| g.value.as_str())
            .to_owned()
    };
    let used: Vec<String> = metrics.iter().map(|m| group_of(&m.value)).collect();
    let listed: Vec<&str> = groups.value.names().collect();
    let mut weights = BTreeMap::new();
    for (name, weight) in groups.value.iter() {
        let w = weight.value.0;
        if !(w > 0.0 && w <= 100.0) {
            sink.error(
                weight.pos,
                format!(
                    "weight {} of group `{}` is not above 0% and at most 100% (expected e.g. 40%)",
                    weight.value, name.value
                ),
            );
            continue;
        }
        if !metrics.is_empty() && !used.contains(&name.value) {
            sink.error(
                name.pos,
                format!(
                    "group `{}` has no metric (expected only groups that a metric names in its `group`)",
                    name.value
                ),
            );
        }
        weights.insert(name.value.clone(), w);
    }
    // Shown to the hundredth, as weights are written, without the float sum's noise.
    let sum: f64 = weights.values().sum();
    let total = Percent((sum * 100.0).round() / 100.0);
    let unlisted: Vec<&JudgedMetricConfig> = metrics
        .iter()
        .map(|m| &m.value)
        .filter(|m| !listed.contains(&group_of(m).as_str()))
        .collect();
    if sum > 100.0 + TOLERANCE {
        sink.error(
            groups.pos,
            format!("group weights sum to {total} (expected at most 100%)"),
        );
    } else if unlisted.is_empty() {
        if (sum - 100.0).abs() > TOLERANCE && weights.len() == listed.len() {
            sink.error(
                groups.pos,
                format!("group weights sum to {total} (expected 100% when every group is listed)"),
            );
        }
    } else if sum >= 100.0 - TOLERANCE {
        // Groups that are not listed share what the listed ones leave, and they leave nothing.
        for m in unlisted {
            let expected = format!(
                "the weights in `groups` already sum to 100%, so it would weigh nothing; expected one of {}",
                listed.join(", ")
            );
            match &m.group {
                Some(g) => sink.error(
                    g.pos,
                    format!(
                        "unknown group `{}`{} ({expected})",
                        g.value,
                        did_you_mean(&g.value, listed.iter().copied())
                    ),
                ),
                None => sink.error(
                    m.metric.pos,
                    format!("metric `{}` has no `group` ({expected})", m.metric.value),
                ),
            }
        }
    }
    weights
}

/// A number as written: `75`, `72.5`, `1.2`.
fn shown(v: f64) -> String {
    v.to_string()
}
