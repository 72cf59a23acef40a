//! What the demo prints as it goes: each act's heading, then every note of every event the
//! control plane stores for the service, timed from the start of the demo.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use bellwether_api::{EventView, ServiceView};
use bellwether_controller::ControlPlane;
use bellwether_core::rollout::Phase;
use bellwether_core::time::Timestamp;
use tokio::sync::broadcast::{self, error::RecvError};

use super::acts::{Act, Expect, SERVICE};

/// How often the demo looks at the service besides the events, in case it missed some.
const LOOK: Duration = Duration::from_millis(250);

pub(super) struct Timeline {
    started: Instant,
    /// With `--json` the timeline goes to stderr, so stdout is the summary alone.
    to_stderr: bool,
}

/// How a release ended.
pub(super) struct Outcome {
    pub(super) view: ServiceView,
    /// When the rollout aborted and the canary's share went to zero.
    pub(super) aborted_at: Option<Timestamp>,
}

impl Outcome {
    pub(super) fn expected(&self, expect: Expect) -> bool {
        match expect {
            Expect::Promoted => self.view.phase == Phase::Healthy,
            Expect::RolledBack => self.view.phase == Phase::Degraded,
        }
    }
}

impl Timeline {
    pub(super) fn new(started: Instant, to_stderr: bool) -> Self {
        Self { started, to_stderr }
    }

    pub(super) fn say(&self, line: &str) {
        let line = format!("{:>6.1}s  {line}\n", self.started.elapsed().as_secs_f64());
        // A closed stdout (`| head`) must not stop the demo half way.
        let _ = if self.to_stderr {
            std::io::stderr().write_all(line.as_bytes())
        } else {
            std::io::stdout().write_all(line.as_bytes())
        };
    }

    pub(super) fn act(&self, act: &Act) {
        self.say(&format!(
            "== {} ({}): {}",
            act.version,
            act.strategy.name(),
            act.story
        ));
    }

    /// Prints the service's events until its rollout of `act` ends, promoted or aborted.
    pub(super) async fn follow(
        &self,
        plane: &ControlPlane,
        events: &mut broadcast::Receiver<EventView>,
        act: &Act,
        limit: Duration,
    ) -> anyhow::Result<Outcome> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut aborted_at = None;
        loop {
            match tokio::time::timeout(LOOK, events.recv()).await {
                Ok(Ok(event)) if event.service == SERVICE => {
                    for note in &event.notes {
                        if note.starts_with("aborted") {
                            aborted_at.get_or_insert(event.at);
                        }
                        self.say(&format!("   {note}"));
                    }
                }
                Ok(Ok(_)) | Err(_) => {}
                Ok(Err(RecvError::Lagged(missed))) => {
                    self.say(&format!(
                        "   ({missed} events not shown: the demo fell behind)"
                    ));
                }
                Ok(Err(RecvError::Closed)) => bail!("the control plane stopped"),
            }
            let view = plane.get(SERVICE)?;
            if let Some(outcome) = ended(view, act, aborted_at) {
                return Ok(outcome);
            }
            if tokio::time::Instant::now() >= deadline {
                let view = plane.get(SERVICE)?;
                return Err(anyhow!(
                    "still {:?} after {}s: {}",
                    view.phase,
                    limit.as_secs(),
                    view.reason
                ));
            }
        }
    }
}

fn ended(view: ServiceView, act: &Act, aborted_at: Option<Timestamp>) -> Option<Outcome> {
    let done = match view.phase {
        Phase::Healthy => view
            .stable
            .as_ref()
            .is_some_and(|stable| stable.version == act.version),
        Phase::Degraded => true,
        Phase::Progressing | Phase::Paused => false,
    };
    done.then_some(Outcome { view, aborted_at })
}
