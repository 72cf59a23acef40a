//! Strategies: which one, their options (a canary's in `canary`), and the analysis references
//! they hold.

mod canary;

use std::time::Duration;

use bellwether_core::spec::{
    AnalysisRef, BlueGreenSpec, RollingSpec, Scale, Strategy, TrafficGenerator,
};

use super::analysis::Args;
use super::check::header_map;
use super::scalars::{Zero, duration_or, scale};
use super::{exactly_one, names};
use crate::diagnostic::Sink;
use crate::model::{
    AnalysisRefConfig, ArgConfig, BlueGreenConfig, RollingConfig, StrategyConfig,
    TrafficGeneratorConfig,
};
use crate::span::{Pos, Spanned};

/// What a strategy needs to know about its service.
pub(super) struct ServiceCx<'a> {
    pub(super) name: &'a str,
    pub(super) replicas: u32,
    /// Names of the service's analysis metrics, in file order.
    pub(super) metrics: Vec<&'a str>,
    /// Whether the service declares a judge, which analyses may then ask for.
    pub(super) judge: bool,
    /// Names of the project's suites of checks (`verify:`), which analyses may run.
    pub(super) suites: Vec<&'a str>,
    /// The arguments the service's analysis declares and its metrics use.
    pub(super) args: &'a Args,
}

impl ServiceCx<'_> {
    /// When the service declares metrics, strategies judge rollouts by all of them unless told
    /// otherwise: a rollout with nothing watching it is not a safe default.
    pub(super) fn default_analysis(&self, sink: &mut Sink<'_>) -> Option<AnalysisRef> {
        (!self.metrics.is_empty()).then(|| self.with_args(AnalysisRef::all(), &[], None, sink))
    }

    /// `analysis` with the values of its arguments, `given` where it is written (`at`).
    pub(super) fn with_args(
        &self,
        mut analysis: AnalysisRef,
        given: &[Spanned<ArgConfig>],
        at: Option<Pos>,
        sink: &mut Sink<'_>,
    ) -> AnalysisRef {
        analysis.args = self.args.resolve(given, &analysis, self.name, at, sink);
        analysis
    }
}

/// Lowers `strategy`, which defaults to a rolling update.
pub(super) fn lower(
    strategy: Option<&Spanned<StrategyConfig>>,
    cx: &ServiceCx<'_>,
    sink: &mut Sink<'_>,
) -> Strategy {
    let Some(strategy) = strategy else {
        return Strategy::Rolling(RollingSpec {
            analysis: cx.default_analysis(sink),
            ..RollingSpec::default()
        });
    };
    let s = &strategy.value;
    let kinds = [
        ("canary", s.canary.is_some()),
        ("blueGreen", s.blue_green.is_some()),
        ("rolling", s.rolling.is_some()),
    ];
    exactly_one(sink, strategy.pos, "strategy", &kinds);
    if let Some(c) = &s.canary {
        Strategy::Canary(canary::lower(c, cx, sink))
    } else if let Some(b) = &s.blue_green {
        Strategy::BlueGreen(blue_green(b, cx, sink))
    } else if let Some(r) = &s.rolling {
        Strategy::Rolling(rolling(r, cx, sink))
    } else {
        Strategy::Rolling(RollingSpec::default())
    }
}

fn blue_green(
    b: &Spanned<BlueGreenConfig>,
    cx: &ServiceCx<'_>,
    sink: &mut Sink<'_>,
) -> BlueGreenSpec {
    let c = &b.value;
    let defaults = BlueGreenSpec::default();
    let auto = c
        .auto_promotion_enabled
        .unwrap_or(defaults.auto_promotion_enabled);
    if let (false, Some(seconds)) = (auto, &c.auto_promotion_seconds) {
        sink.warning(
            seconds.pos,
            "autoPromotionSeconds has no effect while autoPromotionEnabled is false",
        );
    }
    let delay = c.auto_promotion_seconds.as_ref().map(|s| {
        duration_or(
            Some(s),
            "autoPromotionSeconds",
            Zero::Allowed,
            Duration::ZERO,
            sink,
        )
    });
    let preview = c.preview_replicas.as_ref().and_then(|p| {
        let n = p.value.0;
        let r = cx.replicas;
        if n == 0 {
            sink.error(
                p.pos,
                format!("previewReplicas 0 leaves nothing to preview (expected 1–{r})"),
            );
        } else if n > r {
            sink.error(
                p.pos,
                format!(
                    "previewReplicas {n} is more than the service's {r} replicas (expected 1–{r})"
                ),
            );
        }
        (1..=r).contains(&n).then_some(n)
    });
    let pre = c
        .pre_promotion_analysis
        .as_ref()
        .map(|a| analysis_ref(a, cx, sink));
    let post = c
        .post_promotion_analysis
        .as_ref()
        .map(|a| analysis_ref(a, cx, sink));
    let post = if pre.is_none() && post.is_none() {
        cx.default_analysis(sink)
    } else {
        post
    };
    BlueGreenSpec {
        auto_promotion_enabled: auto,
        auto_promotion_delay: delay,
        preview_replicas: preview,
        pre_promotion_analysis: pre,
        post_promotion_analysis: post,
        scale_down_delay: duration_or(
            c.scale_down_delay.as_ref(),
            "scaleDownDelay",
            Zero::Allowed,
            defaults.scale_down_delay,
            sink,
        ),
        abort_scale_down_delay: duration_or(
            c.abort_scale_down_delay.as_ref(),
            "abortScaleDownDelay",
            Zero::Allowed,
            defaults.abort_scale_down_delay,
            sink,
        ),
    }
}

fn rolling(r: &Spanned<RollingConfig>, cx: &ServiceCx<'_>, sink: &mut Sink<'_>) -> RollingSpec {
    let c = &r.value;
    let defaults = RollingSpec::default();
    let surge = c
        .max_surge
        .as_ref()
        .and_then(|s| scale(s, "maxSurge", sink))
        .unwrap_or(defaults.max_surge);
    let unavailable = c
        .max_unavailable
        .as_ref()
        .and_then(|s| scale(s, "maxUnavailable", sink))
        .unwrap_or(defaults.max_unavailable);
    if surge.resolve(cx.replicas, true) == 0 && unavailable.resolve(cx.replicas, false) == 0 {
        let pos = c
            .max_surge
            .as_ref()
            .or(c.max_unavailable.as_ref())
            .map_or(r.pos, |s| s.pos);
        let n = cx.replicas;
        let replicas = if n == 1 {
            "1 replica".to_owned()
        } else {
            format!("{n} replicas")
        };
        sink.error(
            pos,
            format!("maxSurge {surge} and maxUnavailable {unavailable} both come to 0 of {replicas}, so no replica could ever be replaced (expected maxSurge or maxUnavailable of at least 1)"),
        );
    }
    let analysis = match &c.analysis {
        Some(a) => Some(analysis_ref(a, cx, sink)),
        None => cx.default_analysis(sink),
    };
    RollingSpec {
        max_surge: surge,
        max_unavailable: unavailable,
        analysis,
    }
}

/// Checks an explicit analysis reference: the service must have metrics, each name must be one
/// of them, and a service asked for its judge must have one. The judge alone needs no metric
/// names.
pub(super) fn analysis_ref(
    a: &Spanned<AnalysisRefConfig>,
    cx: &ServiceCx<'_>,
    sink: &mut Sink<'_>,
) -> AnalysisRef {
    let judge = match &a.value.judge {
        Some(j) if j.value && !cx.judge => {
            sink.error(
                j.pos,
                format!("the analysis asks for the judge, and service `{}` declares none (expected a `judge:` under the service's `analysis`, or no `judge: true` here)", cx.name),
            );
            false
        }
        j => j.as_ref().is_some_and(|j| j.value),
    };
    let verify = suite_refs(&a.value.verify, cx, sink);
    let traffic_generator = a
        .value
        .traffic_generator
        .as_ref()
        .and_then(|g| traffic_generator(g, sink))
        .map(Box::new);
    let mut analysis = if (judge || !verify.is_empty()) && a.value.metrics.is_empty() {
        AnalysisRef {
            judge,
            verify,
            ..AnalysisRef::default()
        }
    } else {
        AnalysisRef {
            judge,
            verify,
            ..metric_refs(&a.value.metrics, a.pos, cx, sink)
        }
    };
    analysis.traffic_generator = traffic_generator;
    cx.with_args(analysis, &a.value.args, Some(a.pos), sink)
}

/// Checks a `trafficGenerator`: a rate within the cap, a path, headers.
pub(super) fn traffic_generator(
    g: &Spanned<TrafficGeneratorConfig>,
    sink: &mut Sink<'_>,
) -> Option<TrafficGenerator> {
    let max = TrafficGenerator::MAX_RATE;
    let rate = match &g.value.rate {
        None => {
            sink.error(
                g.pos,
                "trafficGenerator has no `rate` (expected requests per second, e.g. `rate: 10`)",
            );
            None
        }
        Some(r) if !(r.value > 0.0 && r.value <= max) => {
            sink.error(
                r.pos,
                format!(
                    "trafficGenerator rate {} is not above 0 and at most {max} requests per second",
                    r.value
                ),
            );
            None
        }
        Some(r) => Some(r.value),
    };
    let path = g.value.path.as_ref().map_or("/", |p| p.value.as_str());
    if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        let pos = g.value.path.as_ref().map_or(g.pos, |p| p.pos);
        sink.error(
            pos,
            format!("trafficGenerator path `{path}` is not a path (expected e.g. / or /health)"),
        );
    }
    let headers = header_map(&g.value.headers, "header", sink)
        .into_iter()
        .collect();
    Some(TrafficGenerator {
        rate: rate?,
        path: path.to_owned(),
        headers,
    })
}

/// Checks that each suite an analysis runs is declared in the project's `verify:`.
pub(super) fn suite_refs(
    suites: &[Spanned<String>],
    cx: &ServiceCx<'_>,
    sink: &mut Sink<'_>,
) -> Vec<String> {
    for suite in suites {
        if cx.suites.is_empty() {
            sink.error(
                suite.pos,
                format!("unknown suite `{}` (the file declares no `verify:` suites; expected e.g. `verify: {{smoke: {{checks: [health]}}}}` at the top level)", suite.value),
            );
        } else {
            names::reference("suite", suite, &cx.suites, sink);
        }
    }
    suites.iter().map(|s| s.value.clone()).collect()
}

pub(super) fn metric_refs(
    metrics: &[Spanned<String>],
    pos: Pos,
    cx: &ServiceCx<'_>,
    sink: &mut Sink<'_>,
) -> AnalysisRef {
    if cx.metrics.is_empty() {
        sink.error(
            pos,
            format!("analysis has no metric to run: service `{}` declares no `analysis.metrics` (expected e.g. `metrics: [\"error_rate <= 1%\"]` under the service's `analysis`)", cx.name),
        );
        return AnalysisRef::all();
    }
    for m in metrics {
        names::reference("metric", m, &cx.metrics, sink);
    }
    AnalysisRef {
        metrics: metrics.iter().map(|m| m.value.clone()).collect(),
        ..AnalysisRef::default()
    }
}

/// A scale that must let at least one replica start, such as a canary's `maxSurge`.
pub(super) fn positive_scale(
    s: &Spanned<crate::values::ScaleValue>,
    what: &str,
    sink: &mut Sink<'_>,
) -> Option<Scale> {
    let scale = scale(s, what, sink)?;
    if matches!(scale, Scale::Count(0) | Scale::Percent(0)) {
        sink.error(
            s.pos,
            format!("{what} 0 would never start a replica (expected at least 1 or 1%)"),
        );
        return None;
    }
    Some(scale)
}
