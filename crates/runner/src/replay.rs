//! What a run keeps in its history so that `rerun` can make the same run again: the file, the
//! pipeline, the event, the inputs and the checkout. Never a secret: those come from the
//! secret store again.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bellwether_pipeline_core::expr::Value;
use bellwether_pipeline_core::trigger::{Event, EventName, GitRef, WorkflowRun};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Replay {
    pub file: PathBuf,
    pub pipeline: String,
    event: StoredEvent,
    inputs: serde_json::Map<String, serde_json::Value>,
    /// `tree`, or the commit checked out.
    pub checkout: String,
    /// Why the run is untrusted, when it is: it runs again only under the same restrictions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub untrusted: Option<String>,
    /// The jobs a run was limited to (`run --workflow FILE JOB...`), which run again with
    /// the jobs they need; none: every job.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jobs: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct StoredEvent {
    name: String,
    #[serde(rename = "ref")]
    git_ref: String,
    tag: bool,
    base: Option<String>,
    action: Option<String>,
    changed_paths: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    workflow_run: Option<StoredRun>,
}

/// A `workflow_run` event's run: the triggering run's number is kept with the run it started.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct StoredRun {
    name: String,
    id: u64,
    conclusion: String,
    head_branch: String,
    head_sha: String,
}

impl Replay {
    pub fn new(
        file: PathBuf,
        pipeline: &str,
        event: &Event,
        inputs: &BTreeMap<String, Value>,
        checkout: &str,
    ) -> Replay {
        Replay {
            file,
            pipeline: pipeline.to_owned(),
            event: StoredEvent {
                name: event.name.as_str().to_owned(),
                git_ref: event.git_ref.name().to_owned(),
                tag: matches!(event.git_ref, GitRef::Tag(_)),
                base: event.base.clone(),
                action: event.action.clone(),
                changed_paths: event.changed_paths.clone(),
                workflow_run: event.workflow_run.as_ref().map(|run| StoredRun {
                    name: run.name.clone(),
                    id: run.id,
                    conclusion: run.conclusion.clone(),
                    head_branch: run.head_branch.clone(),
                    head_sha: run.head_sha.clone(),
                }),
            },
            inputs: inputs
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
            checkout: checkout.to_owned(),
            untrusted: None,
            jobs: Vec::new(),
        }
    }

    /// The same, for a run that is untrusted for `reason` (when there is one).
    pub fn untrusted(self, reason: Option<String>) -> Replay {
        Replay {
            untrusted: reason,
            ..self
        }
    }

    /// The same, limited to `jobs` and those they need.
    pub fn only(self, jobs: Vec<String>) -> Replay {
        Replay { jobs, ..self }
    }

    pub fn event(&self) -> Result<Event, String> {
        let name = EventName::ALL
            .into_iter()
            .find(|n| n.as_str() == self.event.name)
            .ok_or_else(|| format!("the stored event `{}` is unknown", self.event.name))?;
        let git_ref = if self.event.tag {
            GitRef::Tag(self.event.git_ref.clone())
        } else {
            GitRef::Branch(self.event.git_ref.clone())
        };
        Ok(Event {
            name,
            git_ref,
            base: self.event.base.clone(),
            action: self.event.action.clone(),
            changed_paths: self.event.changed_paths.clone(),
            workflow_run: self.event.workflow_run.as_ref().map(|run| WorkflowRun {
                name: run.name.clone(),
                id: run.id,
                conclusion: run.conclusion.clone(),
                head_branch: run.head_branch.clone(),
                head_sha: run.head_sha.clone(),
            }),
        })
    }

    pub fn inputs(&self) -> BTreeMap<String, Value> {
        self.inputs
            .iter()
            .map(|(k, v)| (k.clone(), Value::from_json(v)))
            .collect()
    }
}
