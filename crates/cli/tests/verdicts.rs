//! Verdicts under real noise, end to end: `bellwether up` runs `demo-service` replicas that fail
//! each request independently at random, clients send traffic through the router, and the
//! builtin `error_rate <= 10%` decides on every request since the analysis began.
//!
//! The counts are chosen so that this test fails by bad luck with probability below 0.1%. At
//! `confidence: 99.95%` the confidence sequence fails a canary at or below its threshold, and
//! passes one above it, each with probability at most 0.05% however often it looks (the
//! guarantee of `crates/analysis/src/sequential.rs`). In 20,000 simulated canaries with this
//! prior and confidence, a canary failing 5% of requests (half the threshold) passed within
//! 1,552 canary requests in 99.9% of them, and one failing 50% (5×) failed within 61; here the
//! canary receives thousands of requests within the time limits.
//!
//! The canary-versus-baseline judge gets the same treatment: at 99.95% its confidence sequences
//! call identical revisions a regression with probability at most 0.05% over the whole judge,
//! and a canary failing 30% of requests against a baseline failing 2% is shown worse within a
//! few hundred canary requests.

mod support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use support::{BIN, ControlPlane, json};

/// The service's strategy and analysis, below `strategy:`.
const THRESHOLD: &str = r#"      canary:
        steps:
          - setWeight: 50
          - pause: 1s
    analysis:
      interval: 200ms
      confidence: 99.95%
      metrics: ["error_rate <= 10%"]
"#;

/// A canary judged against its baseline alone, over 50 intervals of 200 ms.
const JUDGE: &str = r#"      canary:
        steps:
          - setWeight: 50
          - analysis: { judge: true }
    analysis:
      metrics: ["error_rate <= 90%"]
      judge:
        interval: 200ms
        count: 50
        confidence: 99.95%
        metrics:
          - { metric: error_rate, direction: increase, critical: true }
"#;

fn project(dir: &Path, listen: SocketAddr, strategy: &str) -> PathBuf {
    let file = dir.join("bellwether.yaml");
    let yaml = format!(
        r#"services:
  shop:
    replicas: 1
    listen: "{listen}"
    run:
      command: ["{BIN}", "demo-service"]
      env: {{ DEMO_VERSION: v1, DEMO_LATENCY: 1ms }}
    health: /health
    strategy:
{strategy}"#
    );
    std::fs::write(&file, yaml).unwrap();
    file
}

/// Clients sending `GET /` through the router, a new connection each, until dropped.
struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    clients: Vec<JoinHandle<()>>,
}

impl Load {
    fn start(addr: SocketAddr, clients: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let clients = (0..clients)
            .map(|_| {
                let (stop, sent) = (Arc::clone(&stop), Arc::clone(&sent));
                thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        if get(addr).is_ok() {
                            sent.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        Self {
            stop,
            sent,
            clients,
        }
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for client in self.clients.drain(..) {
            let _ = client.join();
        }
    }
}

fn get(addr: SocketAddr) -> std::io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"GET / HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n")?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(())
}

fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap()
}

/// Waits for `status` to exit with `code` within two minutes, showing everything if not.
fn expect_status(plane: &ControlPlane, code: i32) {
    let outcome = plane.run(&["status", "shop", "--timeout", "120s"]);
    assert_eq!(
        outcome.code,
        code,
        "{outcome:?}\n{:#}\ncontrol plane log: {:#?}",
        json(&plane.run(&["get", "shop", "-o", "json"])),
        plane.log()
    );
}

/// Every note of the service's history about an analysis verdict.
fn verdicts(plane: &ControlPlane) -> Vec<String> {
    let history = json(&plane.run(&["history", "shop", "-o", "json"]));
    history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "analysis_completed")
        .flat_map(|e| e["notes"].as_array().unwrap().iter())
        .filter_map(|n| n.as_str().map(str::to_owned))
        .collect()
}

/// Deploys `version` of the shop failing `error_rate` of its requests at random.
fn deploy(plane: &ControlPlane, version: &str, error_rate: &str) {
    let env = [
        format!("DEMO_VERSION={version}"),
        format!("DEMO_ERROR_RATE={error_rate}"),
    ];
    let outcome = plane.run(&[
        "deploy",
        "shop",
        "--version",
        version,
        "--env",
        &env[0],
        "--env",
        &env[1],
    ]);
    assert_eq!(outcome.code, 0, "{outcome:?}");
}

#[test]
fn a_canary_at_half_its_threshold_is_promoted_and_one_at_five_times_is_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let listen = free_addr();
    let plane = ControlPlane::start(&project(dir.path(), listen, THRESHOLD));
    let deploy = |version: &str, error_rate: &str| deploy(&plane, version, error_rate);
    deploy("v1", "0");
    expect_status(&plane, 0);
    let load = Load::start(listen, 4);

    // Half the threshold, at random: promoted once the interval lies below 10%.
    deploy("v2", "0.05");
    expect_status(&plane, 0);
    let view = json(&plane.run(&["get", "shop", "-o", "json"]));
    assert_eq!(view["stable"]["version"], "v2", "{view:#}");
    let passed = verdicts(&plane);
    assert!(
        passed.iter().any(|m| m.contains("99.95% CI")
            && m.contains("requests since")
            && m.contains("< 10%")),
        "{passed:#?}"
    );

    // Five times the threshold: rolled back with the interval and the counts in the reason.
    deploy("v3", "0.5");
    expect_status(&plane, 1);
    let view = json(&plane.run(&["get", "shop", "-o", "json"]));
    let reason = view["reason"].as_str().unwrap();
    assert!(
        reason.contains("error_rate") && reason.contains("99.95% CI") && reason.contains("> 10%"),
        "{view:#}"
    );
    assert_eq!(view["stable"]["version"], "v2", "{view:#}");
    // The rollback is bellwether's own decision, in the audit trail with its reason.
    let audit = plane.run(&["audit", "--service", "shop", "-o", "json"]);
    let decided = audit.stdout.lines().any(|line| {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        let e = &entry["entry"];
        e["actor"] == "bellwether"
            && e["action"] == "rollout Degraded"
            && e["reason"]
                .as_str()
                .is_some_and(|r| r.contains("error_rate"))
    });
    assert!(decided, "{}", audit.stdout);

    // A retry judges fresh evidence: without new requests it waits, whatever the old ones said.
    let before = load.sent();
    drop(load);
    assert!(before > 0);
    let retry = plane.run(&["retry", "shop"]);
    assert_eq!(retry.code, 0, "{retry:?}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let view = json(&plane.run(&["get", "shop", "-o", "json"]));
        assert_ne!(
            view["phase"], "degraded",
            "aborted on old evidence: {view:#}"
        );
        let waiting = view["analyses"].as_array().unwrap().iter().any(|a| {
            a["measurements"].as_array().unwrap().iter().any(|m| {
                m["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("no requests to the canary since"))
            })
        });
        if waiting {
            break;
        }
        assert!(Instant::now() < deadline, "never measured: {view:#}");
        thread::sleep(Duration::from_millis(100));
    }
    let abort = plane.run(&["abort", "shop"]);
    assert_eq!(abort.code, 0, "{abort:?}");
}

#[test]
fn the_judge_promotes_a_canary_like_its_baseline_and_fails_a_worse_one_early() {
    let dir = tempfile::tempdir().unwrap();
    let listen = free_addr();
    let plane = ControlPlane::start(&project(dir.path(), listen, JUDGE));
    let deploy = |version: &str, error_rate: &str| deploy(&plane, version, error_rate);
    deploy("v1", "0.02");
    expect_status(&plane, 0);
    let _load = Load::start(listen, 4);

    // Failing as often as the baseline, at random: no regression shown in 50 intervals.
    deploy("v2", "0.02");
    expect_status(&plane, 0);
    let view = json(&plane.run(&["get", "shop", "-o", "json"]));
    assert_eq!(view["stable"]["version"], "v2", "{view:#}");

    // 30% against 2%: the critical metric fails the judge before its last interval, with both
    // intervals and the counts in the reason.
    deploy("v3", "0.3");
    expect_status(&plane, 1);
    let view = json(&plane.run(&["get", "shop", "-o", "json"]));
    let reason = view["reason"].as_str().unwrap();
    assert!(
        reason.contains("judge failed on a critical metric after")
            && reason.contains("of 50 intervals")
            && reason.contains("99.95% CIs")
            && reason.contains("requests since"),
        "{view:#}"
    );
    assert_eq!(view["stable"]["version"], "v2", "{view:#}");
}
