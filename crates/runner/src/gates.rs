//! Environment gates of a running driver: each waits, as a task of its own, until its
//! environment's rules pass (enough approvals read from a [`Reviews`] source, the wait timer
//! over), one reviewer rejects, or it has waited longer than the run allows.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bellwether_core::error::chain;
use bellwether_core::spec::EnvironmentSpec;
use bellwether_core::time::human_duration;
use bellwether_pipeline_core::gate::{self, Review, Verdict};
use bellwether_pipeline_core::run::{Event, InstanceId};
use bellwether_store::StoreError;
use tokio::time::Instant;

use crate::observer::Observer;

/// Where reviews of a run's gates come from: locally the data directory's store, which
/// `bellwether approve` and `reject` write to from another terminal.
pub trait Reviews: Send + Sync {
    /// Every review of `environment` in this run so far, oldest first.
    fn reviews(&self, environment: &str) -> Result<Vec<Review>, StoreError>;
}

/// How a run's gates are answered.
#[derive(Clone)]
pub struct Gates {
    /// Environments whose rules the person starting the run waives for it (`--approve`).
    pub waived: Vec<String>,
    /// Who triggered the run: their own approval counts only where the environment allows it.
    pub actor: String,
    /// Without a source, a gate that needs approvals is refused at once.
    pub reviews: Option<Arc<dyn Reviews>>,
    /// How people answer, for the note a waiting gate prints: `bellwether approve 7`.
    pub approve_with: Option<String>,
    /// A gate still waiting this long after it was reached is refused.
    pub timeout: Option<Duration>,
    /// How often reviews are read while a gate waits.
    pub poll: Duration,
}

impl Default for Gates {
    fn default() -> Self {
        Gates {
            waived: Vec::new(),
            actor: String::new(),
            reviews: None,
            approve_with: None,
            timeout: None,
            poll: Duration::from_millis(500),
        }
    }
}

impl Gates {
    pub(crate) fn waiter(&self, instance: InstanceId, environment: EnvironmentSpec) -> Waiter {
        Waiter {
            instance,
            environment,
            gates: self.clone(),
        }
    }
}

/// One instance's gate.
pub(crate) struct Waiter {
    instance: InstanceId,
    environment: EnvironmentSpec,
    gates: Gates,
}

impl Waiter {
    /// Waits for the verdict and returns it as the event the run is told.
    pub(crate) async fn wait(self, observer: &dyn Observer) -> Event {
        let Waiter {
            instance,
            environment,
            gates,
        } = self;
        let name = environment.name.clone();
        let rules = gate::describe(&environment, &gates.actor);
        if gates.waived.contains(&name) {
            return Event::GateOpened {
                instance,
                note: format!(
                    "environment `{name}`: its rules ({rules}) waived for this run by {} with --approve {name}",
                    gates.actor
                ),
            };
        }
        if gates.reviews.is_none() && environment.approvals > 0 {
            return Event::GateRefused {
                instance,
                reason: format!(
                    "environment `{name}` needs {rules} (waive them for this local run with --approve {name})"
                ),
            };
        }
        let how = gates
            .approve_with
            .as_ref()
            .filter(|_| environment.approvals > 0)
            .map(|cmd| {
                let reject = cmd.replacen("approve", "reject", 1);
                format!("; answer with `{cmd} --env {name}` or `{reject} --env {name}`")
            })
            .unwrap_or_default();
        observer.note(
            Some(instance),
            &format!("waiting for environment `{name}`: {rules}{how}"),
        );
        let started = Instant::now();
        let mut seen = BTreeSet::new();
        let mut failing = false;
        loop {
            let reviews = match read(gates.reviews.clone(), &name).await {
                Ok(r) => {
                    failing = false;
                    r
                }
                Err(e) => {
                    // Said once per outage, not at every poll.
                    if !std::mem::replace(&mut failing, true) {
                        observer.note(Some(instance), &format!("cannot read the reviews: {e}"));
                    }
                    Vec::new()
                }
            };
            for review in &reviews {
                if seen.insert(review.by.clone()) {
                    observer.note(Some(instance), &describe(review, &environment, &gates));
                }
            }
            let waited = started.elapsed();
            let timer = match gate::judge(&environment, &gates.actor, waited, &reviews) {
                Verdict::Open(note) => return Event::GateOpened { instance, note },
                Verdict::Refused(reason) => return Event::GateRefused { instance, reason },
                Verdict::Waiting { timer, .. } => timer,
            };
            let mut nap = gates.poll;
            if environment.approvals == 0 || gates.reviews.is_none() {
                nap = timer;
            } else if !timer.is_zero() {
                nap = nap.min(timer);
            }
            if let Some(limit) = gates.timeout {
                if waited >= limit {
                    return Event::GateRefused {
                        instance,
                        reason: format!(
                            "environment `{name}`: no decision within {} (it needs {rules})",
                            human_duration(limit)
                        ),
                    };
                }
                nap = nap.min(limit - waited);
            }
            tokio::time::sleep(nap).await;
        }
    }
}

/// The reviews so far; `Err` says why they cannot be read, for the run's log.
async fn read(source: Option<Arc<dyn Reviews>>, environment: &str) -> Result<Vec<Review>, String> {
    let Some(source) = source else {
        return Ok(Vec::new());
    };
    let environment = environment.to_owned();
    match tokio::task::spawn_blocking(move || source.reviews(&environment)).await {
        Ok(read) => read.map_err(|e| chain(&e)),
        Err(e) => Err(chain(&e)),
    }
}

/// A new review, as the run's log tells it.
fn describe(review: &Review, environment: &EnvironmentSpec, gates: &Gates) -> String {
    let comment = review
        .comment
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .map(|c| format!(": \"{}\"", c.trim()))
        .unwrap_or_default();
    let name = &environment.name;
    if !review.approved {
        format!("{} rejected environment `{name}`{comment}", review.by)
    } else if gate::counts(environment, &gates.actor, &review.by) {
        format!("{} approved environment `{name}`{comment}", review.by)
    } else {
        format!(
            "{} approved environment `{name}`{comment}, which does not count: they triggered the run",
            review.by
        )
    }
}
