//! One measurement: ask the provider about the canary (and the baseline, when a condition
//! compares with it); the run judges the answers.

use std::sync::Arc;

use bellwether_core::spec::MetricSpec;
use bellwether_core::time::Timestamp;
use tokio::time::Instant;

use crate::providers::{MetricProvider, Target};
use crate::run::Observed;
use crate::value::Role;

/// The engine's clock: tokio's instants as [`Timestamp`]s counted from the run's start.
#[derive(Clone, Copy, Debug)]
pub(super) struct Clock {
    pub(super) origin: Instant,
    pub(super) started_at: Timestamp,
}

impl Clock {
    pub(super) fn now(self) -> Timestamp {
        self.started_at.after(Instant::now() - self.origin)
    }

    pub(super) fn instant(self, at: Timestamp) -> Instant {
        self.origin + at.since(self.started_at)
    }
}

/// Asks the provider about the canary, and about the baseline too when `with_baseline`; the
/// run judges the answers.
pub(super) async fn measure(
    providers: Arc<dyn MetricProvider>,
    spec: Arc<MetricSpec>,
    with_baseline: bool,
    canary: Arc<Target>,
    baseline: Option<Arc<Target>>,
) -> Observed {
    let failed = |role, error: String| Observed::Failed { role, error };
    if !with_baseline {
        return match providers.measure(&spec.provider, &canary).await {
            Ok(canary) => Observed::Answered {
                canary,
                baseline: None,
            },
            Err(e) => failed(Role::Canary, e.to_string()),
        };
    }
    let Some(baseline) = baseline else {
        let why =
            "its condition compares with the baseline, and this rollout has no baseline revision";
        return failed(Role::Baseline, why.to_owned());
    };
    let (c, b) = tokio::join!(
        providers.measure(&spec.provider, &canary),
        providers.measure(&spec.provider, &baseline)
    );
    match (c, b) {
        (Ok(canary), Ok(baseline)) => Observed::Answered {
            canary,
            baseline: Some(baseline),
        },
        (Err(e), _) => failed(Role::Canary, e.to_string()),
        (_, Err(e)) => failed(Role::Baseline, e.to_string()),
    }
}
