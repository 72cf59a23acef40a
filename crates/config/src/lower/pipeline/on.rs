//! `on:` lowered: filters compiled, cron lines parsed, manual inputs typed.

use bellwether_pipeline_core::cron::Cron;
use bellwether_pipeline_core::glob::{Filter, Pattern};
use bellwether_pipeline_core::inputs::{InputKind, InputSpec};
use bellwether_pipeline_core::trigger::{
    PULL_REQUEST_TYPES, PullRequestFilters, RELEASE_TYPES, RefFilters, Trigger, WORKFLOW_RUN_TYPES,
    WorkflowRunFilters,
};

use super::super::names;
use crate::diagnostic::Sink;
use crate::model::{InputConfig, InputType, ManualConfig, Names, OnConfig};
use crate::span::{Entries, Spanned};
use crate::suggest::did_you_mean;

/// `on:` of a pipeline of the file whose pipelines are `pipelines`, which `workflow_run` may
/// follow; `None` for a workflow file read on its own, whose fellow workflows are not known.
pub(super) fn triggers(
    on: &Spanned<OnConfig>,
    pipelines: Option<&[&str]>,
    sink: &mut Sink<'_>,
) -> Vec<Trigger> {
    let o = &on.value;
    let mut out = Vec::new();
    if let Some(push) = &o.push {
        let p = push.value.clone().unwrap_or_default();
        out.push(Trigger::Push(RefFilters {
            branches: either("branches", &p.branches, &p.branches_ignore, sink),
            tags: either("tags", &p.tags, &p.tags_ignore, sink),
            paths: either("paths", &p.paths, &p.paths_ignore, sink),
        }));
    }
    if let Some(pr) = &o.pull_request {
        let p = pr.value.clone().unwrap_or_default();
        let types = p.types.as_ref().map(names_at).unwrap_or_default();
        for t in &types {
            if !PULL_REQUEST_TYPES.contains(&t.value.as_str()) {
                sink.error(
                    t.pos,
                    format!(
                        "unknown pull_request type `{}`{} (expected one of {})",
                        t.value,
                        did_you_mean(&t.value, PULL_REQUEST_TYPES.iter().copied()),
                        PULL_REQUEST_TYPES.join(", ")
                    ),
                );
            }
        }
        out.push(Trigger::PullRequest(PullRequestFilters {
            branches: either("branches", &p.branches, &p.branches_ignore, sink),
            paths: either("paths", &p.paths, &p.paths_ignore, sink),
            types: types.into_iter().map(|t| t.value).collect(),
        }));
    }
    if let Some(tag) = &o.tag {
        let t = tag.value.clone().unwrap_or_default();
        out.push(Trigger::Tag(RefFilters {
            branches: None,
            tags: either("tags", &t.tags, &t.tags_ignore, sink),
            paths: None,
        }));
    }
    if let Some(schedule) = &o.schedule {
        if schedule.value.is_empty() {
            sink.error(
                schedule.pos,
                "`schedule` has no cron lines (expected e.g. `- cron: \"0 2 * * 1\"`)",
            );
        }
        let crons = schedule
            .value
            .iter()
            .filter_map(|s| {
                Cron::parse(&s.cron.value)
                    .map_err(|e| sink.error(s.cron.pos, e))
                    .ok()
            })
            .collect();
        out.push(Trigger::Schedule(crons));
    }
    if let Some(run) = &o.workflow_run {
        let r = &run.value;
        let workflows = names_at(&r.workflows);
        if workflows.is_empty() {
            sink.error(
                r.workflows.pos.or(run.pos),
                "`workflows` is empty (expected the pipelines it follows, e.g. `workflows: [ci]`)",
            );
        }
        if let Some(pipelines) = pipelines {
            for w in &workflows {
                names::reference("pipeline", w, pipelines, sink);
            }
        }
        let types = activity("workflow_run", r.types.as_ref(), WORKFLOW_RUN_TYPES, sink);
        out.push(Trigger::WorkflowRun(WorkflowRunFilters {
            workflows: workflows.into_iter().map(|w| w.value).collect(),
            types,
            branches: either("branches", &r.branches, &r.branches_ignore, sink),
        }));
    }
    if let Some(release) = &o.release {
        let types = release.value.as_ref().and_then(|r| r.types.as_ref());
        out.push(Trigger::Release(activity(
            "release",
            types,
            RELEASE_TYPES,
            sink,
        )));
    }
    match (&o.manual, &o.workflow_dispatch) {
        (Some(_), Some(w)) => sink.error(
            w.pos.or(on.pos),
            "`manual` and `workflow_dispatch` are the same trigger (expected one of them)",
        ),
        (Some(m), None) | (None, Some(m)) => {
            out.push(Trigger::Manual(inputs(m.value.as_ref(), sink)));
        }
        (None, None) => {}
    }
    out
}

/// An event's activity types, each one it knows.
fn activity(
    event: &str,
    types: Option<&Spanned<Names>>,
    known: &[&str],
    sink: &mut Sink<'_>,
) -> Vec<String> {
    let types = types.map(names_at).unwrap_or_default();
    for t in &types {
        if !known.contains(&t.value.as_str()) {
            sink.error(
                t.pos,
                format!(
                    "unknown {event} type `{}`{} (expected one of {})",
                    t.value,
                    did_you_mean(&t.value, known.iter().copied()),
                    known.join(", ")
                ),
            );
        }
    }
    types.into_iter().map(|t| t.value).collect()
}

/// A filter from `key` or `key-ignore`, which may not both be set.
fn either(
    key: &str,
    include: &Option<Spanned<Names>>,
    ignore: &Option<Spanned<Names>>,
    sink: &mut Sink<'_>,
) -> Option<Filter> {
    match (include, ignore) {
        (Some(_), Some(i)) => {
            sink.error(
                i.pos,
                format!("`{key}` and `{key}-ignore` are both set (expected one of them; `!pattern` in `{key}` excludes)"),
            );
            None
        }
        (Some(list), None) => filter(key, list, false, sink),
        (None, Some(list)) => filter(key, list, true, sink),
        (None, None) => None,
    }
}

fn filter(key: &str, list: &Spanned<Names>, ignore: bool, sink: &mut Sink<'_>) -> Option<Filter> {
    let mut patterns = Vec::new();
    let mut ok = true;
    for name in names_at(list) {
        match Pattern::parse(&name.value) {
            Ok(p) => patterns.push(p),
            Err(e) => {
                sink.error(name.pos, e);
                ok = false;
            }
        }
    }
    if patterns.is_empty() && ok {
        sink.error(list.pos, format!("`{key}` is empty, so nothing would match (expected at least one pattern, or no `{key}`)"));
        return None;
    }
    if !ignore && !patterns.is_empty() && patterns.iter().all(Pattern::is_negated) {
        sink.error(
            list.pos,
            format!("`{key}` only excludes, so nothing would match (expected a pattern without `!` first, e.g. `'**'`)"),
        );
        return None;
    }
    ok.then_some(Filter { patterns, ignore })
}

/// The names of a list, each with a position (a lone name takes the list's).
pub(super) fn names_at(list: &Spanned<Names>) -> Vec<Spanned<String>> {
    list.value
        .0
        .iter()
        .map(|n| Spanned::new(n.value.clone(), n.pos.or(list.pos)))
        .collect()
}

fn inputs(manual: Option<&ManualConfig>, sink: &mut Sink<'_>) -> Vec<InputSpec> {
    let empty = Entries::default();
    let declared = manual.map_or(&empty, |m| &m.inputs);
    declared
        .iter()
        .map(|(name, input)| {
            names::identifier("input", name, sink);
            input_spec(name, input, sink)
        })
        .collect()
}

pub(super) fn input_spec(
    name: &Spanned<String>,
    input: &Spanned<InputConfig>,
    sink: &mut Sink<'_>,
) -> InputSpec {
    let i = &input.value;
    let kind_pos = i.kind.as_ref().map_or(input.pos, |k| k.pos);
    let options: Vec<String> = i
        .options
        .iter()
        .flat_map(|o| o.value.iter().map(|v| v.value.clone()))
        .collect();
    let kind = match i.kind.as_ref().map(|k| k.value) {
        None | Some(InputType::String) => InputKind::String,
        Some(InputType::Number) => InputKind::Number,
        Some(InputType::Boolean) => InputKind::Boolean,
        Some(InputType::Choice) => {
            if options.is_empty() {
                sink.error(
                    kind_pos,
                    format!(
                        "input `{}` is a choice without options (expected `options: [a, b]`)",
                        name.value
                    ),
                );
            }
            InputKind::Choice(options.clone())
        }
    };
    if let Some(o) = &i.options
        && !matches!(kind, InputKind::Choice(_))
    {
        sink.error(
            o.pos,
            format!(
                "`options` belong to a choice, and input `{}` is a {} (expected `type: choice`)",
                name.value,
                kind.name()
            ),
        );
    }
    let default = i.default.as_ref().and_then(|d| {
        kind.coerce(&d.value)
            .map_err(|e| sink.error(d.pos, format!("default of input `{}`: {e}", name.value)))
            .ok()
    });
    InputSpec {
        name: name.value.clone(),
        description: i.description.clone(),
        kind,
        default,
        required: i.required.unwrap_or(false),
    }
}
