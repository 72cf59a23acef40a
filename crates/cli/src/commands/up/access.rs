//! The control plane's tokens at start: the admin token the commands beside it read, the
//! pipelines' own token, and the audit of the rollouts' automatic decisions.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use bellwether_access::{AccessError, Entry, Outcome, Role, Secret};
use bellwether_api::EventView;
use bellwether_controller::ControlPlane;
use bellwether_core::rollout::Phase;
use bellwether_server::Access;

use crate::commands::credentials::{ADMIN_TOKEN_FILE, write_private};

/// Opens the tokens and the audit trail of `control`, serving at `addr` and `also` (and
/// answering to the host `names`), and makes sure `data_dir` holds a working admin token.
pub(crate) fn open(
    control: &ControlPlane,
    addr: SocketAddr,
    also: Option<SocketAddr>,
    names: Vec<String>,
    data_dir: &Path,
) -> anyhow::Result<(Arc<Access>, PathBuf)> {
    let mut access = Access::open(control.store(), addr, names)
        .context("cannot read the control plane's tokens and audit trail")?;
    if let Some(also) = also {
        access.answer_at(also.port());
    }
    let file = admin_token(&access, data_dir)?;
    Ok((Arc::new(access), file))
}

/// The admin token in `data_dir/admin.token`: kept while it still works, else made anew
/// (for the user who starts the control plane) and written only its owner may read.
fn admin_token(access: &Access, data_dir: &Path) -> anyhow::Result<PathBuf> {
    let file = data_dir.join(ADMIN_TOKEN_FILE);
    let now = bellwether_runner::now_ms();
    if let Ok(text) = std::fs::read_to_string(&file)
        && access
            .tokens()
            .authenticate(text.trim(), now)
            .is_ok_and(|who| who.role == Role::Admin)
    {
        return Ok(file);
    }
    let user = std::env::var("USER")
        .ok()
        .filter(|u| {
            !u.is_empty()
                && u.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
        .unwrap_or_else(|| "local".to_owned());
    let secret = fresh(access, &format!("admin@{user}"), Role::Admin)?;
    write_private(&file, format!("{}\n", secret.expose()).as_bytes())?;
    Ok(file)
}

/// A new token named `name`, revoking the one of that name before it: the pipelines' token is
/// made at each start and kept only in memory. Both are in the audit trail, as done by the
/// control plane at its start.
pub(crate) fn fresh(access: &Access, name: &str, role: Role) -> anyhow::Result<Secret> {
    let now = bellwether_runner::now_ms();
    let audit = |action: &str| {
        let entry = Entry {
            at_ms: now,
            actor: "bellwether".to_owned(),
            role: None,
            action: action.to_owned(),
            target: Some(name.to_owned()),
            environment: None,
            outcome: Outcome::Done,
            status: None,
            reason: Some(format!("`bellwether up` starting ({role})")),
            source: None,
        };
        access
            .audit()
            .append(entry)
            .map(drop)
            .context("cannot write the audit trail")
    };
    match access.tokens().revoke(name, now) {
        Ok(_) => audit("token revoke")?,
        Err(AccessError::UnknownToken(_)) => {}
        Err(e) => return Err(e).context("cannot renew a token"),
    }
    let (secret, _) = access
        .tokens()
        .create(name, role, None, now)
        .with_context(|| format!("cannot make the token `{name}`"))?;
    audit("token create")?;
    Ok(secret)
}

/// Writes every automatic change of a rollout's phase (promoted, rolled back, paused by
/// analysis) to the audit trail as `bellwether`'s decision; changes that follow a request are
/// audited with the request.
pub(crate) async fn audit_decision(
    access: &Arc<Access>,
    phases: &mut BTreeMap<String, Phase>,
    event: &EventView,
) {
    let before = phases.insert(event.service.clone(), event.phase);
    let automatic = !matches!(event.kind.as_str(), "command" | "spec_changed");
    if !automatic || before.is_none_or(|b| b == event.phase) {
        return;
    }
    let entry = Entry {
        at_ms: event.at.as_millis(),
        actor: "bellwether".to_owned(),
        role: None,
        action: format!("rollout {}", event.phase),
        target: Some(event.service.clone()),
        environment: None,
        outcome: Outcome::Done,
        status: None,
        reason: Some(event.notes.join("; ")).filter(|r| !r.is_empty()),
        source: None,
    };
    let access = Arc::clone(access);
    let written = tokio::task::spawn_blocking(move || access.audit().append(entry)).await;
    if let Ok(Err(e)) = written {
        eprintln!("cannot write the audit trail: {:#}", anyhow::Error::from(e));
    }
}
