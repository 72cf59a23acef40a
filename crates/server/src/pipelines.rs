//! `GET /v1/pipelines`: the project's pipelines and the inputs a manual run asks for, so that
//! a page can offer `dispatch` with a form.

use axum::Json;
use axum::extract::State;
use bellwether_api::{InputView, PipelineView};
use bellwether_pipeline_core::inputs::{InputKind, InputSpec};
use bellwether_pipeline_core::trigger::Trigger;

use crate::AppState;
use crate::error::Failure;

pub(crate) async fn list(
    State(state): State<AppState>,
) -> Result<Json<Vec<PipelineView>>, Failure> {
    let Some(pipelines) = state.pipelines.clone() else {
        return Ok(Json(Vec::new()));
    };
    let specs = tokio::task::spawn_blocking(move || pipelines.specs())
        .await
        .map_err(|e| Failure::of(axum::http::StatusCode::INTERNAL_SERVER_ERROR, &e))??;
    Ok(Json(
        specs
            .iter()
            .map(|spec| {
                let manual = spec.triggers.iter().find_map(|t| match t {
                    Trigger::Manual(inputs) => Some(inputs),
                    _ => None,
                });
                PipelineView {
                    name: spec.name.clone(),
                    manual: manual.is_some(),
                    inputs: manual.into_iter().flatten().map(input).collect(),
                }
            })
            .collect(),
    ))
}

fn input(spec: &InputSpec) -> InputView {
    let (kind, options) = match &spec.kind {
        InputKind::String => ("string", Vec::new()),
        InputKind::Number => ("number", Vec::new()),
        InputKind::Boolean => ("boolean", Vec::new()),
        InputKind::Choice(options) => ("choice", options.clone()),
    };
    InputView {
        name: spec.name.clone(),
        description: spec.description.clone(),
        kind: kind.to_owned(),
        options,
        default: spec.default.as_ref().map(|v| v.to_text()),
        required: spec.required,
    }
}
