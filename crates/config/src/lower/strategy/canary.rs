//! Canary steps and options: weights that only go up, pauses, analyses and header routes.

use bellwether_core::spec::{
    AnalysisRef, BackgroundAnalysis, CanaryScale, CanarySpec, CanaryStep, HeaderMatch, Weight,
};

use super::super::scalars::{Zero, duration_at, duration_or, scale, weight};
use super::{ServiceCx, analysis_ref, metric_refs, positive_scale, suite_refs, traffic_generator};
use crate::diagnostic::Sink;
use crate::model::{
    BackgroundAnalysisConfig, CanaryConfig, CanaryScaleConfig, CanaryStepConfig, HeaderRouteConfig,
    MirrorRouteConfig, PauseConfig,
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
        .and_then(|g| traffic_generator(g, sink))
        .map(Box::new);
    spec
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
            CanaryStepConfig::SetCanaryScale(s) => canary_scale(s, sink).map(CanaryStep::SetCanaryScale),
            CanaryStepConfig::SetMirrorRoute(m) => mirror_route(m, sink).map(CanaryStep::SetMirrorRoute),
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

/// `setCanaryScale`: exactly one of `replicas`, `weight` or `matchTrafficWeight: true`.
fn canary_scale(s: &Spanned<CanaryScaleConfig>, sink: &mut Sink<'_>) -> Option<CanaryScale> {
    let c = &s.value;
    let given = [
        ("replicas", c.replicas.is_some()),
        ("weight", c.weight.is_some()),
        ("matchTrafficWeight", c.match_traffic_weight.is_some()),
    ];
    if given.iter().filter(|(_, set)| *set).count() != 1 {
        sink.error(
            s.pos,
            "setCanaryScale needs exactly one of replicas, weight or matchTrafficWeight (expected e.g. `setCanaryScale: {replicas: 2}`)",
        );
        return None;
    }
    if let Some(r) = &c.replicas {
        return Some(CanaryScale::Replicas(r.value.0));
    }
    if let Some(w) = &c.weight {
        return weight(w, sink).map(CanaryScale::Weight);
    }
    match &c.match_traffic_weight {
        Some(m) if !m.value => {
            sink.error(
                m.pos,
                "matchTrafficWeight: false says nothing (expected `matchTrafficWeight: true`, or `replicas` or `weight`)",
            );
            None
        }
        _ => Some(CanaryScale::MatchTrafficWeight),
    }
}

/// `setMirrorRoute`: a name and a percentage to mirror, or only the name to stop.
fn mirror_route(m: &Spanned<MirrorRouteConfig>, sink: &mut Sink<'_>) -> Option<Option<Weight>> {
    let c = &m.value;
    let mut ok = true;
    if c.name.is_none() {
        sink.error(
            m.pos,
            "setMirrorRoute has no `name` (expected e.g. `setMirrorRoute: {name: mirror, percentage: 20}`)",
        );
        ok = false;
    }
    if let Some(matches) = &c.matches {
        sink.error(
            matches.pos,
            "setMirrorRoute's `match` is not supported: the built-in router mirrors a share of all requests (expected only `name` and `percentage`)",
        );
        ok = false;
    }
    let share = match &c.percentage {
        Some(p) => Some(weight(p, sink)?),
        None => None,
    };
    ok.then_some(share)
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
