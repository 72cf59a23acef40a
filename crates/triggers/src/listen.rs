//! Who hears of the control plane's runs as they go: started, waiting at a gate, finished.
//! `bellwether up` turns these into notifications.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use bellwether_core::time::Timestamp;
use bellwether_pipeline_core::run::{InstanceId, InstanceStatus, Run};
use bellwether_runner::Observer;

/// What happened to a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunChange {
    Started,
    /// A job waits for the approval of `environment`.
    Waiting {
        environment: String,
    },
    /// `conclusion` is `success`, `failure` or `cancelled`; `message` says how it ended.
    Finished {
        conclusion: String,
        message: String,
    },
}

/// One change of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunEvent {
    pub number: u64,
    pub pipeline: String,
    pub actor: String,
    pub summary: String,
    pub change: RunChange,
}

pub trait RunListener: Send + Sync {
    fn changed(&self, event: RunEvent);
}

/// The observer of one run that tells `listener` of each gate it comes to, once.
pub(crate) struct Gates {
    pub(crate) listener: Arc<dyn RunListener>,
    pub(crate) template: RunEvent,
    pub(crate) told: Mutex<BTreeSet<String>>,
}

impl Observer for Gates {
    fn update(&self, run: &Run, _: Timestamp) {
        let mut told = self.told.lock().unwrap_or_else(PoisonError::into_inner);
        for job in run.jobs() {
            for instance in &job.instances {
                let (InstanceStatus::Gated, Some(environment)) =
                    (&instance.status, &instance.environment)
                else {
                    continue;
                };
                if told.insert(environment.clone()) {
                    self.listener.changed(RunEvent {
                        change: RunChange::Waiting {
                            environment: environment.clone(),
                        },
                        ..self.template.clone()
                    });
                }
            }
        }
    }

    fn line(&self, _: InstanceId, _: &[u8]) {}

    fn note(&self, _: Option<InstanceId>, _: &str) {}
}
