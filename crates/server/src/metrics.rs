//! `GET /metrics`: the control plane's own metrics in the OpenMetrics text format, for
//! Prometheus. Each scrape registers what the controller and the pipelines keep (counters and
//! histograms since the start) and what they are now (rollouts, unfinished runs) in a fresh
//! registry, so nothing is sampled in between.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;

use crate::AppState;
use crate::error::Failure;

mod dora;

/// The window of the DORA gauges.
const DORA_WINDOW: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub(crate) async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, Failure> {
    let mut registry = Registry::default();
    state.control.metrics(&mut registry);
    let report = state.control.dora(None, None, DORA_WINDOW).await?;
    registry.register_collector(Box::new(dora::Dora(report.figures)));
    if let Some(pipelines) = &state.pipelines {
        pipelines
            .metrics(&mut registry)
            .map_err(|e| Failure::of(StatusCode::INTERNAL_SERVER_ERROR, &e))?;
    }
    let mut text = String::new();
    encode(&mut text, &registry).map_err(|e| Failure::of(StatusCode::INTERNAL_SERVER_ERROR, &e))?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], text))
}
