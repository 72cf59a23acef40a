//! The judge's verdict for people: the score against the thresholds, then every metric that
//! regressed with its numbers, then every metric that had no data and why, e.g.
//! `judge score 42/100 < 75: error_rate regressed (canary mean 2.1% vs baseline 0%, p = 0.0003)`.
//! A judge that failed before its last interval says after how many, and that the metrics not
//! judged yet were counted as passing.

use bellwether_core::rollout::Verdict;
use bellwether_core::spec::Unit;
use bellwether_core::time::human_duration;

use super::{JudgePlan, JudgedSeries};
use crate::judge::{Classification, Judgement, MetricJudgement, p_text};
use crate::value::requests;

pub(super) fn explain(
    plan: &JudgePlan,
    series: &[JudgedSeries],
    j: &Judgement,
    early: Option<u32>,
) -> String {
    let c = &plan.config;
    let (pass, marginal) = (
        Unit::Plain.format(c.pass_score),
        Unit::Plain.format(c.marginal_score),
    );
    let regressed: Vec<&MetricJudgement> = j
        .metrics
        .iter()
        .filter(|m| matches!(m.classification, Classification::High | Classification::Low))
        .collect();
    let critical = regressed.iter().any(|m| m.critical);
    let after = |n: u32| format!("after {n} of {} intervals", plan.count);
    let head = match (j.verdict, j.score.map(shown), early) {
        (Verdict::Failed, _, Some(n)) if critical => {
            format!("judge failed on a critical metric {}", after(n))
        }
        (Verdict::Failed, Some(s), Some(n)) => format!(
            "judge score {s}/100 < {marginal} {}, even counting the metrics not judged yet as passing",
            after(n)
        ),
        (Verdict::Failed, _, _) if critical => "judge failed on a critical metric".to_owned(),
        (Verdict::Failed, Some(s), _) => format!("judge score {s}/100 < {marginal}"),
        (Verdict::Inconclusive, Some(s), _) if j.score.is_some_and(|s| s >= c.pass_score) => {
            format!("judge score {s}/100, but a critical metric has no data")
        }
        (Verdict::Inconclusive, Some(s), _) => {
            format!("judge score {s}/100 < {pass}, marginal (at least {marginal})")
        }
        (Verdict::Inconclusive, None, _) => {
            "judge inconclusive: no metric had data on both the canary and the baseline".to_owned()
        }
        (Verdict::Successful, Some(s), _) => format!(
            "judge score {s}/100 >= {pass} over {} intervals of {}",
            plan.count,
            human_duration(plan.interval)
        ),
        // The judge gives no other combination; its own message still explains one.
        _ => return j.message.clone(),
    };
    let unit = |name: &str| {
        c.metrics
            .iter()
            .find(|m| m.name == name)
            .map_or(Unit::Plain, |m| m.unit)
    };
    let mut parts: Vec<String> = regressed
        .iter()
        .map(|m| regression(m, unit(&m.metric)))
        .collect();
    parts.extend(
        j.metrics
            .iter()
            .filter(|m| m.classification == Classification::NoData)
            .map(|m| no_data(m, plan, series)),
    );
    if parts.is_empty() {
        head
    } else {
        format!("{head}: {}", parts.join("; "))
    }
}

/// `error_rate regressed (canary mean 2.1% vs baseline 0%, p = 0.0003, critical)`, or judged on
/// its evidence `error_rate regressed (4.1% vs 0.5% (95% CIs …; …), critical)`.
fn regression(m: &MetricJudgement, unit: Unit) -> String {
    let critical = if m.critical { ", critical" } else { "" };
    if let Some(e) = &m.evidence {
        return format!("{} regressed ({}{critical})", m.metric, e.statement(unit));
    }
    let canary = m
        .canary_mean
        .map_or("no data".to_owned(), |v| unit.format(v));
    let mut detail = match m.baseline_mean {
        Some(b) => vec![format!(
            "canary mean {canary} vs baseline {}",
            unit.format(b)
        )],
        None => vec![format!("canary mean {canary}, no baseline data")],
    };
    detail.extend(m.p_value.map(p_text));
    format!("{} regressed ({}{critical})", m.metric, detail.join(", "))
}

/// `error_rate had no canary data (no data or fewer than 50 requests in 12 of 12 intervals)`:
/// gaps are intervals without data, or with fewer requests than the metric's minimum sample.
fn no_data(m: &MetricJudgement, plan: &JudgePlan, series: &[JudgedSeries]) -> String {
    if m.evidence.is_some() {
        let critical = if m.critical { " (critical)" } else { "" };
        return format!("{}{critical}", m.message);
    }
    let s = series.iter().find(|s| s.metric == m.metric);
    let (role, points) = if m.canary_points == 0 {
        ("canary", s.map(|s| &s.canary))
    } else {
        ("baseline", s.map(|s| &s.baseline))
    };
    let total = points.map_or(0, Vec::len);
    let gaps = points.map_or(0, |p| p.iter().filter(|p| p.is_none()).count());
    let critical = if m.critical { ", critical" } else { "" };
    let min_sample = plan
        .metrics
        .iter()
        .find(|spec| spec.name == m.metric)
        .map_or(0, |spec| spec.min_sample);
    format!(
        "{} had no {role} data (no data or fewer than {} in {gaps} of {total} intervals{critical})",
        m.metric,
        requests(min_sample)
    )
}

/// A score as shown: rounded down to a tenth, so that it never reads as reaching a threshold
/// it missed.
fn shown(score: f64) -> String {
    Unit::Plain.format((score * 10.0).floor() / 10.0)
}
