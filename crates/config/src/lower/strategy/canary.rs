//! Canary steps and options: weights that only go up, pauses, analyses and header routes.

use bellwether_core::spec::{
    AnalysisRef, BackgroundAnalysis, CanarySpec, CanaryStep, HeaderMatch, TrafficGenerator, Weight,
};

use super::super::check::header_map;
use super::super::scalars::{Zero, duration_at, duration_or, scale, weight};
use super::{ServiceCx, analysis_ref, metric_refs, positive_scale, suite_refs};
use crate::diagnostic::Sink;
use crate::model::{
    BackgroundAnalysisConfig, CanaryConfig, CanaryStepConfig, HeaderRouteConfig, PauseConfig,
    TrafficGeneratorConfig,
};
use crate::span::{Pos, Spanned};

pub(super) fn lower(
    c: &Spanned<CanaryConfig>,
    cx: &ServiceCx<'_>,
    sink: &mut Sink<'_>,
) -> CanarySpec {
    let config = &c.value;
    let mut spec = CanarySpec::with_steps(steps(&config.steps, cx, sink));
    spec.background_analysis = match &config.analysis {
        Some(a) => Some(background(a, config.steps.len(), cx, sink)),
        None => default_background(&spec.steps, cx, sink),
    };
    if let Some(surge) = config
        .max_surge
        .as_ref()
        .and_then(|s| positive_scale(s, "maxSurge", sink))
    {
        spec.max_surge = surge;
    }
    if let Some(unavailable) = &config.max_unavailable {
        sink.warning(
            unavailable.pos,
            "maxUnavailable has no effect on a canary: the stable revision keeps its full size behind the weighted router",
        );
        if let Some(s) = scale(unavailable, "maxUnavailable", sink) {
            spec.max_unavailable = s;
        }
    }
    spec.scale_down_delay = duration_or(
        config.scale_down_delay.as_ref(),
        "scaleDownDelay",
        Zero::Allowed,
        spec.scale_down_delay,
        sink,
    );
    spec.abort_scale_down_delay = duration_or(
        config.abort_scale_down_delay.as_ref(),
        "abortScaleDownDelay",
        Zero::Allowed,
        spec.abort_scale_down_delay,
        sink,
    );
    spec.traffic_generator = config
        .traffic_generator
        .as_ref()
        .and_then(|g| traffic_generator(g, sink));
    spec
}

fn traffic_generator(
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

fn steps(
    steps: &[Spanned<CanaryStepConfig>],
    cx: &ServiceCx<'_>,
    sink: &mut Sink<'_>,
) -> Vec<CanaryStep> {
    // The highest weight so far and where it was set: a canary only ever grows until it is
    // promoted or aborted, and an abort ends the rollout, so no step may lower the weight.
    let mut highest: Option<(Weight, Pos)> = None;
    let mut out = Vec::with_capacity(steps.len());
    for step in steps {
        let lowered = match &step.value {
            CanaryStepConfig::SetWeight(p) => weight(p, sink).map(|w| {
                match highest {
                    Some((h, at)) if w < h => sink.error(
                        p.pos,
                        format!("setWeight {w} after {h} at line {}: weights must not go down within a canary (expected {h} or more)", at.line),
                    ),
                    _ => highest = Some((w, p.pos)),
                }
                CanaryStep::SetWeight(w)
            }),
            CanaryStepConfig::Pause(p) => pause(p, sink),
            CanaryStepConfig::Analysis(a) => Some(CanaryStep::Analysis(analysis_ref(a, cx, sink))),
            CanaryStepConfig::SetHeaderRoute(r) => header_route(r, sink).map(CanaryStep::SetHeaderRoute),
            CanaryStepConfig::Verify(suite) => Some(CanaryStep::Analysis(AnalysisRef {
                verify: suite_refs(std::slice::from_ref(suite), cx, sink),
                ..AnalysisRef::default()
            })),
        };
        // A rejected step keeps its place, so that step numbers in later messages still match
        // the file; the project is not used once there is an error.
        out.push(lowered.unwrap_or(CanaryStep::Pause(None)));
    }
    out
}

fn pause(p: &Spanned<PauseConfig>, sink: &mut Sink<'_>) -> Option<CanaryStep> {
    match &p.value.duration {
        None => Some(CanaryStep::Pause(None)),
        Some(d) => duration_at(d.value, d.pos.or(p.pos), "pause", Zero::Allowed, sink)
            .map(|d| CanaryStep::Pause(Some(d))),
    }
}

/// `setHeaderRoute`: a header and exactly one way to match it, or nothing to remove the route.
fn header_route(
    r: &Spanned<HeaderRouteConfig>,
    sink: &mut Sink<'_>,
) -> Option<Option<HeaderMatch>> {
    let c = &r.value;
    let matchers: Vec<(&str, &Spanned<String>)> = [
        ("exact", &c.exact),
        ("prefix", &c.prefix),
        ("regex", &c.regex),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
    .collect();
    let Some(header) = &c.header else {
        if matchers.is_empty() {
            return Some(None);
        }
        sink.error(
            r.pos,
            "setHeaderRoute has a match but no `header` (expected e.g. `header: x-canary`)",
        );
        return None;
    };
    let h = header.value.as_str();
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if h.is_empty() || !h.chars().all(token) {
        sink.error(
            header.pos,
            format!(
                "`{h}` is not an HTTP header name (expected letters, digits and `-`, e.g. x-canary)"
            ),
        );
        return None;
    }
    let (kind, value) = match matchers.as_slice() {
        [one] => *one,
        [] => {
            sink.error(
                r.pos,
                "setHeaderRoute needs one of exact, prefix or regex (expected e.g. `exact: \"1\"`)",
            );
            return None;
        }
        [_, (second, v), ..] => {
            sink.error(v.pos, format!("setHeaderRoute has more than one match, `{second}` among them (expected exactly one of exact, prefix or regex)"));
            return None;
        }
    };
    let (header, value) = (h.to_owned(), value.value.clone());
    Some(Some(match kind {
        "exact" => HeaderMatch::Exact { header, value },
        "prefix" => HeaderMatch::Prefix { header, value },
        _ => HeaderMatch::Regex {
            header,
            pattern: value,
        },
    }))
}

fn background(
    a: &Spanned<BackgroundAnalysisConfig>,
    steps: usize,
    cx: &ServiceCx<'_>,
    sink: &mut Sink<'_>,
) -> BackgroundAnalysis {
    let analysis = metric_refs(&a.value.metrics, a.pos, cx, sink);
    let analysis = cx.with_args(analysis, &a.value.args, Some(a.pos), sink);
    let starting_step = match &a.value.starting_step {
        None => 0,
        Some(s) => {
            let n = usize::try_from(s.value.0).unwrap_or(usize::MAX);
            if n > 0 && n >= steps {
                let expected = match steps {
                    0 => "the canary has no steps; expected 0".to_owned(),
                    1 => "expected 0".to_owned(),
                    _ => format!("expected 0–{}", steps - 1),
                };
                sink.error(
                    s.pos,
                    format!("startingStep {n} is past the last step ({expected})"),
                );
            }
            n
        }
    };
    BackgroundAnalysis {
        analysis,
        starting_step,
    }
}

/// As in Argo Rollouts, a metric runs where it is referenced: without `analysis:`, the
/// background analysis runs the metrics no analysis step names (all of them when no step names
/// any, and none when a step runs them all).
fn default_background(
    steps: &[CanaryStep],
    cx: &ServiceCx<'_>,
    sink: &mut Sink<'_>,
) -> Option<BackgroundAnalysis> {
    let stepped: Vec<&AnalysisRef> = steps
        .iter()
        .filter_map(|s| match s {
            CanaryStep::Analysis(a) => Some(a),
            _ => None,
        })
        .collect();
    if stepped.iter().any(|a| a.is_all()) {
        return None;
    }
    let rest: Vec<String> = cx
        .metrics
        .iter()
        .filter(|m| !stepped.iter().any(|a| a.metrics.iter().any(|n| n == *m)))
        .map(|m| (*m).to_owned())
        .collect();
    if rest.is_empty() {
        return None;
    }
    let analysis = if rest.len() == cx.metrics.len() {
        cx.default_analysis(sink)?
    } else {
        cx.with_args(
            AnalysisRef {
                metrics: rest,
                ..AnalysisRef::default()
            },
            &[],
            None,
            sink,
        )
    };
    Some(BackgroundAnalysis {
        analysis,
        starting_step: 0,
    })
}
