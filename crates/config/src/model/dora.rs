//! `dora:`: what the DORA figures of `bellwether dora` are measured against.

use schemars::JsonSchema;
use serde::Deserialize;

use super::alias::Alias;
use crate::span::Spanned;
use crate::values::{DurationValue, Percent};

/// DORA metrics of the control plane's own history (`bellwether dora`).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DoraConfig {
    /// The figures aimed for, each shown beside the measured one as met or not met.
    pub targets: Option<Spanned<DoraTargetsConfig>>,
}

/// Targets of the four DORA figures; each is optional.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(transform = Alias { name: "deploymentFrequency", alias: "deployment_frequency" })]
#[schemars(transform = Alias { name: "leadTime", alias: "lead_time" })]
#[schemars(transform = Alias { name: "changeFailureRate", alias: "change_failure_rate" })]
#[schemars(transform = Alias { name: "timeToRestore", alias: "time_to_restore" })]
pub struct DoraTargetsConfig {
    /// At least this many promoted rollouts: `hourly`, `daily`, `weekly`, `monthly` (30 days),
    /// or a count per period, e.g. `3/day`, `2/week`.
    #[serde(alias = "deployment_frequency")]
    pub deployment_frequency: Option<Spanned<String>>,
    /// A median lead time for changes (a version's commit to its promotion) at most this long,
    /// e.g. `2h`.
    #[serde(alias = "lead_time")]
    pub lead_time: Option<Spanned<DurationValue>>,
    /// At most this share of rollouts failed (aborted, rolled back or undone), e.g. `15%`.
    #[serde(alias = "change_failure_rate")]
    pub change_failure_rate: Option<Spanned<Percent>>,
    /// A median time from a failure to healthy again at most this long, and no failure left
    /// unrestored longer, e.g. `15m`.
    #[serde(alias = "time_to_restore")]
    pub time_to_restore: Option<Spanned<DurationValue>>,
}
