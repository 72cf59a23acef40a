//! One measurement: ask the provider about the canary (and the baseline, when a condition
//! compares with it), then judge.

use std::sync::Arc;

use bellwether_core::spec::MetricSpec;
use bellwether_core::time::Timestamp;
use tokio::time::Instant;

use crate::condition::Conditions;
use crate::measurement::Measurement;
use crate::providers::{MetricProvider, Target};
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

pub(super) async fn measure(
    providers: Arc<dyn MetricProvider>,
    spec: MetricSpec,
    conditions: Arc<Conditions>,
    canary: Target,
    baseline: Option<Target>,
    clock: Clock,
) -> Measurement {
    if !conditions.needs_baseline() {
        return match providers.measure(&spec.provider, &canary).await {
            Ok(c) => Measurement::assess(&spec, &conditions, clock.now(), c, None),
            Err(e) => Measurement::failed(&spec, clock.now(), Role::Canary, &e.to_string()),
        };
    }
    let Some(baseline) = baseline else {
        let why =
            "its condition compares with the baseline, and this rollout has no baseline revision";
        return Measurement::failed(&spec, clock.now(), Role::Baseline, why);
    };
    let (c, b) = tokio::join!(
        providers.measure(&spec.provider, &canary),
        providers.measure(&spec.provider, &baseline)
    );
    match (c, b) {
        (Ok(c), Ok(b)) => Measurement::assess(&spec, &conditions, clock.now(), c, Some(b)),
        (Err(e), _) => Measurement::failed(&spec, clock.now(), Role::Canary, &e.to_string()),
        (_, Err(e)) => Measurement::failed(&spec, clock.now(), Role::Baseline, &e.to_string()),
    }
}
