//! The event a local run pretends happened, from the flags and from git.

use bellwether_pipeline_core::spec::PipelineSpec;
use bellwether_pipeline_core::trigger::{Event, EventName, GitRef, Trigger, WorkflowRun};
use bellwether_runner::Repo;
use clap::ValueEnum;

use super::RunArgs;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum EventArg {
    Push,
    #[value(name = "pull_request", alias = "pull-request")]
    PullRequest,
    /// A push of a tag.
    Tag,
    Schedule,
    #[value(alias = "workflow_dispatch")]
    Manual,
    /// Another pipeline's run ended (`--after PIPELINE`, `--conclusion`).
    #[value(name = "workflow_run", alias = "workflow-run")]
    WorkflowRun,
    /// A release of a tag was published (`--tag NAME`).
    Release,
}

pub(crate) fn parse_pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("`{text}` is not name=value"))
}

/// The event for `spec`: what the flags say, filled in from git.
pub(super) fn build(
    args: &RunArgs,
    spec: &PipelineSpec,
    repo: Option<&Repo>,
) -> Result<Event, String> {
    // A pipeline without triggers runs when named; one with only `manual` is dispatched by hand.
    let manual = spec
        .triggers
        .iter()
        .any(|t| matches!(t, Trigger::Manual(_)));
    let pushed = spec
        .triggers
        .iter()
        .any(|t| matches!(t, Trigger::Push(_) | Trigger::Tag(_)));
    let by_hand_only = spec.triggers.is_empty() || (manual && !pushed);
    let kind = args.event.unwrap_or(if args.tag.is_some() {
        EventArg::Tag
    } else if !args.inputs.is_empty() || (args.pipeline.is_some() && by_hand_only) {
        EventArg::Manual
    } else {
        EventArg::Push
    });
    let branch = || {
        args.branch
            .clone()
            .or_else(|| repo.and_then(Repo::branch))
            .unwrap_or_else(|| "main".to_owned())
    };
    let git_ref = match (&args.tag, kind) {
        (Some(tag), _) => GitRef::Tag(tag.clone()),
        (None, EventArg::Tag) => {
            return Err("--event tag needs the tag pushed (expected --tag NAME)".to_owned());
        }
        (None, EventArg::Release) => {
            return Err("--event release needs the tag released (expected --tag NAME)".to_owned());
        }
        (None, _) => GitRef::Branch(branch()),
    };
    let name = match kind {
        EventArg::Push | EventArg::Tag => EventName::Push,
        EventArg::PullRequest => EventName::PullRequest,
        EventArg::Schedule => EventName::Schedule,
        EventArg::Manual => EventName::Manual,
        EventArg::WorkflowRun => EventName::WorkflowRun,
        EventArg::Release => EventName::Release,
    };
    let workflow_run = match kind {
        EventArg::WorkflowRun => Some(WorkflowRun {
            name: followed(args, spec)?,
            id: 0,
            // A run that was only requested has not concluded.
            conclusion: if args.action.as_deref() == Some("requested") {
                String::new()
            } else {
                args.conclusion.clone()
            },
            head_branch: git_ref.name().to_owned(),
            head_sha: repo
                .and_then(|r| r.commit("HEAD"))
                .map(|c| c.sha)
                .unwrap_or_default(),
        }),
        _ => None,
    };
    let changed_paths = if !args.paths.is_empty() {
        Some(args.paths.clone())
    } else {
        repo.map(Repo::changed_paths)
    };
    let pull_request = name == EventName::PullRequest;
    let action = match name {
        EventName::PullRequest => Some(args.action.clone().unwrap_or_else(|| "opened".to_owned())),
        EventName::WorkflowRun => Some(
            args.action
                .clone()
                .unwrap_or_else(|| "completed".to_owned()),
        ),
        EventName::Release => Some(
            args.action
                .clone()
                .unwrap_or_else(|| "published".to_owned()),
        ),
        _ => None,
    };
    Ok(Event {
        name,
        git_ref,
        base: pull_request.then(|| args.base.clone().unwrap_or_else(|| "main".to_owned())),
        action,
        changed_paths,
        workflow_run,
    })
}

/// The pipeline whose run a `workflow_run` event says ended: `--after`, else the one `spec`
/// follows when it follows only one.
fn followed(args: &RunArgs, spec: &PipelineSpec) -> Result<String, String> {
    if let Some(after) = &args.after {
        return Ok(after.clone());
    }
    let mut names = spec.triggers.iter().flat_map(|t| match t {
        Trigger::WorkflowRun(f) => f.workflows.as_slice(),
        _ => &[],
    });
    match (names.next(), names.next()) {
        (Some(only), None) => Ok(only.clone()),
        _ => Err(format!(
            "--event workflow_run needs the pipeline whose run ended: `{}` follows {} (expected --after PIPELINE)",
            spec.name,
            if spec
                .triggers
                .iter()
                .any(|t| matches!(t, Trigger::WorkflowRun(_)))
            {
                "several"
            } else {
                "none"
            }
        )),
    }
}
