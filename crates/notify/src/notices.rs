//! What is worth telling people, from the control plane's stream of rollout events and from
//! the runs of its pipelines.

use std::collections::BTreeMap;

use bellwether_api::{EventView, ServiceView};
use bellwether_core::notify::Notice;
use bellwether_core::rollout::{Phase, Stage};
use bellwether_core::spec::NoticeKind;

/// Turns rollout events into notices; remembers each service's phase to tell a change.
#[derive(Debug, Default)]
pub struct RolloutNotices {
    phases: BTreeMap<String, Phase>,
    /// The dashboard's address, for links.
    base: Option<String>,
}

impl RolloutNotices {
    pub fn new(base: Option<String>) -> Self {
        Self {
            phases: BTreeMap::new(),
            base,
        }
    }

    /// The notices `event` makes: a rollout started, each step entered, a pause for a person,
    /// a promotion, an abort (with its reason and the analysis' numbers). `view` is the service
    /// after the event; `environments` those it is deployed to.
    pub fn notices(
        &mut self,
        event: &EventView,
        view: Option<&ServiceView>,
        environments: &[String],
    ) -> Vec<Notice> {
        let before = self.phases.insert(event.service.clone(), event.phase);
        let changed = before != Some(event.phase);
        let version = view
            .and_then(|v| v.target.as_ref().or(v.stable.as_ref()))
            .map(|r| r.version.clone());
        let step = view
            .and_then(|v| v.step.as_ref())
            .map(|s| format!("step {}/{}: {}", s.index + 1, s.total, s.description));
        let notice = |kind: NoticeKind, suffix: &str, message: String| Notice {
            id: format!("{}/{}/{suffix}", event.service, event.seq),
            kind,
            at_ms: event.at.as_millis(),
            service: Some(event.service.clone()),
            pipeline: None,
            run: None,
            environments: environments.to_vec(),
            version: version.clone(),
            step: step.clone(),
            message,
            link: self
                .base
                .as_ref()
                .map(|b| format!("{b}/#/services/{}", event.service)),
        };
        let mut out = Vec::new();
        let started = event.kind == "spec_changed"
            && event
                .notes
                .iter()
                .any(|n| n.contains("started") || n.starts_with("first deployment"));
        if started {
            out.push(notice(
                NoticeKind::RolloutStarted,
                "started",
                event.notes.join("; "),
            ));
        }
        for (i, note) in event.notes.iter().enumerate() {
            if note.starts_with("step ") && note.contains(": ") && !note.ends_with("completed") {
                out.push(notice(NoticeKind::Step, &format!("step{i}"), note.clone()));
            }
        }
        // A timed pause goes on by itself; only a wait for a person is worth a notice.
        let timed = view.is_some_and(|v| matches!(v.stage, Stage::CanaryPause { until: Some(_) }));
        if changed && event.phase == Phase::Paused && !timed {
            let reason = view.map_or_else(|| event.notes.join("; "), |v| v.reason.clone());
            out.push(notice(NoticeKind::Paused, "paused", reason));
        }
        if event.notes.iter().any(|n| n.contains("promoted to stable"))
            && event.phase == Phase::Healthy
        {
            out.push(notice(
                NoticeKind::Promoted,
                "promoted",
                event.notes.join("; "),
            ));
        }
        if changed && event.phase == Phase::Degraded {
            out.push(notice(
                NoticeKind::Aborted,
                "aborted",
                event.notes.join("; "),
            ));
        }
        out
    }
}

/// A run's notice: `kind` is started, succeeded, failed, or an approval needed in
/// `environments`.
pub fn run_notice(
    kind: NoticeKind,
    run: u64,
    pipeline: &str,
    at_ms: u64,
    environments: Vec<String>,
    message: String,
    base: Option<&str>,
) -> Notice {
    let suffix = match kind {
        NoticeKind::ApprovalNeeded => format!("approval/{}", environments.join("+")),
        other => other.name().to_owned(),
    };
    Notice {
        id: format!("run/{run}/{suffix}"),
        kind,
        at_ms,
        service: None,
        pipeline: Some(pipeline.to_owned()),
        run: Some(run),
        environments,
        version: None,
        step: None,
        message,
        link: base.map(|b| format!("{b}/#/runs/{run}")),
    }
}
