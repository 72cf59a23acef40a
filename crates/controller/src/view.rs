//! The views `get`, `list` and `revisions` answer with, read from a service's shared state and
//! what the platform runs.

use std::collections::BTreeSet;

use bellwether_api::{
    AnalysisView, ReplicaView, RevisionRecord, RevisionRole, RevisionView, ServiceSummary,
    ServiceView, StepView,
};
use bellwether_core::platform::ServiceState;
use bellwether_core::rollout::{RevisionNumber, Rollout, Stage, describe_step};
use bellwether_core::spec::Strategy;
use bellwether_core::time::Timestamp;

use crate::analyses;
use crate::replicas;
use crate::shared::Shared;

pub(crate) fn service(shared: &Shared, platform: &ServiceState) -> ServiceView {
    let rollout = &shared.rollout;
    ServiceView {
        name: shared.spec.name.clone(),
        phase: rollout.phase(),
        reason: rollout.reason.clone(),
        strategy: shared.spec.strategy.kind().to_owned(),
        stage: rollout.stage.clone(),
        step: step(rollout),
        steps: steps(rollout.strategy().unwrap_or(&shared.spec.strategy)),
        stable: rollout.stable.clone(),
        target: rollout.target.clone(),
        listen: Some(shared.listen),
        preview_listen: shared.preview_listen,
        revisions: revisions(shared, platform),
        analyses: analyses(shared),
        routing_pending: shared.routing_pending.clone(),
        updated_at: rollout.now,
    }
}

pub(crate) fn summary(shared: &Shared, platform: &ServiceState) -> ServiceSummary {
    let rollout = &shared.rollout;
    let revisions = revisions(shared, platform);
    ServiceSummary {
        ready: revisions.iter().map(|r| r.ready).sum(),
        desired: revisions.iter().map(|r| r.desired).sum(),
        name: shared.spec.name.clone(),
        phase: rollout.phase(),
        strategy: shared.spec.strategy.kind().to_owned(),
        stable: rollout.stable.clone(),
        target: rollout.target.clone(),
        target_weight: rollout.target_weight(),
        step: step(rollout),
        reason: rollout.reason.clone(),
        listen: Some(shared.listen),
    }
}

pub(crate) fn revision_records(shared: &Shared) -> Vec<RevisionRecord> {
    let stable = shared.rollout.stable.as_ref().map(|s| s.number);
    shared
        .revisions
        .iter()
        .map(|r| RevisionRecord {
            number: r.number,
            version: r.version.clone(),
            created_at: Timestamp::from_millis(r.created_at_ms),
            stable: Some(r.number) == stable,
        })
        .collect()
}

/// The canary step in progress, if the rollout is at one.
fn step(rollout: &Rollout) -> Option<StepView> {
    let Some(Strategy::Canary(canary)) = rollout.strategy() else {
        return None;
    };
    let at_step = matches!(
        rollout.stage,
        Stage::CanaryScale { .. } | Stage::CanaryPause { .. } | Stage::CanaryAnalysis { .. }
    );
    let step = canary.steps.get(rollout.step).filter(|_| at_step)?;
    Some(StepView {
        index: rollout.step,
        total: canary.steps.len(),
        description: describe_step(step),
    })
}

/// A canary strategy's steps, described.
fn steps(strategy: &Strategy) -> Vec<String> {
    match strategy {
        Strategy::Canary(canary) => canary.steps.iter().map(describe_step).collect(),
        _ => Vec::new(),
    }
}

/// Every revision that runs, is wanted or is routed to, in order.
fn revisions(shared: &Shared, platform: &ServiceState) -> Vec<RevisionView> {
    let rollout = &shared.rollout;
    let known = [&rollout.stable, &rollout.target, &rollout.previous];
    let numbers: BTreeSet<RevisionNumber> = known
        .into_iter()
        .flatten()
        .map(|r| r.number)
        .chain(rollout.scales.keys().copied())
        .chain(rollout.traffic.weights.iter().map(|(r, _)| *r))
        .chain(platform.keys().copied())
        .collect();
    numbers
        .into_iter()
        .map(|number| {
            let state = platform.get(&number);
            let desired = rollout.scale_of(number);
            let version = known
                .iter()
                .filter_map(|r| r.as_ref())
                .find(|r| r.number == number)
                .map(|r| r.version.as_str())
                .or_else(|| shared.version_of(number))
                .unwrap_or_default()
                .to_owned();
            RevisionView {
                number,
                version,
                role: role(rollout, number),
                weight: rollout.traffic.weight_of(number),
                desired,
                ready: replicas::readiness(state, desired).0,
                replicas: state
                    .into_iter()
                    .flat_map(|s| &s.replicas)
                    .map(|r| ReplicaView {
                        index: r.index,
                        addr: r.addr,
                        pid: r.pid,
                        phase: replicas::phase_name(r.phase).to_owned(),
                        restarts: r.restarts,
                    })
                    .collect(),
            }
        })
        .collect()
}

fn role(rollout: &Rollout, number: RevisionNumber) -> RevisionRole {
    let is = |r: &Option<bellwether_core::rollout::Revision>| {
        r.as_ref().is_some_and(|r| r.number == number)
    };
    if is(&rollout.stable) {
        RevisionRole::Stable
    } else if is(&rollout.target) && rollout.traffic.preview == Some(number) {
        RevisionRole::Preview
    } else if is(&rollout.target) {
        RevisionRole::Canary
    } else {
        RevisionRole::Old
    }
}

/// Runs in progress first, then the finished runs of the latest attempt, newest first.
fn analyses(shared: &Shared) -> Vec<AnalysisView> {
    let live = shared.runs.iter().map(|live| {
        let snapshot = live.handle.snapshot();
        let message = analyses::progress(&snapshot);
        analyses::view(
            live.run,
            live.revision,
            live.baseline,
            None,
            message,
            &snapshot,
        )
    });
    let finished = shared.finished.iter().rev().map(|f| f.view.clone());
    live.chain(finished).collect()
}
