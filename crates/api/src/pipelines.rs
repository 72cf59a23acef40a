//! `GET /v1/pipelines`: the project's pipelines, and the inputs of those a person may start.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PipelineView {
    pub name: String,
    /// Whether it has a `manual` trigger, so that `dispatch` may start it.
    pub manual: bool,
    pub inputs: Vec<InputView>,
}

/// One input of a manual pipeline, as a form asks for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputView {
    pub name: String,
    pub description: Option<String>,
    /// `string`, `number`, `boolean` or `choice`.
    pub kind: String,
    /// The choices of a `choice`.
    #[serde(default)]
    pub options: Vec<String>,
    pub default: Option<String>,
    pub required: bool,
}
