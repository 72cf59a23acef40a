//! What starts a run (`on:`), the event that happened, and whether the one matches the other,
//! with the reason when it does not. Filters apply for real: a push to a branch the pipeline
//! does not list does not run it.

use crate::cron::Cron;
use crate::glob::Filter;
use crate::inputs::InputSpec;

#[derive(Clone, Debug, PartialEq)]
pub enum Trigger {
    Push(RefFilters),
    PullRequest(PullRequestFilters),
    /// A push of a tag; the same as `push` with only `tags` filters.
    Tag(RefFilters),
    Schedule(Vec<Cron>),
    Manual(Vec<InputSpec>),
    /// After a run of another pipeline.
    WorkflowRun(WorkflowRunFilters),
    /// A GitHub release's activity, by type; empty means any.
    Release(Vec<String>),
}

/// `workflow_run: {workflows: [ci], types: [completed], branches: [main]}`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkflowRunFilters {
    /// The pipelines whose runs it follows.
    pub workflows: Vec<String>,
    /// `completed` (the default) or `requested`.
    pub types: Vec<String>,
    /// Matched against the branch the other run ran on.
    pub branches: Option<Filter>,
}

/// The activity types of `workflow_run` that bellwether knows: a run was created, or ended.
pub const WORKFLOW_RUN_TYPES: &[&str] = &["completed", "requested"];

/// The activity types of a GitHub release.
pub const RELEASE_TYPES: &[&str] = &[
    "published",
    "unpublished",
    "created",
    "edited",
    "deleted",
    "prereleased",
    "released",
];

/// `branches`/`branches-ignore`, `tags`/`tags-ignore`, `paths`/`paths-ignore`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RefFilters {
    pub branches: Option<Filter>,
    pub tags: Option<Filter>,
    pub paths: Option<Filter>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PullRequestFilters {
    /// Matched against the branch the pull request targets.
    pub branches: Option<Filter>,
    pub paths: Option<Filter>,
    /// Activity types; empty means GitHub's default: opened, synchronize, reopened.
    pub types: Vec<String>,
}

/// The activity types of a pull request that bellwether knows.
pub const PULL_REQUEST_TYPES: &[&str] = &[
    "opened",
    "synchronize",
    "reopened",
    "closed",
    "edited",
    "ready_for_review",
    "labeled",
    "unlabeled",
];
const DEFAULT_PULL_REQUEST_TYPES: &[&str] = &["opened", "synchronize", "reopened"];

/// A branch or a tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GitRef {
    Branch(String),
    Tag(String),
}

impl GitRef {
    pub fn name(&self) -> &str {
        match self {
            GitRef::Branch(n) | GitRef::Tag(n) => n,
        }
    }

    /// `refs/heads/main` or `refs/tags/v1.2.0`.
    pub fn full(&self) -> String {
        match self {
            GitRef::Branch(n) => format!("refs/heads/{n}"),
            GitRef::Tag(n) => format!("refs/tags/{n}"),
        }
    }

    /// `branch` or `tag`, as `github.ref_type` says.
    pub fn kind(&self) -> &'static str {
        match self {
            GitRef::Branch(_) => "branch",
            GitRef::Tag(_) => "tag",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventName {
    Push,
    PullRequest,
    Schedule,
    Manual,
    WorkflowRun,
    Release,
}

impl EventName {
    pub const ALL: [EventName; 6] = [
        EventName::Push,
        EventName::PullRequest,
        EventName::Schedule,
        EventName::Manual,
        EventName::WorkflowRun,
        EventName::Release,
    ];

    /// The name `github.event_name` holds, as GitHub Actions spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventName::Push => "push",
            EventName::PullRequest => "pull_request",
            EventName::Schedule => "schedule",
            EventName::Manual => "workflow_dispatch",
            EventName::WorkflowRun => "workflow_run",
            EventName::Release => "release",
        }
    }
}

/// Something that happened to the repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub name: EventName,
    /// The pushed ref; for a pull request, its head branch.
    pub git_ref: GitRef,
    /// For a pull request: the branch it targets.
    pub base: Option<String>,
    /// For a pull request: `opened`, `synchronize`, …
    pub action: Option<String>,
    /// The paths the event changed; `None` when unknown, which skips path filters.
    pub changed_paths: Option<Vec<String>>,
    /// For `workflow_run`: the run that was requested or ended.
    pub workflow_run: Option<WorkflowRun>,
}

/// The run a `workflow_run` event is about, as `github.event.workflow_run` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkflowRun {
    /// Its pipeline.
    pub name: String,
    /// Its number.
    pub id: u64,
    /// `success`, `failure`, `cancelled`…; empty while it has not ended.
    pub conclusion: String,
    pub head_branch: String,
    pub head_sha: String,
}

impl Event {
    /// `push to branch main`, for messages.
    pub fn describe(&self) -> String {
        match self.name {
            EventName::PullRequest => format!(
                "pull_request from `{}` into `{}`",
                self.git_ref.name(),
                self.base.as_deref().unwrap_or("?")
            ),
            EventName::WorkflowRun => match &self.workflow_run {
                Some(run) => format!(
                    "workflow_run after run {} of `{}` ({}) on branch `{}`",
                    run.id,
                    run.name,
                    if run.conclusion.is_empty() {
                        "requested"
                    } else {
                        &run.conclusion
                    },
                    run.head_branch
                ),
                None => "workflow_run".to_owned(),
            },
            EventName::Release => format!(
                "release {} of tag `{}`",
                self.action.as_deref().unwrap_or("published"),
                self.git_ref.name()
            ),
            name => format!(
                "{} on {} `{}`",
                name.as_str(),
                self.git_ref.kind(),
                self.git_ref.name()
            ),
        }
    }
}

impl Trigger {
    pub fn name(&self) -> &'static str {
        match self {
            Trigger::Push(_) => "push",
            Trigger::PullRequest(_) => "pull_request",
            Trigger::Tag(_) => "tag",
            Trigger::Schedule(_) => "schedule",
            Trigger::Manual(_) => "manual",
            Trigger::WorkflowRun(_) => "workflow_run",
            Trigger::Release(_) => "release",
        }
    }

    /// `Ok` when this trigger fires for `event`; otherwise why not.
    pub fn check(&self, event: &Event) -> Result<(), String> {
        match (self, event.name) {
            (Trigger::Push(f), EventName::Push) => push(f, event),
            (Trigger::Tag(f), EventName::Push) => match &event.git_ref {
                GitRef::Tag(tag) => filter("tag", tag, f.tags.as_ref()),
                GitRef::Branch(_) => Err("`tag` fires on tag pushes only".to_owned()),
            },
            (Trigger::PullRequest(f), EventName::PullRequest) => pull_request(f, event),
            (Trigger::WorkflowRun(f), EventName::WorkflowRun) => workflow_run(f, event),
            (Trigger::Release(types), EventName::Release) => {
                let action = event.action.as_deref().unwrap_or("published");
                if types.is_empty() || types.iter().any(|t| t == action) {
                    Ok(())
                } else {
                    Err(format!(
                        "release activity `{action}` is not among its types"
                    ))
                }
            }
            (Trigger::Schedule(_), EventName::Schedule)
            | (Trigger::Manual(_), EventName::Manual) => Ok(()),
            (trigger, _) => Err(format!(
                "`{}` does not fire on {}",
                trigger.name(),
                event.name.as_str()
            )),
        }
    }
}

/// GitHub's rules: with only branch filters, tag pushes do not run the pipeline, and the other
/// way round; path filters do not apply to tags.
fn push(f: &RefFilters, event: &Event) -> Result<(), String> {
    match &event.git_ref {
        GitRef::Branch(branch) => {
            if f.branches.is_none() && f.tags.is_some() {
                return Err("`push` lists only tags, and this is a branch".to_owned());
            }
            filter("branch", branch, f.branches.as_ref())?;
            paths(f.paths.as_ref(), event)
        }
        GitRef::Tag(tag) => {
            if f.tags.is_none() && (f.branches.is_some() || f.paths.is_some()) {
                return Err("`push` lists only branches or paths, and this is a tag".to_owned());
            }
            filter("tag", tag, f.tags.as_ref())
        }
    }
}

fn workflow_run(f: &WorkflowRunFilters, event: &Event) -> Result<(), String> {
    let Some(run) = &event.workflow_run else {
        return Err("the event names no run".to_owned());
    };
    if !f.workflows.contains(&run.name) {
        return Err(format!(
            "`workflow_run` follows {}, not `{}`",
            f.workflows
                .iter()
                .map(|w| format!("`{w}`"))
                .collect::<Vec<_>>()
                .join(", "),
            run.name
        ));
    }
    let action = event.action.as_deref().unwrap_or("completed");
    let listed = if f.types.is_empty() {
        action == "completed"
    } else {
        f.types.iter().any(|t| t == action)
    };
    if !listed {
        return Err(format!(
            "workflow_run activity `{action}` is not among its types"
        ));
    }
    filter("branch", &run.head_branch, f.branches.as_ref())
}

fn pull_request(f: &PullRequestFilters, event: &Event) -> Result<(), String> {
    let action = event.action.as_deref().unwrap_or("opened");
    let listed = if f.types.is_empty() {
        DEFAULT_PULL_REQUEST_TYPES.contains(&action)
    } else {
        f.types.iter().any(|t| t == action)
    };
    if !listed {
        return Err(format!(
            "pull_request activity `{action}` is not among its types"
        ));
    }
    let base = event.base.as_deref().unwrap_or_default();
    filter("target branch", base, f.branches.as_ref())?;
    paths(f.paths.as_ref(), event)
}

fn filter(what: &str, name: &str, filter: Option<&Filter>) -> Result<(), String> {
    match filter {
        Some(f) if !f.accepts(name) => Err(if f.ignore {
            format!("{what} `{name}` is ignored by {}", f.describe())
        } else {
            format!("{what} `{name}` matches none of {}", f.describe())
        }),
        _ => Ok(()),
    }
}

/// With `paths`, at least one changed path must pass; with `paths-ignore`, at least one must
/// not be ignored.
fn paths(filter: Option<&Filter>, event: &Event) -> Result<(), String> {
    let (Some(f), Some(changed)) = (filter, &event.changed_paths) else {
        return Ok(());
    };
    if changed.iter().any(|p| f.accepts(p)) {
        return Ok(());
    }
    let shown: Vec<&str> = changed.iter().take(5).map(String::as_str).collect();
    let more = if changed.len() > 5 { ", …" } else { "" };
    Err(if changed.is_empty() {
        "no paths changed, and it filters on paths".to_owned()
    } else if f.ignore {
        format!(
            "every changed path ({}{more}) is ignored by {}",
            shown.join(", "),
            f.describe()
        )
    } else {
        format!(
            "no changed path ({}{more}) matches {}",
            shown.join(", "),
            f.describe()
        )
    })
}

/// `Ok` when any trigger fires; otherwise the reason each one gave.
pub fn check_all(triggers: &[Trigger], event: &Event) -> Result<(), Vec<String>> {
    let mut reasons = Vec::new();
    for t in triggers {
        match t.check(event) {
            Ok(()) => return Ok(()),
            Err(reason) => reasons.push(reason),
        }
    }
    if triggers.is_empty() {
        reasons
            .push("it has no `on:` triggers, so it runs only when dispatched by hand".to_owned());
        if event.name == EventName::Manual {
            return Ok(());
        }
    }
    Err(reasons)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::glob::Pattern;

    fn after(pipeline: &str, action: &str, branch: &str) -> Event {
        Event {
            name: EventName::WorkflowRun,
            git_ref: GitRef::Branch(branch.to_owned()),
            base: None,
            action: Some(action.to_owned()),
            changed_paths: None,
            workflow_run: Some(WorkflowRun {
                name: pipeline.to_owned(),
                id: 7,
                conclusion: "failure".to_owned(),
                head_branch: branch.to_owned(),
                head_sha: "0".repeat(40),
            }),
        }
    }

    #[test]
    fn workflow_run_follows_the_named_pipelines_completed_runs_on_its_branches() {
        let trigger = Trigger::WorkflowRun(WorkflowRunFilters {
            workflows: vec!["ci".to_owned()],
            types: Vec::new(),
            branches: Some(Filter {
                patterns: vec![Pattern::parse("main").unwrap()],
                ignore: false,
            }),
        });
        // Whatever the conclusion: `if:` on `github.event.workflow_run.conclusion` judges it.
        assert_eq!(trigger.check(&after("ci", "completed", "main")), Ok(()));
        assert_eq!(
            trigger.check(&after("lint", "completed", "main")),
            Err("`workflow_run` follows `ci`, not `lint`".to_owned())
        );
        assert_eq!(
            trigger.check(&after("ci", "requested", "main")),
            Err("workflow_run activity `requested` is not among its types".to_owned())
        );
        assert!(trigger.check(&after("ci", "completed", "dev")).is_err());
        let mut push = after("ci", "completed", "main");
        push.name = EventName::Push;
        assert_eq!(
            trigger.check(&push),
            Err("`workflow_run` does not fire on push".to_owned())
        );
        assert_eq!(
            after("ci", "completed", "main").describe(),
            "workflow_run after run 7 of `ci` (failure) on branch `main`"
        );
    }

    #[test]
    fn release_fires_on_its_types() {
        let release = |action: &str| Event {
            name: EventName::Release,
            git_ref: GitRef::Tag("v1".to_owned()),
            base: None,
            action: Some(action.to_owned()),
            changed_paths: None,
            workflow_run: None,
        };
        let published = Trigger::Release(vec!["published".to_owned()]);
        assert_eq!(published.check(&release("published")), Ok(()));
        assert!(published.check(&release("edited")).is_err());
        assert_eq!(
            Trigger::Release(Vec::new()).check(&release("edited")),
            Ok(())
        );
        assert_eq!(
            release("published").describe(),
            "release published of tag `v1`"
        );
    }
}
