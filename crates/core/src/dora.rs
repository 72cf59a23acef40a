//! The four DORA figures of each service and environment over a window, from plain facts of
//! bellwether's own history. Adapters gather the facts (rollouts replayed from the store, the
//! commit each deploy named); this module only counts, so every figure can be computed by hand.
//!
//! The rules:
//!
//! - A **rollout** begins with [`FactKind::Started`] (a deploy, a retry, an undo that rolls an
//!   older revision out again) and ends when it is promoted, aborted by a person, rolled back
//!   by bellwether, undone while in progress, or superseded by the next rollout of the service.
//!   Facts after the window's end are not known yet: figures are as of that end.
//! - A rollout counts in the window its **end** falls in (`start <= at <= end`).
//! - **Deployments** are the rollouts promoted; the **frequency** is deployments per day of
//!   the window.
//! - **Lead time** of a promoted rollout is from its version's commit to the promotion, for
//!   the first promotion of that version in its service and environment only (an undo back to
//!   it is no new change). A version with no known commit is left out and counted as excluded.
//! - A rollout **failed** when it was aborted, rolled back, undone while in progress, or
//!   promoted and then undone (the undo counts against the rollout that promoted the revision
//!   undone). The **change failure rate** is failed rollouts over rollouts that ended promoted
//!   or failed; superseded rollouts are neither.
//! - **Time to restore** of a failure runs from when it failed (the abort, rollback or undo)
//!   to when its service is next healthy. The environments of a service share its replicas,
//!   so healthy again is the service's. A failure not restored by the window's end is counted
//!   as unrestored, with how long it has been open.
//! - Durations are summarised by median and 90th percentile, by nearest rank: the smallest
//!   value with at least half (90%) of the values at or below it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::rollout::RevisionNumber;
use crate::spec::DoraTargets;
use crate::time::{Timestamp, human_duration};

const DAY_MS: u64 = 86_400_000;

/// One thing that happened to a service's rollouts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fact {
    pub service: String,
    pub at: Timestamp,
    pub kind: FactKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FactKind {
    /// A rollout of `revision` into `environment` began (`None`: the service names none).
    Started {
        environment: Option<String>,
        revision: RevisionNumber,
        version: String,
        /// When the version's commit was made, if the deploy named one.
        committed_at: Option<Timestamp>,
    },
    /// The rollout in progress made its revision stable.
    Promoted { revision: RevisionNumber },
    /// A person aborted the rollout in progress (`abort`, `rollback --all`).
    Aborted { revision: RevisionNumber },
    /// bellwether rolled the rollout in progress back (a failed analysis, a progress deadline).
    RolledBack { revision: RevisionNumber },
    /// `revision` was undone: the rollout of it in progress, or the one that promoted it.
    Undone { revision: RevisionNumber },
    /// The service became healthy: its stable revision serves everything, nothing in progress.
    Healthy,
}

/// The window the figures cover: `length` up to `end`, both given by the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub end: Timestamp,
    pub length: Duration,
}

impl Window {
    pub fn start(&self) -> Timestamp {
        let length = u64::try_from(self.length.as_millis()).unwrap_or(u64::MAX);
        Timestamp::from_millis(self.end.as_millis().saturating_sub(length))
    }

    fn contains(&self, at: Timestamp) -> bool {
        self.start() <= at && at <= self.end
    }
}

/// The figures of one service in one environment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub service: String,
    pub environment: Option<String>,
    pub deployment_frequency: DeploymentFrequency,
    pub lead_time: LeadTime,
    pub change_failure_rate: ChangeFailureRate,
    pub time_to_restore: TimeToRestore,
    /// How the figures compare with the project's targets, when it sets any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<TargetChecks>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeploymentFrequency {
    /// Rollouts promoted in the window.
    pub deployments: u64,
    /// The window's length in days.
    pub days: f64,
    /// `None` for an empty window.
    pub per_day: Option<f64>,
}

/// A median and a 90th percentile, in milliseconds; `None` without values.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spread {
    pub count: u64,
    pub median_ms: Option<u64>,
    pub p90_ms: Option<u64>,
}

impl Spread {
    fn of(mut values: Vec<u64>) -> Self {
        values.sort_unstable();
        Self {
            count: values.len() as u64,
            median_ms: nearest_rank(&values, 50),
            p90_ms: nearest_rank(&values, 90),
        }
    }
}

/// The smallest of the sorted `values` with at least `percent` of them at or below it.
fn nearest_rank(values: &[u64], percent: usize) -> Option<u64> {
    let rank = (values.len() * percent).div_ceil(100).max(1);
    values.get(rank - 1).copied()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadTime {
    #[serde(flatten)]
    pub spread: Spread,
    /// Promoted versions left out because no commit is known for them.
    pub excluded: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeFailureRate {
    /// Rollouts that ended promoted or failed in the window.
    pub rollouts: u64,
    pub failed: u64,
    pub aborted: u64,
    pub rolled_back: u64,
    pub undone: u64,
    /// Rollouts superseded by a newer one before they ended: neither success nor failure.
    pub superseded: u64,
    /// `failed / rollouts`; `None` without rollouts.
    pub rate: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeToRestore {
    /// Failures restored by the window's end.
    #[serde(flatten)]
    pub spread: Spread,
    /// Failures not restored by the window's end.
    pub unrestored: u64,
    /// How long the oldest unrestored failure has been open at the window's end.
    pub longest_open_ms: Option<u64>,
}

/// Each configured target with its verdict.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetChecks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_frequency: Option<TargetCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_time: Option<TargetCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_failure_rate: Option<TargetCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_restore: Option<TargetCheck>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetCheck {
    /// The target as written (`daily`, `2h`, `15%`).
    pub target: String,
    pub verdict: TargetVerdict,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetVerdict {
    Met,
    NotMet,
    /// Nothing to judge: no lead times, no rollouts, no failures.
    NotApplicable,
}

/// How a rollout ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Promoted,
    Aborted,
    RolledBack,
    Undone,
    Superseded,
}

/// One rollout as the facts tell it.
struct Rollout {
    environment: Option<String>,
    revision: RevisionNumber,
    version: String,
    committed_at: Option<Timestamp>,
    /// How and when it ended, with the position of the fact that ended it.
    end: Option<(End, Timestamp, usize)>,
    /// When the revision it promoted was undone, and the position of that fact.
    undone: Option<(Timestamp, usize)>,
}

impl Rollout {
    /// When and at which position it failed, if it did.
    fn failure(&self) -> Option<(Timestamp, usize)> {
        match self.end? {
            (End::Aborted | End::RolledBack | End::Undone, at, position) => Some((at, position)),
            (End::Promoted, ..) => self.undone,
            (End::Superseded, ..) => None,
        }
    }
}

/// The rollouts and healthy moments of one service, in order.
#[derive(Default)]
struct Service {
    rollouts: Vec<Rollout>,
    /// Positions and times of its `Healthy` facts.
    healthy: Vec<(usize, Timestamp)>,
}

impl Service {
    fn open(&mut self) -> Option<&mut Rollout> {
        self.rollouts.last_mut().filter(|r| r.end.is_none())
    }

    fn end_open(&mut self, revision: RevisionNumber, how: End, at: Timestamp, position: usize) {
        if let Some(rollout) = self.open().filter(|r| r.revision == revision) {
            rollout.end = Some((how, at, position));
        }
    }

    fn fold(&mut self, kind: &FactKind, at: Timestamp, position: usize) {
        match kind {
            FactKind::Started {
                environment,
                revision,
                version,
                committed_at,
            } => {
                if let Some(open) = self.open() {
                    open.end = Some((End::Superseded, at, position));
                }
                self.rollouts.push(Rollout {
                    environment: environment.clone(),
                    revision: *revision,
                    version: version.clone(),
                    committed_at: *committed_at,
                    end: None,
                    undone: None,
                });
            }
            FactKind::Promoted { revision } => {
                self.end_open(*revision, End::Promoted, at, position);
            }
            FactKind::Aborted { revision } => self.end_open(*revision, End::Aborted, at, position),
            FactKind::RolledBack { revision } => {
                self.end_open(*revision, End::RolledBack, at, position);
            }
            FactKind::Undone { revision } => {
                let latest = self
                    .rollouts
                    .iter_mut()
                    .rev()
                    .find(|r| r.revision == *revision);
                match latest {
                    Some(r) if r.end.is_none() => r.end = Some((End::Undone, at, position)),
                    Some(r) if matches!(r.end, Some((End::Promoted, ..))) && r.undone.is_none() => {
                        r.undone = Some((at, position));
                    }
                    _ => {}
                }
            }
            FactKind::Healthy => self.healthy.push((position, at)),
        }
    }

    /// When the service was next healthy after the fact at `position`, by `end`.
    fn healthy_after(&self, position: usize) -> Option<Timestamp> {
        self.healthy
            .iter()
            .find(|(p, _)| *p > position)
            .map(|(_, at)| *at)
    }
}

/// The figures of every service and environment with a rollout by the window's end, by
/// service then environment, judged against `targets` when any are set.
pub fn figures(facts: &[Fact], window: Window, targets: &DoraTargets) -> Vec<Figures> {
    let mut ordered: Vec<&Fact> = facts.iter().filter(|f| f.at <= window.end).collect();
    ordered.sort_by_key(|f| f.at);
    let mut services: BTreeMap<&str, Service> = BTreeMap::new();
    for (position, fact) in ordered.iter().enumerate() {
        services
            .entry(fact.service.as_str())
            .or_default()
            .fold(&fact.kind, fact.at, position);
    }
    let mut out = Vec::new();
    for (name, service) in &services {
        let mut environments: Vec<Option<String>> = service
            .rollouts
            .iter()
            .map(|r| r.environment.clone())
            .collect();
        environments.sort();
        environments.dedup();
        for environment in environments {
            let mut figures = group(name, service, environment, window);
            if !targets.is_empty() {
                figures.targets = Some(judge(&figures, targets, window));
            }
            out.push(figures);
        }
    }
    out
}

/// The figures of the rollouts of `service` into `environment`.
fn group(name: &str, service: &Service, environment: Option<String>, window: Window) -> Figures {
    let rollouts: Vec<&Rollout> = service
        .rollouts
        .iter()
        .filter(|r| r.environment == environment)
        .collect();
    let mut rate = ChangeFailureRate {
        rollouts: 0,
        failed: 0,
        aborted: 0,
        rolled_back: 0,
        undone: 0,
        superseded: 0,
        rate: None,
    };
    let mut deployments = 0;
    let mut lead_times = Vec::new();
    let mut excluded = 0;
    let mut restores = Vec::new();
    let mut unrestored = 0;
    let mut longest_open: Option<u64> = None;
    for (i, rollout) in rollouts.iter().enumerate() {
        let Some((how, ended_at, _)) = rollout.end else {
            continue;
        };
        if !window.contains(ended_at) {
            continue;
        }
        match how {
            End::Superseded => {
                rate.superseded += 1;
                continue;
            }
            End::Promoted => {
                deployments += 1;
                let first = !rollouts[..i].iter().any(|earlier| {
                    earlier.version == rollout.version
                        && matches!(earlier.end, Some((End::Promoted, ..)))
                });
                match rollout.committed_at {
                    Some(commit) if first => lead_times.push(ms(ended_at.since(commit))),
                    None if first => excluded += 1,
                    _ => {}
                }
                if rollout.undone.is_some() {
                    rate.undone += 1;
                }
            }
            End::Aborted => rate.aborted += 1,
            End::RolledBack => rate.rolled_back += 1,
            End::Undone => rate.undone += 1,
        }
        rate.rollouts += 1;
        let Some((failed_at, position)) = rollout.failure() else {
            continue;
        };
        rate.failed += 1;
        match service.healthy_after(position) {
            Some(healthy) => restores.push(ms(healthy.since(failed_at))),
            None => {
                unrestored += 1;
                let open = ms(window.end.since(failed_at));
                longest_open = Some(longest_open.map_or(open, |l| l.max(open)));
            }
        }
    }
    if rate.rollouts > 0 {
        rate.rate = Some(rate.failed as f64 / rate.rollouts as f64);
    }
    let window_ms = ms(window.length);
    let days = window_ms as f64 / DAY_MS as f64;
    Figures {
        service: name.to_owned(),
        environment,
        deployment_frequency: DeploymentFrequency {
            deployments,
            days,
            per_day: (window_ms > 0).then(|| deployments as f64 / days),
        },
        lead_time: LeadTime {
            spread: Spread::of(lead_times),
            excluded,
        },
        change_failure_rate: rate,
        time_to_restore: TimeToRestore {
            spread: Spread::of(restores),
            unrestored,
            longest_open_ms: longest_open,
        },
        targets: None,
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Each target against its figure: frequency by the window's average, lead time and time to
/// restore by their medians (and no failure left open longer than the target), the failure
/// rate as a share.
fn judge(figures: &Figures, targets: &DoraTargets, window: Window) -> TargetChecks {
    let verdict = |met: Option<bool>| match met {
        Some(true) => TargetVerdict::Met,
        Some(false) => TargetVerdict::NotMet,
        None => TargetVerdict::NotApplicable,
    };
    let deployment_frequency = targets.deployment_frequency.map(|f| {
        let have = u128::from(figures.deployment_frequency.deployments) * f.per.as_millis();
        let want = u128::from(f.deployments) * window.length.as_millis();
        TargetCheck {
            target: f.to_string(),
            verdict: verdict((!window.length.is_zero()).then_some(have >= want)),
        }
    });
    let lead_time = targets.lead_time.map(|t| TargetCheck {
        target: human_duration(t),
        verdict: verdict(figures.lead_time.spread.median_ms.map(|m| m <= ms(t))),
    });
    let change_failure_rate = targets.change_failure_rate.map(|bp| {
        let rate = &figures.change_failure_rate;
        TargetCheck {
            target: percent(bp),
            verdict: verdict((rate.rollouts > 0).then(|| {
                u128::from(rate.failed) * 10_000 <= u128::from(bp) * u128::from(rate.rollouts)
            })),
        }
    });
    let time_to_restore = targets.time_to_restore.map(|t| {
        let restore = &figures.time_to_restore;
        let open_too_long = restore.longest_open_ms.is_some_and(|open| open > ms(t));
        let met = match restore.spread.median_ms {
            _ if open_too_long => Some(false),
            Some(median) => Some(median <= ms(t)),
            None => None,
        };
        TargetCheck {
            target: human_duration(t),
            verdict: verdict(met),
        }
    });
    TargetChecks {
        deployment_frequency,
        lead_time,
        change_failure_rate,
        time_to_restore,
    }
}

/// Basis points as people write a percentage: `15%`, `2.5%`.
pub fn percent(basis_points: u32) -> String {
    let whole = basis_points / 100;
    match basis_points % 100 {
        0 => format!("{whole}%"),
        part if part % 10 == 0 => format!("{whole}.{}%", part / 10),
        part => format!("{whole}.{part:02}%"),
    }
}

#[cfg(test)]
mod tests;
