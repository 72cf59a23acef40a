//! One interval of the judge: every wanted metric measured for the canary and the baseline, the
//! metrics concurrently, so that a slow query holds back no other metric's point.

use std::sync::Arc;

use bellwether_core::spec::MetricSpec;
use tokio::task::JoinSet;

use crate::providers::{MetricProvider, Target};
use crate::run::Sampled;
use crate::value::Role;

/// Samples `metrics` (index into the judge's plan, spec) and returns them by index, in order.
pub(super) async fn sample(
    providers: Arc<dyn MetricProvider>,
    metrics: Vec<(usize, MetricSpec)>,
    canary: Arc<Target>,
    baseline: Option<Arc<Target>>,
) -> Vec<(usize, Sampled)> {
    let Some(baseline) = baseline else {
        let error = "the judge compares the canary with the baseline, and this rollout has no baseline revision";
        return metrics
            .into_iter()
            .map(|(i, _)| {
                let role = Role::Baseline;
                let error = error.to_owned();
                (i, Sampled::Failed { role, error })
            })
            .collect();
    };
    let mut tasks = JoinSet::new();
    for (i, spec) in &metrics {
        let (i, spec) = (*i, spec.clone());
        let (providers, canary, baseline) = (
            Arc::clone(&providers),
            Arc::clone(&canary),
            Arc::clone(&baseline),
        );
        tasks.spawn(async move {
            let (c, b) = tokio::join!(
                providers.measure(&spec.provider, &canary),
                providers.measure(&spec.provider, &baseline)
            );
            let sampled = match (c, b) {
                (Ok(canary), Ok(baseline)) => Sampled::Observed { canary, baseline },
                (Err(e), _) => Sampled::Failed {
                    role: Role::Canary,
                    error: e.to_string(),
                },
                (_, Err(e)) => Sampled::Failed {
                    role: Role::Baseline,
                    error: e.to_string(),
                },
            };
            (i, sampled)
        });
    }
    let mut out: Vec<(usize, Sampled)> = Vec::with_capacity(metrics.len());
    while let Some(done) = tasks.join_next().await {
        // A sampling task only ends without a sample if a provider panicked; the metric's other
        // samples are unaffected, and it has no point this interval, as after any error.
        if let Ok(sample) = done {
            out.push(sample);
        }
    }
    for (i, _) in &metrics {
        if !out.iter().any(|(j, _)| j == i) {
            let error = "the provider panicked".to_owned();
            out.push((
                *i,
                Sampled::Failed {
                    role: Role::Canary,
                    error,
                },
            ));
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out
}
