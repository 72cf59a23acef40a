//! The control plane's notifications: rollout events and pipeline runs become notices, and the
//! notifier delivers each to the targets of `notifications:` that want it.

use std::sync::{Arc, Mutex, PoisonError};

use bellwether_api::EventView;
use bellwether_controller::ControlPlane;
use bellwether_core::notify::Notice;
use bellwether_core::spec::NoticeKind;
use bellwether_notify::{Notifier, RolloutNotices, run_notice};
use bellwether_triggers::{RunChange, RunEvent, RunListener};

/// Notices of rollouts and runs, handed to the notifier off the async threads (the outbox is
/// written to the store before anything is sent).
#[derive(Clone)]
pub(crate) struct Notices {
    notifier: Notifier,
    rollouts: Arc<Mutex<RolloutNotices>>,
    base: String,
}

impl Notices {
    pub(crate) fn new(notifier: Notifier, base: String) -> Self {
        Self {
            notifier,
            rollouts: Arc::new(Mutex::new(RolloutNotices::new(Some(base.clone())))),
            base,
        }
    }

    pub(crate) fn rollout(&self, control: &ControlPlane, event: &EventView) {
        let view = control.get(&event.service).ok();
        let environments = control
            .service_environments(&event.service)
            .unwrap_or_default();
        let notices = self
            .rollouts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .notices(event, view.as_ref(), &environments);
        self.send(notices);
    }

    fn send(&self, notices: Vec<Notice>) {
        if notices.is_empty() {
            return;
        }
        let notifier = self.notifier.clone();
        tokio::task::spawn_blocking(move || {
            for notice in &notices {
                if let Err(e) = notifier.send(notice) {
                    tracing::warn!(notice = %notice.id, "cannot queue a notification: {:#}", anyhow::Error::from(e));
                }
            }
        });
    }
}

impl RunListener for Notices {
    fn changed(&self, event: RunEvent) {
        let (kind, environments, message) = match event.change {
            RunChange::Started => (
                NoticeKind::RunStarted,
                Vec::new(),
                format!(
                    "run {} started: {} by {}",
                    event.number, event.summary, event.actor
                ),
            ),
            RunChange::Waiting { environment } => (
                NoticeKind::ApprovalNeeded,
                vec![environment.clone()],
                format!(
                    "run {} waits for approval to go to {environment} (`bellwether approve {}`)",
                    event.number, event.number
                ),
            ),
            RunChange::Finished {
                conclusion,
                message,
            } => (
                if conclusion == "success" {
                    NoticeKind::RunSucceeded
                } else {
                    NoticeKind::RunFailed
                },
                Vec::new(),
                format!("run {} ended: {message}", event.number),
            ),
        };
        let notice = run_notice(
            kind,
            event.number,
            &event.pipeline,
            bellwether_runner::now_ms(),
            environments,
            message,
            Some(&self.base),
        );
        self.send(vec![notice]);
    }
}
