//! One gate for every deploy into an environment. A deploy names its environment (or goes to
//! the only one its service declares); an environment with protection rules (branches,
//! approvals, a wait timer) takes only deploys from this control plane's own pipelines, for a
//! run whose job has passed that environment's gate: the approvals are the run's, recorded
//! with who gave them. A deploy through the CLI or the API goes past no gate: it is refused
//! with the reason. An environment that requires a soak takes a version only once it has been
//! the stable version of a service in the other environment for long enough, with no rollback
//! since, whoever deploys. Aborts and `rollback --all` are never gated.

use std::time::Duration;

use axum::http::StatusCode;
use bellwether_access::Identity;
use bellwether_api::{DeployRequest, HistoryEntry};
use bellwether_core::rollout::{Phase, RevisionNumber};
use bellwether_core::spec::{EnvironmentSpec, Soak};
use bellwether_core::time::{Timestamp, human_duration};

use crate::AppState;
use crate::error::Failure;

/// The name of the token the control plane's pipelines deploy with.
pub const PIPELINES: &str = "pipelines";

/// Refuses an identity scoped to environments acting on `service` unless every environment
/// the service is deployed to is within its scope (a service of none is within none).
pub(crate) fn within_scope(state: &AppState, who: &Identity, service: &str) -> Result<(), Failure> {
    if who.environments.is_empty() {
        return Ok(());
    }
    in_scope(who, service, &state.control.service_environments(service)?)
}

fn in_scope(who: &Identity, service: &str, declared: &[String]) -> Result<(), Failure> {
    if who.may_act_in(declared) {
        return Ok(());
    }
    let places = if declared.is_empty() {
        "no environment".to_owned()
    } else {
        declared.join(", ")
    };
    Err(Failure {
        status: StatusCode::FORBIDDEN,
        message: format!(
            "`{}` may act in {} only, and service `{service}` is deployed to {places}",
            who.name,
            who.environments.join(", ")
        ),
    })
}

/// The environment `request` deploys `service` to, once it may.
pub(crate) async fn admit(
    state: &AppState,
    who: &Identity,
    service: &str,
    request: &DeployRequest,
) -> Result<Option<String>, Failure> {
    let declared = state.control.service_environments(service)?;
    in_scope(who, service, &declared)?;
    let refuse = |status, message: String| Failure { status, message };
    let environment = match (&request.environment, declared.as_slice()) {
        (Some(e), list) if list.is_empty() || list.contains(e) => e.clone(),
        (Some(e), list) => {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                format!(
                    "service `{service}` is deployed to {}, not `{e}`",
                    list.join(", ")
                ),
            ));
        }
        (None, [only]) => only.clone(),
        (None, []) => return Ok(None),
        (None, list) => {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                format!(
                    "service `{service}` is deployed to {}: name the environment",
                    list.join(", ")
                ),
            ));
        }
    };
    let Some(rules) = state.control.environment(&environment) else {
        return Ok(Some(environment));
    };
    if let Some(soak) = &rules.soak {
        soaked(state, &environment, soak, request.version.trim())?;
    }
    if !protected(&rules) {
        return Ok(Some(environment));
    }
    let forbidden = |message: String| Err(refuse(StatusCode::FORBIDDEN, message));
    let Some(run) = request.run else {
        return forbidden(format!(
            "environment `{environment}` is protected ({}): deploy to it from a pipeline job with `environment: {environment}` on this control plane, whose gate records the approvals",
            rules_text(&rules)
        ));
    };
    if who.name != PIPELINES {
        return forbidden(format!(
            "only this control plane's pipelines deploy to `{environment}` with a run's approval, not {}",
            who.name
        ));
    }
    let Some(pipelines) = state.pipelines.clone() else {
        return forbidden(format!("run {run} is not a run of this control plane"));
    };
    // The run's history is written behind its driver: a job that has just passed its gate may
    // deploy before the gate's row says so. A gate still waiting is read again, briefly.
    let deadline = tokio::time::Instant::now() + GATE_SETTLE;
    let passed = loop {
        match gate_state(&pipelines, run, &environment).await? {
            Some(state) if state == "waiting" && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            state => break state.as_deref() == Some("open"),
        }
    };
    if !passed {
        return forbidden(format!(
            "run {run} has not passed the gate of environment `{environment}`"
        ));
    }
    Ok(Some(environment))
}

/// Lets an undo through: back to an earlier revision always (it is how people recover), but
/// forward to a revision newer than the stable one only as a deploy of its version would be:
/// past every soak of the service's environments, and into none that is protected, since an
/// undo carries no run's approval.
pub(crate) fn admit_undo(
    state: &AppState,
    who: &Identity,
    service: &str,
    to: Option<RevisionNumber>,
) -> Result<(), Failure> {
    within_scope(state, who, service)?;
    let Some(to) = to else {
        return Ok(());
    };
    let stable = state.control.get(service)?.stable;
    if stable.as_ref().is_some_and(|s| to <= s.number) {
        return Ok(());
    }
    let Some(revision) = state
        .control
        .revisions(service)?
        .into_iter()
        .find(|r| r.number == to)
    else {
        // The controller says which revisions there are.
        return Ok(());
    };
    let newer = stable.map_or("no stable revision yet".to_owned(), |s| {
        format!("newer than the stable revision {}", s.number)
    });
    for environment in state.control.service_environments(service)? {
        let Some(rules) = state.control.environment(&environment) else {
            continue;
        };
        if let Some(soak) = &rules.soak {
            soaked(state, &environment, soak, &revision.version).map_err(|f| Failure {
                message: format!(
                    "undo to revision {to} ({newer}) deploys version {} into `{environment}`: {}",
                    revision.version, f.message
                ),
                ..f
            })?;
        }
        if protected(&rules) {
            return Err(Failure {
                status: StatusCode::FORBIDDEN,
                message: format!(
                    "undo to revision {to} ({newer}) deploys version {} into `{environment}`, which is protected ({}): deploy it from a pipeline job with `environment: {environment}`",
                    revision.version,
                    rules_text(&rules)
                ),
            });
        }
    }
    Ok(())
}

/// Refuses unless `version` has been stable in the soak's environment for its duration: the
/// stable version of a service deployed there, since it last became healthy, with no rollback
/// since. The longest such soak counts.
fn soaked(state: &AppState, target: &str, soak: &Soak, version: &str) -> Result<(), Failure> {
    let now = Timestamp::from_millis(bellwether_runner::now_ms());
    let mut longest: Option<Duration> = None;
    for service in state.control.list() {
        let in_soak = state
            .control
            .service_environments(&service.name)
            .is_ok_and(|envs| envs.contains(&soak.environment));
        let stable = state.control.get(&service.name).ok().and_then(|v| v.stable);
        if !in_soak || stable.is_none_or(|r| r.version != version) {
            continue;
        }
        let Ok(history) = state.control.history(&service.name) else {
            continue;
        };
        if let Some(since) = healthy_since(&history) {
            let held = now.since(since);
            longest = Some(longest.map_or(held, |l| l.max(held)));
        }
    }
    let need = human_duration(soak.duration);
    let message = match longest {
        Some(held) if held >= soak.duration => return Ok(()),
        Some(held) => format!(
            "version {version} has been stable in `{}` for {} of the {need} `{target}` requires ({} to go)",
            soak.environment,
            human_duration(held),
            human_duration(soak.duration.saturating_sub(held))
        ),
        None => format!(
            "version {version} is not the stable version of any service in `{}`, and `{target}` requires {need} there first",
            soak.environment
        ),
    };
    Err(Failure {
        status: StatusCode::FORBIDDEN,
        message,
    })
}

/// When the service last became healthy, if it is healthy or rolling out now and no rollout
/// was rolled back since.
fn healthy_since(history: &[HistoryEntry]) -> Option<Timestamp> {
    let mut since = None;
    let mut previous = None;
    for e in history {
        match e.phase {
            Phase::Degraded => since = None,
            Phase::Healthy if previous != Some(Phase::Healthy) => since = Some(e.at),
            _ => {}
        }
        previous = Some(e.phase);
    }
    since
}

/// How long a deploy waits for the history to record that its run's gate opened.
const GATE_SETTLE: Duration = Duration::from_secs(10);

/// The state of run `run`'s gate for `environment` in its current attempt, if it reached one.
async fn gate_state(
    pipelines: &bellwether_triggers::Pipelines,
    run: u64,
    environment: &str,
) -> Result<Option<String>, Failure> {
    let store = pipelines.store();
    let environment = environment.to_owned();
    let internal = |message: String| Failure {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message,
    };
    tokio::task::spawn_blocking(move || {
        let Some(row) = store.run(run)? else {
            return Ok(None);
        };
        let gates = store.gates(run, row.attempt)?;
        Ok::<_, bellwether_store::StoreError>(
            gates
                .into_iter()
                .filter(|g| g.environment == environment)
                .map(|g| g.state)
                .max_by_key(|state| state == "open"),
        )
    })
    .await
    .map_err(|_| internal("the gate check stopped".to_owned()))?
    .map_err(|e| Failure::of(StatusCode::INTERNAL_SERVER_ERROR, &e))
}

fn protected(rules: &EnvironmentSpec) -> bool {
    rules.approvals > 0 || !rules.wait.is_zero() || !rules.branches.is_empty()
}

/// `2 approvals, a 5m wait timer, branches main`.
fn rules_text(rules: &EnvironmentSpec) -> String {
    let mut parts = Vec::new();
    if rules.approvals > 0 {
        let plural = if rules.approvals == 1 { "" } else { "s" };
        parts.push(format!("{} approval{plural}", rules.approvals));
    }
    if !rules.wait.is_zero() {
        parts.push(format!("a {} wait timer", human_duration(rules.wait)));
    }
    if !rules.branches.is_empty() {
        parts.push(format!("branches {}", rules.branches.join(", ")));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(phases: &[(u64, Phase)]) -> Vec<HistoryEntry> {
        phases
            .iter()
            .enumerate()
            .map(|(i, &(at, phase))| HistoryEntry {
                seq: i as u64 + 1,
                at: Timestamp::from_millis(at),
                kind: "tick".to_owned(),
                notes: Vec::new(),
                phase,
                weights: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn a_soak_runs_from_the_last_time_healthy_and_a_rollback_ends_it() {
        use Phase::*;
        type Case = (&'static str, Vec<(u64, Phase)>, Option<u64>);
        let cases: [Case; 5] = [
            ("never deployed", vec![], None),
            (
                "healthy at once",
                vec![(10, Healthy), (20, Healthy)],
                Some(10),
            ),
            (
                "a canary promoted",
                vec![
                    (10, Healthy),
                    (20, Progressing),
                    (30, Paused),
                    (40, Healthy),
                ],
                Some(40),
            ),
            (
                "a canary under way keeps the soak of the stable version",
                vec![(10, Healthy), (20, Progressing)],
                Some(10),
            ),
            (
                "a rollback since ends it",
                vec![(10, Healthy), (20, Progressing), (30, Degraded)],
                None,
            ),
        ];
        for (name, phases, since) in cases {
            assert_eq!(
                healthy_since(&history(&phases)),
                since.map(Timestamp::from_millis),
                "{name}"
            );
        }
    }
}
