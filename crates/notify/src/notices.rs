//! What is worth telling people, from the control plane's stream of rollout events and from
//! the runs of its pipelines.

use std::collections::BTreeMap;

use bellwether_api::{EventView, ServiceView};
use bellwether_core::notify::Notice;
use bellwether_core::rollout::{EMERGENCY_ROLLBACK, Phase, Stage};
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
            let emergency = event.notes.iter().any(|n| n.contains(EMERGENCY_ROLLBACK));
            let kind = if emergency {
                NoticeKind::EmergencyRollback
            } else {
                NoticeKind::Aborted
            };
            out.push(notice(kind, "aborted", event.notes.join("; ")));
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

#[cfg(test)]
mod tests {
    use bellwether_api::StepView;
    use bellwether_core::rollout::{Revision, Stage};
    use bellwether_core::time::Timestamp;

    use super::*;

    fn event(seq: u64, kind: &str, phase: Phase, notes: &[&str]) -> EventView {
        EventView {
            service: "shop".to_owned(),
            seq,
            at: Timestamp::from_millis(1_000 * seq),
            kind: kind.to_owned(),
            notes: notes.iter().map(|n| (*n).to_owned()).collect(),
            phase,
            weights: Vec::new(),
        }
    }

    fn view(phase: Phase, stage: Stage, step: Option<(usize, &str)>) -> ServiceView {
        ServiceView {
            name: "shop".to_owned(),
            phase,
            reason: "step 2/2: pause until promoted".to_owned(),
            strategy: "canary".to_owned(),
            stage,
            step: step.map(|(index, d)| StepView {
                index,
                total: 2,
                description: d.to_owned(),
            }),
            steps: Vec::new(),
            stable: Some(Revision {
                number: 1,
                version: "v1".to_owned(),
            }),
            target: Some(Revision {
                number: 2,
                version: "v2".to_owned(),
            }),
            listen: None,
            preview_listen: None,
            revisions: Vec::new(),
            analyses: Vec::new(),
            routing_pending: None,
            updated_at: Timestamp::from_millis(0),
        }
    }

    fn kinds(notices: &[Notice]) -> Vec<NoticeKind> {
        notices.iter().map(|n| n.kind).collect()
    }

    #[test]
    fn a_rollout_tells_its_start_steps_waits_for_people_and_end() {
        use NoticeKind::*;
        let mut notices = RolloutNotices::new(Some("http://127.0.0.1:7070".to_owned()));
        let envs = ["production".to_owned()];
        let progressing = view(Phase::Progressing, Stage::Idle, Some((0, "set weight 50%")));
        let started = notices.notices(
            &event(
                3,
                "spec_changed",
                Phase::Progressing,
                &[
                    "canary rollout of revision 2 (v2) started",
                    "step 1: set weight 50%",
                ],
            ),
            Some(&progressing),
            &envs,
        );
        assert_eq!(kinds(&started), [RolloutStarted, Step]);
        assert_eq!(started[0].version.as_deref(), Some("v2"));
        assert_eq!(started[0].environments, envs);
        assert_eq!(
            started[0].link.as_deref(),
            Some("http://127.0.0.1:7070/#/services/shop")
        );
        assert_eq!(started[1].step.as_deref(), Some("step 1/2: set weight 50%"));

        let timed = view(
            Phase::Paused,
            Stage::CanaryPause {
                until: Some(Timestamp::from_millis(9_000)),
            },
            Some((1, "pause 5s")),
        );
        let pause = notices.notices(
            &event(
                4,
                "replicas_ready",
                Phase::Paused,
                &["step 1 completed", "step 2: pause 5s"],
            ),
            Some(&timed),
            &envs,
        );
        assert_eq!(kinds(&pause), [Step], "a timed pause waits for nobody");

        let mut person = view(
            Phase::Paused,
            Stage::CanaryPause { until: None },
            Some((1, "pause until promoted")),
        );
        notices.notices(&event(5, "tick", Phase::Progressing, &[]), None, &envs);
        let waiting = notices.notices(
            &event(6, "tick", Phase::Paused, &["step 2: pause until promoted"]),
            Some(&person),
            &envs,
        );
        assert_eq!(kinds(&waiting), [Step, Paused]);
        assert_eq!(waiting[1].message, "step 2/2: pause until promoted");
        person.phase = Phase::Healthy;
        let promoted = notices.notices(
            &event(
                7,
                "command",
                Phase::Healthy,
                &["step 2 completed", "revision 2 (v2) promoted to stable"],
            ),
            Some(&person),
            &envs,
        );
        assert_eq!(kinds(&promoted), [Promoted]);

        let aborted = notices.notices(
            &event(
                8,
                "analysis_completed",
                Phase::Degraded,
                &["aborted: error_rate 4.8% > 1%"],
            ),
            None,
            &envs,
        );
        assert_eq!(kinds(&aborted), [Aborted]);
        assert!(aborted[0].message.contains("4.8% > 1%"));
        notices.notices(
            &event(9, "spec_changed", Phase::Progressing, &[]),
            None,
            &envs,
        );
        let emergency = notices.notices(
            &event(
                10,
                "command",
                Phase::Degraded,
                &["aborted: emergency rollback by ops: database down"],
            ),
            None,
            &envs,
        );
        assert_eq!(kinds(&emergency), [EmergencyRollback]);
        assert_ne!(emergency[0].id, aborted[0].id, "each notice has its own id");
    }
}
