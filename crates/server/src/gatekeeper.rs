//! One gate for every deploy into an environment. A deploy names its environment (or goes to
//! the only one its service declares); an environment with protection rules (branches,
//! approvals, a wait timer) takes only deploys from this control plane's own pipelines, for a
//! run whose job has passed that environment's gate: the approvals are the run's, recorded
//! with who gave them. A deploy through the CLI or the API goes past no gate: it is refused
//! with the reason. Aborts and `rollback --all` are never gated.

use axum::http::StatusCode;
use bellwether_access::Identity;
use bellwether_api::DeployRequest;
use bellwether_core::spec::EnvironmentSpec;
use bellwether_store::RunHistory;

use crate::AppState;
use crate::error::Failure;

/// The name of the token the control plane's pipelines deploy with.
pub const PIPELINES: &str = "pipelines";

/// The environment `request` deploys `service` to, once it may.
pub(crate) async fn admit(
    state: &AppState,
    who: &Identity,
    service: &str,
    request: &DeployRequest,
) -> Result<Option<String>, Failure> {
    let declared = state.control.service_environments(service)?;
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
    let store = pipelines.store();
    let env = environment.clone();
    let passed = tokio::task::spawn_blocking(move || {
        let Some(row) = store.run(run)? else {
            return Ok(false);
        };
        let gates = store.gates(run, row.attempt)?;
        Ok::<_, bellwether_store::StoreError>(
            gates
                .iter()
                .any(|g| g.environment == env && g.state == "open"),
        )
    })
    .await
    .map_err(|_| {
        refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the gate check stopped".to_owned(),
        )
    })?
    .map_err(|e| {
        refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the run history cannot be read: {e}"),
        )
    })?;
    if !passed {
        return forbidden(format!(
            "run {run} has not passed the gate of environment `{environment}`"
        ));
    }
    Ok(Some(environment))
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
        parts.push(format!(
            "a {} wait timer",
            bellwether_core::time::human_duration(rules.wait)
        ));
    }
    if !rules.branches.is_empty() {
        parts.push(format!("branches {}", rules.branches.join(", ")));
    }
    parts.join(", ")
}
