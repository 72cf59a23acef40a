use bellwether_api::{AnalysisView, MeasurementView, ReplicaView, RevisionView, StepView};
use bellwether_core::rollout::{Phase, Revision, RunId, RunKind, Stage, Verdict};
use bellwether_core::spec::Weight;

use super::*;

const NOW: u64 = 1_717_243_200_000;

fn at(seconds_ago: u64) -> Timestamp {
    Timestamp::from_millis(NOW - seconds_ago * 1000)
}

fn replica(index: u32, phase: &str, restarts: u32) -> ReplicaView {
    ReplicaView {
        index,
        addr: Some(format!("127.0.0.1:{}", 41000 + index).parse().unwrap()),
        pid: Some(1000 + index),
        phase: phase.to_owned(),
        restarts,
    }
}

fn measurement(metric: &str, verdict: Verdict, value: &str, message: &str) -> MeasurementView {
    MeasurementView {
        metric: metric.to_owned(),
        at: at(2),
        verdict,
        value: Some(value.to_owned()),
        baseline: Some("0.1%".to_owned()),
        condition: "<= 1%".to_owned(),
        sample: Some(2413),
        window_ms: Some(30_000),
        message: message.to_owned(),
        dry_run: false,
    }
}

fn canary() -> ServiceView {
    ServiceView {
        name: "api".to_owned(),
        phase: Phase::Progressing,
        reason: "canary at 10%, analysis running".to_owned(),
        strategy: "canary".to_owned(),
        steps: Vec::new(),
        stage: Stage::CanaryAnalysis {
            run: RunId {
                attempt: 1,
                kind: RunKind::Step(2),
            },
            verdict: None,
        },
        step: Some(StepView {
            index: 2,
            total: 6,
            description: "analysis".to_owned(),
        }),
        stable: Some(Revision {
            number: 1,
            version: "v1".to_owned(),
        }),
        target: Some(Revision {
            number: 2,
            version: "v2".to_owned(),
        }),
        listen: Some("127.0.0.1:8080".parse().unwrap()),
        preview_listen: None,
        revisions: vec![
            RevisionView {
                number: 1,
                version: "v1".to_owned(),
                role: RevisionRole::Stable,
                weight: Weight::from_percent(90).unwrap(),
                desired: 3,
                ready: 3,
                replicas: (0..3).map(|i| replica(i, "ready", 0)).collect(),
            },
            RevisionView {
                number: 2,
                version: "v2".to_owned(),
                role: RevisionRole::Canary,
                weight: Weight::from_percent(10).unwrap(),
                desired: 2,
                ready: 1,
                replicas: vec![replica(0, "ready", 0), replica(1, "starting", 2)],
            },
        ],
        analyses: vec![AnalysisView {
            run: "analysis step 3".to_owned(),
            revision: 2,
            baseline: Some(1),
            verdict: None,
            message: String::new(),
            series: Vec::new(),
            measurements: vec![
                measurement(
                    "error_rate",
                    Verdict::Failed,
                    "4.8%",
                    "error_rate 4.8% > 1% over last 30s (canary, 2,413 requests)",
                ),
                measurement("success_rate", Verdict::Successful, "99.9%", ""),
                measurement("error_rate", Verdict::Successful, "0.2%", ""),
            ],
        }],
        routing_pending: None,
        updated_at: at(3),
    }
}

#[test]
fn a_canary_in_analysis_shows_weights_replicas_and_measurements() {
    insta::assert_snapshot!(render(&canary(), Timestamp::from_millis(NOW)), @"
    api (canary)  Progressing
      Reason     canary at 10%, analysis running
      Step       3/6: analysis
      Stable     revision 1 (v1)
      Rolling to revision 2 (v2)
      Router     127.0.0.1:8080
      Updated    3s ago

    REVISION  VERSION  ROLE    WEIGHT  READY  REPLICAS
    1         v1       stable  90%     3/3    3 ready
    2         v2       canary  10%     1/2    1 ready, 1 starting (2 restarts)

    Analysis step 3 of revision 2 against revision 1: no verdict yet
      METRIC        VALUE  BASELINE  CONDITION  VERDICT     SAMPLE  WINDOW  AT
      error_rate    4.8%   0.1%      <= 1%      failed      2,413   30s     11:59:58Z
      success_rate  99.9%  0.1%      <= 1%      successful  2,413   30s     11:59:58Z
      ✗ error_rate 4.8% > 1% over last 30s (canary, 2,413 requests)
      (1 earlier measurement not shown; -o json has all)
    ");
}

#[test]
fn a_service_with_nothing_deployed_says_so() {
    let view = ServiceView {
        name: "worker".to_owned(),
        phase: Phase::Healthy,
        reason: "no revision deployed yet".to_owned(),
        strategy: "rolling".to_owned(),
        stage: Stage::Idle,
        step: None,
        steps: Vec::new(),
        stable: None,
        target: None,
        listen: None,
        preview_listen: None,
        revisions: Vec::new(),
        analyses: Vec::new(),
        routing_pending: None,
        updated_at: at(0),
    };
    insta::assert_snapshot!(render(&view, Timestamp::from_millis(NOW)), @"
    worker (rolling)  Healthy
      Reason     no revision deployed yet
      Stable     none
      Updated    just now
    ");
}

#[test]
fn status_stops_on_an_end_or_a_human_but_not_on_a_timer() {
    let mut view = canary();
    assert_eq!(settled(&view), None);
    view.phase = Phase::Paused;
    view.stage = Stage::CanaryPause { until: Some(at(0)) };
    assert_eq!(settled(&view), None);
    view.stage = Stage::CanaryPause { until: None };
    assert_eq!(settled(&view), Some(Phase::Paused));
    view.phase = Phase::Degraded;
    view.stage = Stage::Idle;
    assert_eq!(settled(&view), Some(Phase::Degraded));
    view.phase = Phase::Healthy;
    assert_eq!(settled(&view), Some(Phase::Healthy));
}

#[test]
fn event_lines_carry_time_service_kind_phase_and_notes() {
    let event = bellwether_api::EventView {
        service: "api".to_owned(),
        seq: 7,
        at: Timestamp::from_millis(NOW),
        kind: "analysis_completed".to_owned(),
        notes: vec![
            "analysis step 3 failed".to_owned(),
            "aborted: traffic back to revision 1".to_owned(),
        ],
        phase: Phase::Degraded,
        weights: Vec::new(),
    };
    assert_eq!(
        event_line(&event),
        "12:00:00Z api #7 analysis_completed Degraded: analysis step 3 failed; aborted: traffic back to revision 1"
    );
}
