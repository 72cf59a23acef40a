//! A pipeline: its triggers, its environment and its jobs.

use std::collections::BTreeMap;

use crate::expr::{Template, Value};
use crate::trigger::Trigger;

use super::{Concurrency, JobSpec, RunDefaults};

#[derive(Clone, Debug, PartialEq)]
pub struct PipelineSpec {
    /// The key under `pipelines:`.
    pub name: String,
    /// What starts a run; a pipeline without `on:` runs only when asked for by name.
    pub triggers: Vec<Trigger>,
    /// Environment variables for every step, evaluated when each job starts.
    pub env: Vec<(String, Template)>,
    pub defaults: RunDefaults,
    /// Runs in the same group wait for each other, or cancel the one in progress.
    pub concurrency: Option<Concurrency>,
    /// In file order; `needs` make them a DAG, which lowering has checked is acyclic.
    pub jobs: Vec<JobSpec>,
}

impl PipelineSpec {
    pub fn job(&self, id: &str) -> Option<&JobSpec> {
        self.jobs.iter().find(|j| j.id == id)
    }

    /// The `inputs` context of a manual run given `given`, typed as the `manual` trigger
    /// declares them; every problem otherwise.
    pub fn manual_inputs(
        &self,
        given: &[(String, String)],
    ) -> Result<BTreeMap<String, Value>, Vec<String>> {
        let declared = self
            .triggers
            .iter()
            .find_map(|t| match t {
                Trigger::Manual(inputs) => Some(inputs.as_slice()),
                _ => None,
            })
            .unwrap_or_default();
        crate::inputs::resolve(declared, given)
    }
}
