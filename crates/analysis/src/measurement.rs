//! One measurement of one metric: what was observed, which condition judged it, the verdict, and
//! a message that names the metric, the value, the threshold or baseline, the sample and the
//! window. Pure: the caller says when it was taken.

use std::time::Duration;

use bellwether_core::rollout::Verdict;
use bellwether_core::spec::MetricSpec;
use bellwether_core::time::Timestamp;
use serde::{Deserialize, Serialize};

use crate::condition::Conditions;
use crate::value::{Observation, Role, Sample, Value, over_last, requests, thousands};

mod cumulative;

pub use cumulative::{Counted, Origin};

/// A measurement as stored and shown: everything needed to explain its verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub metric: String,
    /// When the measurement finished, on the engine's clock.
    pub at: Timestamp,
    /// `Inconclusive` while `waiting`; `Error` when the provider or the condition failed.
    pub verdict: Verdict,
    /// Set when there was not enough evidence to judge: such a measurement never counts
    /// against the inconclusive limit.
    pub waiting: Option<Waiting>,
    pub value: Option<Value>,
    pub baseline: Option<Value>,
    /// The conditions as people read them, e.g. `<= 1%`.
    pub condition: String,
    pub sample: Option<Sample>,
    pub baseline_sample: Option<Sample>,
    /// The span the value covers, when known.
    pub window: Option<Duration>,
    pub message: String,
    pub dry_run: bool,
    /// For a metric judged on all the evidence since the analysis began: the confidence
    /// interval and the counts behind it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted: Option<Counted>,
}

/// Why a measurement could not be judged yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Waiting {
    /// The provider had no value (an empty Prometheus vector, a NaN, no requests at all).
    NoData { role: Role },
    /// Fewer requests than the metric's minimum sample.
    Sample { role: Role, needed: u64 },
    /// The confidence interval still straddles the threshold: more requests will decide.
    Evidence,
}

impl Measurement {
    fn new(spec: &MetricSpec, at: Timestamp, verdict: Verdict, message: String) -> Self {
        Self {
            metric: spec.name.clone(),
            at,
            verdict,
            waiting: None,
            value: None,
            baseline: None,
            condition: describe(spec),
            sample: None,
            baseline_sample: None,
            window: None,
            message,
            dry_run: spec.dry_run,
            counted: None,
        }
    }

    /// A measurement whose provider failed for `role`: an error, retried at the next interval.
    pub fn failed(spec: &MetricSpec, at: Timestamp, role: Role, error: &str) -> Self {
        let message = format!("{}: measuring the {role} failed: {error}", spec.name);
        Self::new(spec, at, Verdict::Error, message)
    }

    /// Judges what the providers observed for the canary and, when the conditions compare with
    /// it, the baseline.
    pub fn assess(
        spec: &MetricSpec,
        conditions: &Conditions,
        at: Timestamp,
        canary: Observation,
        baseline: Option<Observation>,
    ) -> Self {
        let mut m = Self::new(spec, at, Verdict::Inconclusive, String::new());
        m.value = canary.value.clone();
        m.sample = canary.sample;
        m.window = canary.span();
        m.baseline = baseline.as_ref().and_then(|b| b.value.clone());
        m.baseline_sample = baseline.as_ref().and_then(|b| b.sample);
        let observed = [
            (Role::Canary, Some(&canary)),
            (Role::Baseline, baseline.as_ref()),
        ];
        for (role, obs) in observed {
            let Some(obs) = obs else { continue };
            if let Some(waiting) = waiting(spec, role, obs) {
                m.message = waiting_message(spec, waiting, obs);
                m.waiting = Some(waiting);
                return m;
            }
        }
        let Some(result) = &canary.value else {
            return m; // `waiting` caught a canary without a value above.
        };
        match conditions.evaluate(result, m.baseline.as_ref()) {
            Ok(outcome) => {
                m.verdict = outcome.verdict;
                m.message = format!("{} {}{}", spec.name, outcome.reason, context(&m));
                if let Some(detail) = &canary.detail {
                    m.message.push_str(&format!("; {detail}"));
                }
            }
            Err(e) => {
                m.verdict = Verdict::Error;
                m.message = format!("{}: {e}", spec.name);
            }
        }
        m
    }

    /// Whether the measurement was judged: it passed, failed or was inconclusive on evidence.
    pub fn judged(&self) -> bool {
        self.waiting.is_none() && self.verdict != Verdict::Error
    }
}

/// The conditions of a metric, as people read them.
fn describe(spec: &MetricSpec) -> String {
    let s = spec.success.as_ref().map(|c| c.describe(spec.unit));
    let f = spec
        .failure
        .as_ref()
        .map(|c| format!("fails when {}", c.describe(spec.unit)));
    match (s, f) {
        (Some(s), Some(f)) => format!("{s}; {f}"),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => String::new(),
    }
}

fn waiting(spec: &MetricSpec, role: Role, obs: &Observation) -> Option<Waiting> {
    if obs.value.is_none() {
        return Some(Waiting::NoData { role });
    }
    match obs.sample {
        Some(s) if s.requests < spec.min_sample => Some(Waiting::Sample {
            role,
            needed: spec.min_sample,
        }),
        _ => None,
    }
}

fn waiting_message(spec: &MetricSpec, waiting: Waiting, obs: &Observation) -> String {
    let name = &spec.name;
    match waiting {
        Waiting::Evidence => format!("{name} not judged yet"),
        Waiting::NoData { role } => match &obs.detail {
            Some(why) => format!("{name} not judged: no data for the {role} ({why})"),
            None => format!("{name} not judged: no data for the {role}"),
        },
        Waiting::Sample { role, needed } => {
            let (n, window) = obs
                .sample
                .map_or((0, Duration::ZERO), |s| (s.requests, s.window));
            format!(
                "{name} not judged: {} {} ({role}), fewer than the {} needed",
                requests(n),
                over_last(window),
                thousands(needed)
            )
        }
    }
}

/// ` over last 30s (canary, 2,413 requests; baseline 21,877 requests)`, or less when less is known.
fn context(m: &Measurement) -> String {
    let Some(window) = m.window else {
        return String::new();
    };
    let canary = match m.sample {
        Some(s) => format!("canary, {}", requests(s.requests)),
        None => "canary".to_owned(),
    };
    let baseline = match m.baseline_sample {
        Some(s) => format!("; baseline {}", requests(s.requests)),
        None => String::new(),
    };
    format!(" {} ({canary}{baseline})", over_last(window))
}
