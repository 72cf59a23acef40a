//! `bellwether get`'s view of a service, as text: where the rollout is and why, each
//! revision's weight and replicas, and each analysis with its latest measurements.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;

use bellwether_api::{AnalysisView, MeasurementView, RevisionRole, RevisionView, ServiceView};
use bellwether_core::rollout::{Phase, Revision, Verdict};
use bellwether_core::time::{Timestamp, human_duration};

use super::format::{ago, clock, table, thousands};

/// The whole view; `now` is only used for "updated 3s ago".
pub(crate) fn render(view: &ServiceView, now: Timestamp) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} ({})  {}", view.name, view.strategy, view.phase);
    let mut about = vec![("Reason", view.reason.clone())];
    // The reason usually names the step already (`step 2/4: pause 1m`).
    if let Some(step) = &view.step {
        let step = format!("{}/{}: {}", step.index + 1, step.total, step.description);
        if !view.reason.contains(&step) {
            about.push(("Step", step));
        }
    }
    if let Some(pending) = &view.routing_pending {
        about.push(("Not routed", format!("{pending} (trying again)")));
    }
    about.push(("Stable", revision(view.stable.as_ref())));
    if let Some(target) = &view.target {
        about.push(("Rolling to", target.to_string()));
    }
    if let Some(listen) = view.listen {
        let mut router = listen.to_string();
        if let Some(preview) = view.preview_listen {
            let _ = write!(router, " (preview {preview})");
        }
        about.push(("Router", router));
    }
    // A service nothing has happened to yet has no instant (zero).
    let updated = if view.updated_at == Timestamp::default() {
        "never".to_owned()
    } else {
        ago(now, view.updated_at)
    };
    about.push(("Updated", updated));
    for (label, value) in about {
        let _ = writeln!(out, "  {label:<11}{value}");
    }
    if !view.revisions.is_empty() {
        out.push('\n');
        out.push_str(&revisions(&view.revisions));
    }
    for analysis in &view.analyses {
        out.push('\n');
        out.push_str(&self::analysis(analysis));
    }
    out
}

fn revision(revision: Option<&Revision>) -> String {
    revision.map_or_else(|| "none".to_owned(), ToString::to_string)
}

fn revisions(revisions: &[RevisionView]) -> String {
    let rows: Vec<Vec<String>> = revisions
        .iter()
        .map(|r| {
            vec![
                r.number.to_string(),
                r.version.clone(),
                role(r.role).to_owned(),
                r.weight.to_string(),
                format!("{}/{}", r.ready, r.desired),
                replicas(r),
            ]
        })
        .collect();
    table(
        &["REVISION", "VERSION", "ROLE", "WEIGHT", "READY", "REPLICAS"],
        &rows,
    )
}

fn role(role: RevisionRole) -> &'static str {
    match role {
        RevisionRole::Stable => "stable",
        RevisionRole::Canary => "canary",
        RevisionRole::Preview => "preview",
        RevisionRole::Old => "old",
    }
}

/// `2 ready, 1 starting (3 restarts)`.
fn replicas(revision: &RevisionView) -> String {
    let mut phases: BTreeMap<&str, usize> = BTreeMap::new();
    for replica in &revision.replicas {
        *phases.entry(replica.phase.as_str()).or_default() += 1;
    }
    let counts: Vec<String> = phases.iter().map(|(p, n)| format!("{n} {p}")).collect();
    let mut text = if counts.is_empty() {
        "-".to_owned()
    } else {
        counts.join(", ")
    };
    let restarts: u32 = revision.replicas.iter().map(|r| r.restarts).sum();
    if restarts > 0 {
        let s = if restarts == 1 { "" } else { "s" };
        let _ = write!(text, " ({restarts} restart{s})");
    }
    text
}

fn analysis(analysis: &AnalysisView) -> String {
    let mut out = String::new();
    let against = analysis
        .baseline
        .map(|b| format!(" against revision {b}"))
        .unwrap_or_default();
    let state = analysis.verdict.map_or("no verdict yet", verdict);
    let _ = writeln!(
        out,
        "{} of revision {}{against}: {state}",
        capitalised(&analysis.run),
        analysis.revision
    );
    if !analysis.message.is_empty() {
        let _ = writeln!(out, "  {}", analysis.message);
    }
    let mut seen = HashSet::new();
    let latest: Vec<&MeasurementView> = analysis
        .measurements
        .iter()
        .filter(|m| seen.insert(m.metric.as_str()))
        .collect();
    if latest.is_empty() {
        return out;
    }
    let rows: Vec<Vec<String>> = latest.iter().map(|m| measurement(m)).collect();
    for line in table(
        &[
            "METRIC",
            "VALUE",
            "BASELINE",
            "CONDITION",
            "VERDICT",
            "SAMPLE",
            "WINDOW",
            "AT",
        ],
        &rows,
    )
    .lines()
    {
        let _ = writeln!(out, "  {line}");
    }
    let unsaid = |m: &&&MeasurementView| !analysis.message.contains(&m.message);
    for m in latest
        .iter()
        .filter(|m| m.verdict != Verdict::Successful)
        .filter(unsaid)
    {
        let _ = writeln!(out, "  {} {}", mark(m.verdict), m.message);
    }
    let older = analysis.measurements.len() - latest.len();
    if older > 0 {
        let s = if older == 1 { "" } else { "s" };
        let _ = writeln!(
            out,
            "  ({older} earlier measurement{s} not shown; -o json has all)"
        );
    }
    out
}

fn measurement(m: &MeasurementView) -> Vec<String> {
    let dash = || "-".to_owned();
    let mut verdict = verdict(m.verdict).to_owned();
    if m.dry_run {
        verdict.push_str(" (dry run)");
    }
    vec![
        m.metric.clone(),
        m.value.clone().unwrap_or_else(dash),
        m.baseline.clone().unwrap_or_else(dash),
        m.condition.clone(),
        verdict,
        m.sample.map_or_else(dash, thousands),
        m.window_ms.map_or_else(dash, window),
        clock(m.at),
    ]
}

/// Windows are shown to the second (`30s`), shorter ones to the millisecond.
fn window(ms: u64) -> String {
    let ms = if ms >= 1000 {
        (ms + 500) / 1000 * 1000
    } else {
        ms
    };
    human_duration(std::time::Duration::from_millis(ms))
}

fn verdict(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Successful => "successful",
        Verdict::Failed => "failed",
        Verdict::Inconclusive => "inconclusive",
        Verdict::Error => "error",
    }
}

fn mark(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Successful => "✓",
        Verdict::Failed | Verdict::Error => "✗",
        Verdict::Inconclusive => "?",
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// One line for a stream of events: `12:03:04Z #7 analysis_completed Degraded: notes`.
pub(crate) fn event_line(event: &bellwether_api::EventView) -> String {
    let mut line = format!(
        "{} {} #{} {} {}",
        clock(event.at),
        event.service,
        event.seq,
        event.kind,
        event.phase
    );
    if !event.notes.is_empty() {
        let _ = write!(line, ": {}", event.notes.join("; "));
    }
    line
}

/// Whether `status` can stop waiting, and how it ends.
pub(crate) fn settled(view: &ServiceView) -> Option<Phase> {
    match view.phase {
        Phase::Healthy | Phase::Degraded => Some(view.phase),
        Phase::Paused if waits_for_human(view) => Some(Phase::Paused),
        Phase::Paused | Phase::Progressing => None,
    }
}

/// A timed pause goes on by itself; every other pause needs someone.
fn waits_for_human(view: &ServiceView) -> bool {
    !matches!(
        view.stage,
        bellwether_core::rollout::Stage::CanaryPause { until: Some(_) }
    )
}

#[cfg(test)]
mod tests;
