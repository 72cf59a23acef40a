//! `dora: {targets: …}`: each target checked where it is written.

use bellwether_core::spec::{DoraTargets, Frequency, Weight};

use super::scalars::{Zero, duration};
use crate::diagnostic::Sink;
use crate::model::DoraConfig;

pub(super) fn lower(config: &DoraConfig, sink: &mut Sink<'_>) -> DoraTargets {
    let Some(targets) = &config.targets else {
        return DoraTargets::default();
    };
    let t = &targets.value;
    let deployment_frequency = t.deployment_frequency.as_ref().and_then(|f| {
        let parsed = Frequency::parse(&f.value);
        if parsed.is_none() {
            sink.error(
                f.pos,
                format!(
                    "deploymentFrequency `{}` is not a frequency (expected hourly, daily, weekly, monthly, or a count per period like 3/day or 2/week)",
                    f.value
                ),
            );
        }
        parsed
    });
    DoraTargets {
        deployment_frequency,
        lead_time: t
            .lead_time
            .as_ref()
            .and_then(|d| duration(d, "leadTime", Zero::Rejected, sink)),
        change_failure_rate: t.change_failure_rate.as_ref().and_then(|p| {
            let share = Weight::from_percent_f64(p.value.0).ok();
            if share.is_none() {
                sink.error(
                    p.pos,
                    format!(
                        "changeFailureRate {} is not a share of rollouts (expected 0–100% with at most two decimals, e.g. 15%)",
                        p.value
                    ),
                );
            }
            share.map(|w| u32::from(w.basis_points()))
        }),
        time_to_restore: t
            .time_to_restore
            .as_ref()
            .and_then(|d| duration(d, "timeToRestore", Zero::Rejected, sink)),
    }
}
