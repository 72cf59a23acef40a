//! Environments: allowed branches, required approvals and a wait timer.

use std::time::Duration;

use bellwether_core::spec::{EnvironmentSpec, Soak};

use super::names;
use super::scalars::{Zero, duration_or};
use crate::diagnostic::Sink;
use crate::model::EnvironmentConfig;
use crate::span::Spanned;

pub(super) fn lower(
    name: &Spanned<String>,
    env: &Spanned<Option<EnvironmentConfig>>,
    environments: &[&str],
    sink: &mut Sink<'_>,
) -> EnvironmentSpec {
    names::identifier("environment", name, sink);
    let default = EnvironmentConfig::default();
    let e = env.value.as_ref().unwrap_or(&default);
    for reviewer in &e.reviewers {
        let name = reviewer.value.trim();
        let group = name.strip_prefix("group:");
        if name.is_empty() || group.is_some_and(|g| g.trim().is_empty()) {
            sink.error(
                reviewer.pos,
                "a reviewer is a name (a token's, or a user's) or `group:NAME` (the tokens made with `--group NAME`), and this one is empty",
            );
        }
    }
    // A group may hold any number of people; named people only are counted.
    let groups = e.reviewers.iter().any(|r| r.value.starts_with("group:"));
    if let Some(approvals) = &e.approvals
        && !e.reviewers.is_empty()
        && !groups
        && usize::try_from(approvals.value.0).unwrap_or(usize::MAX) > e.reviewers.len()
    {
        sink.error(
            approvals.pos,
            format!(
                "{} approvals are required from {} reviewers: the gate could never open",
                approvals.value.0,
                e.reviewers.len()
            ),
        );
    }
    for branch in &e.branches {
        let b = branch.value.as_str();
        if b.trim().is_empty() || b.contains(char::is_whitespace) {
            sink.error(branch.pos, format!("branch pattern `{b}` is not valid (expected a branch name or glob without spaces, e.g. `main` or `release/*`)"));
        }
    }
    let soak = e
        .requires
        .as_ref()
        .and_then(|r| r.value.soak.as_ref())
        .map(|soak| {
            let s = &soak.value;
            names::reference("environment", &s.environment, environments, sink);
            if s.environment.value == name.value {
                sink.error(
                    s.environment.pos,
                    format!(
                        "environment `{}` cannot require a soak in itself",
                        name.value
                    ),
                );
            }
            Soak {
                environment: s.environment.value.clone(),
                duration: duration_or(
                    Some(&s.duration),
                    "for",
                    Zero::Allowed,
                    Duration::ZERO,
                    sink,
                ),
            }
        });
    for (key, _) in e.vars.iter() {
        names::env_var("vars name", key, sink);
    }
    EnvironmentSpec {
        name: name.value.clone(),
        branches: e.branches.iter().map(|b| b.value.clone()).collect(),
        approvals: e.approvals.as_ref().map_or(0, |a| a.value.0),
        allow_self_approval: e.allow_self_approval.unwrap_or(false),
        reviewers: e.reviewers.iter().map(|r| r.value.clone()).collect(),
        soak,
        wait: duration_or(e.wait.as_ref(), "wait", Zero::Allowed, Duration::ZERO, sink),
        vars: e
            .vars
            .iter()
            .map(|(k, v)| (k.value.clone(), v.value.clone()))
            .collect(),
    }
}
