//! Operator commands on a rollout: pause, resume, promote, abort, retry, undo, the emergency
//! rollback of everything; commands the rollout's state does not allow are refused and leave
//! no trace.

use std::time::Duration;

use bellwether_api::{DeployRequest, ServiceView};
use bellwether_controller::{ControlError, ControlPlane};
use bellwether_core::rollout::{Command, Phase, Revision};

use crate::harness::{DataDir, bounded, deploy, healthy_at, project, until};

const SERVICES: &str = r#"
services:
  api:
    replicas: 1
    run:
      command: [python3, "{script}"]
      env: {VERSION: v1}
    readiness: {path: /health, interval: 100ms}
    progressDeadline: 30s
    strategy:
      canary:
        steps:
          - setWeight: 50
          - pause: {}
        scaleDownDelay: 30s
        abortScaleDownDelay: 1s
  web:
    replicas: 1
    dependsOn: [api]
    run:
      command: [python3, "{script}"]
    readiness: {path: /health, interval: 100ms}
    strategy:
      canary:
        steps:
          - pause: {}
"#;

const LIMIT: Duration = Duration::from_secs(30);

/// Deploys `version` of `service` and waits for the canary's pause until promoted.
async fn at_pause(plane: &ControlPlane, service: &str, version: &str) {
    plane
        .deploy(service, deploy(version, &[("VERSION", version)]))
        .await
        .unwrap();
    until(plane, service, "the pause", LIMIT, |v| {
        v.phase == Phase::Paused
            && v.step
                .as_ref()
                .is_some_and(|s| s.description == "pause until promoted")
    })
    .await;
}

async fn command(plane: &ControlPlane, c: Command) -> Result<ServiceView, ControlError> {
    plane.command("api", c, "operator").await
}

/// Asserts `outcome` is a rejection saying `why`, and that nothing was stored.
async fn rejected(plane: &ControlPlane, c: Command, why: &str) {
    let before = plane.history("api").unwrap().len();
    match command(plane, c).await {
        Err(ControlError::Rejected(r)) => assert!(r.to_string().contains(why), "{r}"),
        other => panic!("expected a rejection saying `{why}`, got {other:?}"),
    }
    assert_eq!(
        plane.history("api").unwrap().len(),
        before,
        "a rejected command is not stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_steer_the_rollout_and_wrong_ones_are_refused() {
    bounded(async {
        let dir = DataDir::new();
        let plane = dir.start(project(SERVICES)).await;
        plane.deploy("api", deploy("v1", &[])).await.unwrap();
        until(&plane, "api", "v1 stable", LIMIT, |v| healthy_at(v, "v1")).await;

        // Pause and resume hold the rollout; a second pause is refused.
        at_pause(&plane, "api", "v2").await;
        let view = command(&plane, Command::Pause).await.unwrap();
        assert_eq!(view.reason, "paused by operator");
        rejected(&plane, Command::Pause, "already paused").await;
        command(&plane, Command::Resume).await.unwrap();
        rejected(&plane, Command::Resume, "not paused").await;

        // Promote completes the pause; v2 is promoted.
        command(&plane, Command::Promote { full: false })
            .await
            .unwrap();
        until(&plane, "api", "v2 stable", LIMIT, |v| healthy_at(v, "v2")).await;
        rejected(
            &plane,
            Command::Promote { full: false },
            "no rollout is in progress",
        )
        .await;

        // Undo goes back to v1, still warm: at once.
        let view = plane.undo("api", None, "operator").await.unwrap();
        assert!(healthy_at(&view, "v1"), "{view:#?}");
        assert!(view.reason.contains("still warm"), "{}", view.reason);

        // Abort sends everything back to the stable revision; promote is then refused.
        at_pause(&plane, "api", "v3").await;
        let abort = Command::Abort {
            reason: Some("checking the abort".to_owned()),
        };
        let view = command(&plane, abort).await.unwrap();
        assert_eq!(
            (view.phase, view.reason.as_str()),
            (Phase::Degraded, "checking the abort")
        );
        rejected(
            &plane,
            Command::Promote { full: false },
            "was aborted; use retry or undo",
        )
        .await;

        // Retry starts again from the first step; undo ends it.
        command(&plane, Command::Retry).await.unwrap();
        until(&plane, "api", "the pause again", LIMIT, |v| {
            v.phase == Phase::Paused
        })
        .await;
        let view = plane.undo("api", None, "operator").await.unwrap();
        assert!(view.target.is_none() && view.stable.as_ref().unwrap().version == "v1");

        // Undo to a named revision: v2 is still warm.
        let view = plane.undo("api", Some(2), "operator").await.unwrap();
        assert!(healthy_at(&view, "v2"), "{view:#?}");
        match plane.undo("api", Some(99), "operator").await {
            Err(ControlError::Invalid(why)) => {
                assert!(
                    why.contains("revision 99 of `api` is not in its revision history"),
                    "{why}"
                )
            }
            other => panic!("expected an invalid request, got {other:?}"),
        }

        // promote --full skips the remaining steps.
        at_pause(&plane, "api", "v4").await;
        command(&plane, Command::Promote { full: true })
            .await
            .unwrap();
        until(&plane, "api", "v4 stable", LIMIT, |v| healthy_at(v, "v4")).await;
        let revisions = plane.revisions("api").unwrap();
        let numbers: Vec<(u64, bool)> = revisions.iter().map(|r| (r.number, r.stable)).collect();
        assert_eq!(numbers, [(1, false), (2, false), (3, false), (4, true)]);

        // The emergency rollback aborts web before api, which it depends on.
        plane.deploy("web", deploy("w1", &[])).await.unwrap();
        until(&plane, "web", "w1 stable", LIMIT, |v| healthy_at(v, "w1")).await;
        at_pause(&plane, "web", "w2").await;
        at_pause(&plane, "api", "v5").await;
        let results = plane
            .rollback_all(Some("incident".to_owned()), "operator")
            .await;
        let order: Vec<(&str, bool)> = results
            .iter()
            .map(|r| (r.service.as_str(), r.error.is_none()))
            .collect();
        assert_eq!(order, [("web", true), ("api", true)]);
        for service in ["web", "api"] {
            let view = plane.get(service).unwrap();
            assert_eq!(
                (view.phase, view.reason.as_str()),
                (Phase::Degraded, "emergency rollback by operator: incident")
            );
        }
        assert!(plane.rollback_all(None, "operator").await.is_empty());
        plane.shutdown(true).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_clear_errors() {
    bounded(async {
        let dir = DataDir::new();
        let plane = dir.start(project(SERVICES)).await;
        match plane.deploy("nope", deploy("v1", &[])).await {
            Err(e @ ControlError::UnknownService(_)) => {
                assert_eq!(e.to_string(), "no service named `nope`")
            }
            other => panic!("expected an unknown service, got {other:?}"),
        }
        assert!(matches!(
            plane.get("nope"),
            Err(ControlError::UnknownService(_))
        ));
        assert!(matches!(
            plane.command("nope", Command::Pause, "x").await,
            Err(ControlError::UnknownService(_))
        ));
        let cases = [
            (deploy(" ", &[]), "a deploy needs a version"),
            (deploy("v1", &[("PORT", "1")]), "PORT is set by bellwether"),
            (
                deploy("v1", &[("A=B", "1")]),
                "`A=B` is not an environment variable name",
            ),
            (
                DeployRequest {
                    command: Some(vec![]),
                    ..deploy("v1", &[])
                },
                "the command is empty",
            ),
        ];
        for (request, why) in cases {
            match plane.deploy("api", request).await {
                Err(ControlError::Invalid(e)) => assert!(e.contains(why), "{e}"),
                other => panic!("expected `{why}`, got {other:?}"),
            }
        }
        assert!(plane.revisions("api").unwrap().is_empty());
        assert!(plane.history("api").unwrap().is_empty());
        let undo = plane.undo("api", None, "x").await;
        assert!(matches!(undo, Err(ControlError::Invalid(_))), "{undo:?}");
        rejected(
            &plane,
            Command::Abort { reason: None },
            "no rollout is in progress",
        )
        .await;
        plane.shutdown(true).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revision_that_cannot_start_is_aborted_and_the_stable_one_keeps_serving() {
    bounded(async {
        let dir = DataDir::new();
        let plane = dir.start(project(SERVICES)).await;
        plane.deploy("api", deploy("v1", &[])).await.unwrap();
        let view = until(&plane, "api", "v1 stable", LIMIT, |v| healthy_at(v, "v1")).await;
        let load = crate::harness::Load::start(view.listen.unwrap(), 2);

        let missing = DeployRequest {
            command: Some(vec!["/nonexistent/program".to_owned()]),
            ..deploy("v2", &[])
        };
        plane.deploy("api", missing).await.unwrap();
        let view = until(&plane, "api", "v2 aborted", LIMIT, |v| {
            v.phase == Phase::Degraded
        })
        .await;
        assert!(
            view.reason
                .starts_with("revision 2 (v2) cannot start: replica 0 failed 3 times"),
            "{}",
            view.reason
        );
        assert!(
            view.reason.contains("/nonexistent/program"),
            "{}",
            view.reason
        );
        let v1 = Revision {
            number: 1,
            version: "v1".to_owned(),
        };
        assert_eq!(view.stable, Some(v1));

        let exits = DeployRequest {
            command: Some(vec![
                "python3".into(),
                "-c".into(),
                "raise SystemExit(3)".into(),
            ]),
            ..deploy("v3", &[])
        };
        plane.deploy("api", exits).await.unwrap();
        let view = until(&plane, "api", "v3 aborted", LIMIT, |v| {
            v.phase == Phase::Degraded && v.target.as_ref().is_some_and(|t| t.number == 3)
        })
        .await;
        assert!(
            view.reason.contains("exited with status 3"),
            "{}",
            view.reason
        );

        let seen = load.more(50).await;
        assert_eq!(seen.of(200, "v1"), seen.total(), "{seen:?}");
        plane.shutdown(true).await;
    })
    .await;
}
