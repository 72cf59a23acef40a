//! From metric classifications to a score: per group, the share of metrics with data that
//! passed; overall, the weighted mean of the groups with data; critical regressions fail.

use std::collections::BTreeSet;

use bellwether_core::rollout::Verdict;

use super::{Classification, GroupScore, JudgeConfig, Judgement, MetricJudgement};

pub(super) fn summarise(config: &JudgeConfig, metrics: Vec<MetricJudgement>) -> Judgement {
    let names: BTreeSet<&str> = metrics.iter().map(|m| m.group.as_str()).collect();
    let listed: f64 = names
        .iter()
        .filter_map(|g| config.group_weights.get(*g))
        .sum();
    let unlisted = names
        .iter()
        .filter(|g| !config.group_weights.contains_key(**g))
        .count();
    // Like Kayenta, groups without a weight share what the listed weights leave of 100.
    let share = if unlisted > 0 {
        ((100.0 - listed) / unlisted as f64).max(0.0)
    } else {
        0.0
    };
    let groups: Vec<GroupScore> = names
        .iter()
        .map(|g| {
            let with_data: Vec<&MetricJudgement> = metrics
                .iter()
                .filter(|m| m.group == *g && m.classification != Classification::NoData)
                .collect();
            let passed = with_data
                .iter()
                .filter(|m| {
                    matches!(
                        m.classification,
                        Classification::Pass | Classification::Undecided
                    )
                })
                .count();
            GroupScore {
                group: (*g).to_owned(),
                weight: config.group_weights.get(*g).copied().unwrap_or(share),
                score: (!with_data.is_empty())
                    .then(|| passed as f64 * 100.0 / with_data.len() as f64),
            }
        })
        .collect();
    // Unlike Kayenta, a group without data does not count as zero: its weight is spread over the
    // groups that have data, and the message says that it had none.
    let scored: Vec<(f64, f64)> = groups
        .iter()
        .filter_map(|g| g.score.map(|s| (s, g.weight)))
        .collect();
    let total: f64 = scored.iter().map(|(_, w)| w).sum();
    let score = match scored.len() {
        0 => None,
        _ if total > 0.0 => Some(scored.iter().map(|(s, w)| s * w).sum::<f64>() / total),
        n => Some(scored.iter().map(|(s, _)| s).sum::<f64>() / n as f64),
    };
    let regressions: Vec<&MetricJudgement> = metrics
        .iter()
        .filter(|m| matches!(m.classification, Classification::High | Classification::Low))
        .collect();
    let critical: Vec<&&MetricJudgement> = regressions.iter().filter(|m| m.critical).collect();
    let critical_missing = metrics
        .iter()
        .any(|m| m.critical && m.classification == Classification::NoData);
    let why = |ms: &[&MetricJudgement]| {
        ms.iter()
            .map(|m| m.message.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let (verdict, message) = match score {
        _ if !critical.is_empty() => {
            let ms: Vec<&MetricJudgement> = critical.iter().map(|m| **m).collect();
            (
                Verdict::Failed,
                format!("critical metric regressed: {}", why(&ms)),
            )
        }
        None => (
            Verdict::Inconclusive,
            "no metric had data on the canary and the baseline".to_owned(),
        ),
        Some(s) => {
            let head = format!("score {s:.0}");
            let (verdict, label) = if s >= config.pass_score && !critical_missing {
                (Verdict::Successful, "pass")
            } else if s >= config.marginal_score {
                (Verdict::Inconclusive, "marginal")
            } else {
                (Verdict::Failed, "fail")
            };
            let mut message = format!(
                "{head} ({label}; pass at {:.0}, marginal at {:.0})",
                config.pass_score, config.marginal_score
            );
            if !regressions.is_empty() {
                message.push_str(&format!(": {}", why(&regressions)));
            }
            if critical_missing {
                message.push_str("; a critical metric has no data");
            }
            (verdict, message)
        }
    };
    let score = if critical.is_empty() {
        score
    } else {
        Some(0.0)
    };
    Judgement {
        score,
        verdict,
        message,
        metrics,
        groups,
    }
}
