//! Cron schedules: at the start of each minute (UTC), the pipelines with a `schedule` that
//! matches it start on the default branch's head. A minute missed while the control plane
//! was down or busy is not made up, as GitHub does not.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bellwether_core::error::chain;
use bellwether_pipeline_core::cron::CalendarMinute;
use bellwether_pipeline_core::spec::PipelineSpec;
use bellwether_pipeline_core::trigger::Trigger;
use tokio_util::sync::CancellationToken;

use crate::pipelines::Pipelines;

/// The pipelines whose schedule fires in `minute`.
pub(crate) fn due(pipelines: &[PipelineSpec], minute: CalendarMinute) -> Vec<String> {
    pipelines
        .iter()
        .filter(|p| {
            p.triggers.iter().any(|t| match t {
                Trigger::Schedule(crons) => crons.iter().any(|c| c.matches(minute)),
                _ => false,
            })
        })
        .map(|p| p.name.clone())
        .collect()
}

/// Starts scheduled runs at each minute until `stop`.
pub async fn schedule(pipelines: Pipelines, stop: CancellationToken) {
    let mut last = None;
    loop {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let minute = now.as_secs() / 60;
        if last.is_some_and(|l| l < minute) {
            fire(&pipelines, minute).await;
        }
        last = Some(minute);
        let next = Duration::from_secs((minute + 1) * 60).saturating_sub(now);
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(next + Duration::from_millis(5)) => {}
        }
    }
}

async fn fire(pipelines: &Pipelines, minute: u64) {
    let specs = match pipelines.load() {
        Ok(loaded) => loaded.pipelines,
        Err(e) => {
            tracing::warn!("schedule: {}", chain(&e));
            return;
        }
    };
    let names = due(&specs, CalendarMinute::from_unix_minutes(minute));
    if names.is_empty() {
        return;
    }
    if let Err(e) = pipelines.scheduled(names).await {
        tracing::warn!("schedule: {}", chain(&e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pipelines_whose_cron_matches_the_minute_are_due() {
        let loaded = bellwether_config::load(
            "bellwether.yaml",
            r#"
pipelines:
  nightly:
    on:
      schedule:
        - cron: "30 2 * * *"
    jobs:
      build: {steps: [{run: "true"}]}
  quarterly:
    on:
      schedule:
        - cron: "0 0 1 */3 *"
        - cron: "15 8 * * SUN"
    jobs:
      build: {steps: [{run: "true"}]}
  pushed:
    on: [push]
    jobs:
      build: {steps: [{run: "true"}]}
"#,
        )
        .expect("valid");
        // 2026-11-22 was a Sunday; minutes since the epoch from Python's datetime.
        let sunday_0815 = 29_922_255;
        let monday_0230 = 29_923_350;
        assert_eq!(
            due(
                &loaded.pipelines,
                CalendarMinute::from_unix_minutes(sunday_0815)
            ),
            ["quarterly"]
        );
        assert_eq!(
            due(
                &loaded.pipelines,
                CalendarMinute::from_unix_minutes(monday_0230)
            ),
            ["nightly"]
        );
    }
}
