//! A control plane killed with SIGKILL at arbitrary moments of a rollout: after each restart on
//! the same data dir it adopts the replicas the killed one left running and resumes the rollout
//! where its last stored event left it, so every rollout ends as it would have without the
//! kills, with no canary step entered twice or skipped.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::{BIN, COMMAND, ControlPlane, Lcg, json, steps_entered};

/// The kills, over all rollouts.
const KILLS: usize = 20;

fn view(plane: &ControlPlane) -> serde_json::Value {
    let get = plane.run(&["get", "web", "-o", "json"]);
    assert_eq!(
        get.code,
        0,
        "{get:?}\ncontrol plane log: {:#?}",
        plane.log()
    );
    json(&get)
}

/// The pids of the ready replicas of every revision, as the control plane reports them.
fn pids(view: &serde_json::Value) -> Vec<u64> {
    let mut pids: Vec<u64> = view["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["replicas"].as_array().unwrap().iter())
        .filter(|r| r["phase"] == "ready")
        .filter_map(|r| r["pid"].as_u64())
        .collect();
    pids.sort_unstable();
    pids
}

#[test]
fn killed_at_random_moments_the_control_plane_resumes_every_rollout_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let file = support::four_step_canary(dir.path());
    let mut random = Lcg(0x5eed);
    let mut plane = ControlPlane::start(&file);
    let deploy = plane.run(&["deploy", "web", "--version", "v1"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    plane.expect_status("web", 0);

    let mut kills = 0;
    let mut version = 1;
    while kills < KILLS {
        version += 1;
        let v = format!("v{version}");
        let deploy = plane.run(&["deploy", "web", "--version", &v]);
        assert_eq!(deploy.code, 0, "{deploy:?}");
        let deadline = Instant::now() + COMMAND * 2;
        loop {
            let current = view(&plane);
            if current["phase"] == "healthy" {
                assert_eq!(current["stable"]["version"], v, "{current:#}");
                break;
            }
            assert!(Instant::now() < deadline, "{v} never finished: {current:#}");
            // Somewhere in the next 1.5 s: mid-scale, mid-pause, mid-switch.
            std::thread::sleep(Duration::from_millis(random.below(1_500)));
            let before = pids(&view(&plane));
            plane.kill9();
            kills += 1;
            plane = ControlPlane::start(&file);
            adopted(&plane, &before, kills);
        }
        let (steps, numbered) = steps_entered(&plane, &v);
        let expected: Vec<String> = (1..=8).map(|i| format!("step {i}")).collect();
        assert_eq!(steps, expected, "{v}: every step entered once, in order");
        assert!(
            numbered,
            "{v}: the events are numbered without a gap or repeat"
        );
    }
    let end = plane.expect_status("web", 0);
    assert!(end.stdout.contains("Healthy"), "{end:?}");
    // Nothing is orphaned: the last control plane, stopped, stops every replica.
    // (Older revisions stay warm for a while after each promotion, for an instant undo.)
    let last = pids(&view(&plane));
    assert!(last.len() >= 2, "{last:?}");
    drop(plane);
    let deadline = Instant::now() + Duration::from_secs(20);
    while last.iter().any(|pid| alive(*pid)) {
        assert!(
            Instant::now() < deadline,
            "replicas {last:?} outlived the control plane"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until each replica that was ready before a kill is back in the control plane's view
/// (adopted, not restarted) or gone (stopped on purpose since).
fn adopted(plane: &ControlPlane, before: &[u64], kill: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let after = pids(&view(plane));
        if before.iter().all(|pid| after.contains(pid) || !alive(*pid)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "kill {kill}: replicas {before:?} running before it were neither adopted nor gone: {after:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn alive(pid: u64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// A replica's log writer is a process of its own: what the replica writes while no control
/// plane runs is in its log, stamped with when it was written, for the next one to show.
#[test]
fn output_written_while_no_control_plane_runs_is_logged_with_its_time() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bellwether.yaml");
    let yaml = format!(
        r#"services:
  ticker:
    replicas: 1
    run:
      command: ["sh", "-c", "(while :; do echo tick; sleep 0.05; done) & exec {BIN} demo-service"]
    readiness: {{ path: /health, interval: 100ms }}
"#
    );
    std::fs::write(&file, yaml).unwrap();
    let plane = ControlPlane::start(&file);
    let deploy = plane.run(&["deploy", "ticker", "--version", "v1"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    plane.expect_status("ticker", 0);
    plane.kill9();
    let killed = std::time::SystemTime::now();

    // The log file gains lines stamped after the kill.
    let log = dir.path().join(".bellwether/logs/ticker/1/0.log");
    let deadline = Instant::now() + Duration::from_secs(20);
    let after_kill = |text: &str| {
        text.lines()
            .filter_map(|l| humantime::parse_rfc3339(l.split(' ').next()?).ok())
            .filter(|t| *t > killed)
            .count()
    };
    while after_kill(&std::fs::read_to_string(&log).unwrap_or_default()) < 3 {
        assert!(
            Instant::now() < deadline,
            "no line logged after the kill in {}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let plane = ControlPlane::start(&file);
    let logs = plane.run(&["logs", "ticker", "--timestamps"]);
    assert_eq!(logs.code, 0, "{logs:?}");
    let ticks_after_kill = logs
        .stdout
        .lines()
        .filter(|l| l.ends_with("r1/0 | tick"))
        .filter_map(|l| humantime::parse_rfc3339(l.split(' ').next()?).ok())
        .filter(|t| *t > killed)
        .count();
    assert!(ticks_after_kill >= 3, "{logs:?}");
}
