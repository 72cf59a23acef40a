//! Reviews of a run's gates through the control plane: the rules of the environment as the
//! run's project file declares it, applied by [`bellwether_runner::review`].

use bellwether_core::spec::{APPROVAL_ENVIRONMENT, EnvironmentSpec};
use bellwether_runner::untrusted::approval_environment;
use bellwether_runner::{Replay, ReviewOrder, ReviewRefused, Reviewed};
use bellwether_store::RunRow;

use crate::Pipelines;

impl Pipelines {
    /// Records `order`, an identity's answer to the gates of a run.
    pub async fn review(&self, order: ReviewOrder) -> Result<Vec<Reviewed>, ReviewRefused> {
        let store = self.store();
        tokio::task::spawn_blocking(move || {
            bellwether_runner::review(store.as_ref(), &order, environment_spec)
        })
        .await
        .unwrap_or(Err(ReviewRefused::Interrupted))
    }
}

/// The environment's rules as the run's project file declares them now, when it can be read.
pub fn environment_spec(run: &RunRow, environment: &str) -> Option<EnvironmentSpec> {
    let replay: Replay = serde_json::from_value(run.trigger.clone()).ok()?;
    let source = std::fs::read_to_string(&replay.file).ok()?;
    let loaded = bellwether_config::load_with(&replay.file.display().to_string(), &source, &|p| {
        std::fs::read_to_string(p)
    })
    .ok()?;
    if environment == APPROVAL_ENVIRONMENT {
        return Some(approval_environment(&loaded.project.trust));
    }
    loaded.project.environments.get(environment).cloned()
}
