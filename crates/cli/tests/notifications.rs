//! Notifications from a real control plane to real receivers on loopback: a Slack-format one,
//! a signed webhook whose receiver is down for the first 30 seconds, one that answers 429 before
//! it accepts, one that never answers, a program, and a program that always fails. The
//! rollout and the run go on at their own pace; nothing is lost across the outage; what was
//! given up on is listed.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{COMMAND, ControlPlane, committed_project, eventually, set_secret};

/// How long the webhook's receiver is down after the control plane starts.
const OUTAGE: Duration = Duration::from_secs(30);

/// How a receiver answers.
#[derive(Clone, Copy)]
enum Mode {
    Ok,
    /// 429 with `Retry-After: 1` to the first request, then 200.
    Limited,
    /// Reads the request and never answers.
    Hangs,
}

/// A request as received: its headers (lower-cased names) and body.
type Request = (Vec<(String, String)>, Vec<u8>);
type Received = Arc<Mutex<Vec<Request>>>;

fn receiver(listener: TcpListener, mode: Mode) -> Received {
    let received: Received = Arc::default();
    let seen = Arc::clone(&received);
    thread::spawn(move || {
        let mut answered = 0;
        for stream in listener.incoming().map_while(Result::ok) {
            let Some((headers, body)) = read_request(&stream) else {
                continue;
            };
            seen.lock().unwrap().push((headers, body));
            let mut stream = stream;
            let reply: &[u8] = match mode {
                Mode::Hangs => {
                    // Held open until the client gives up.
                    thread::spawn(move || {
                        thread::sleep(Duration::from_secs(60));
                        drop(stream);
                    });
                    continue;
                }
                Mode::Limited if answered == 0 => {
                    b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                }
                _ => b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
            };
            answered += 1;
            let _ = stream.write_all(reply);
        }
    });
    received
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (k, v) = trimmed.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((headers, body))
}

fn bodies(received: &Received) -> Vec<Value> {
    received
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(_, b)| serde_json::from_slice(b).ok())
        .collect()
}

#[test]
fn notices_reach_every_receiver_through_outages_refusals_and_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let bind = || TcpListener::bind("127.0.0.1:0").unwrap();
    let (chat, limited, hangs) = (bind(), bind(), bind());
    // The webhook's receiver is down at first: its port is known, nothing listens on it.
    let hook_port = bind().local_addr().unwrap().port();
    let port = |l: &TcpListener| l.local_addr().unwrap().port();
    let (chat_port, limited_port, hangs_port) = (port(&chat), port(&limited), port(&hangs));
    let chat = receiver(chat, Mode::Ok);
    let limited = receiver(limited, Mode::Limited);
    let hangs = receiver(hangs, Mode::Hangs);
    let told = dir.path().join("told.jsonl");

    let file = committed_project(
        &dir.path().join("repo"),
        &format!(
            r#"services:
  shop:
    replicas: 1
    run: {{ command: ["{bin}", "demo-service"] }}
    readiness: {{ path: /health, interval: 100ms }}
    strategy: {{ canary: {{ steps: [{{ setWeight: 50 }}, {{ pause: 1s }}] }} }}
pipelines:
  ci:
    on: {{ manual: {{}} }}
    jobs:
      build: {{ steps: [{{ run: echo built }}] }}
notifications:
  chat:
    slack: {{ urlSecret: CHAT_HOOK }}
    on: [rollout_started, promoted, run_succeeded]
  hook:
    webhook: {{ url: "http://127.0.0.1:{hook_port}/hook", signingSecret: HOOK_KEY }}
    services: [shop]
  limited:
    webhook: {{ url: "http://127.0.0.1:{limited_port}/" }}
    on: [promoted]
  hangs:
    webhook: {{ url: "http://127.0.0.1:{hangs_port}/" }}
    on: [promoted]
    attempts: 2
  program:
    command: ["sh", "-c", "cat >> '{told}'; echo >> '{told}'"]
    on: [run_started, run_succeeded]
  broken:
    command: ["false"]
    on: [promoted]
    attempts: 2
"#,
            bin = support::BIN,
            told = told.display()
        ),
    );
    set_secret(
        &file,
        "CHAT_HOOK",
        None,
        &format!("http://127.0.0.1:{chat_port}/services/T0/B0/x"),
    );
    set_secret(&file, "HOOK_KEY", None, "k3y shared with the receiver");
    let plane = ControlPlane::start(&file);
    let down_since = Instant::now();

    for version in ["v1", "v2"] {
        assert_eq!(plane.run(&["deploy", "shop", "--version", version]).code, 0);
        let done = plane.run(&["status", "shop", "--timeout", "60s"]);
        assert_eq!(done.code, 0, "{done:?}");
    }
    // Nothing waited for a receiver: v2 is promoted while the hanging receiver still holds the
    // notice of v1's promotion (10 s per attempt, two attempts) and v2's waits behind it.
    // The notice of v2's promotion is queued just after the promotion is stored.
    let hanging: Vec<String> = eventually(&plane, "both promotions' notices", COMMAND, || {
        let listed = plane.run(&["notifications", "-o", "json"]);
        let all: Vec<Value> = serde_json::from_str(&listed.stdout).ok()?;
        let hanging: Vec<String> = all
            .iter()
            .filter(|d| d["target"] == "hangs")
            .filter_map(|d| d["status"].as_str().map(str::to_owned))
            .collect();
        (hanging.len() == 2).then_some(hanging)
    });
    assert_eq!(hanging, ["queued", "queued"]);
    assert_eq!(plane.run(&["dispatch", "ci"]).code, 0);

    // The webhook's receiver is down for 30 s: notices are tried and refused meanwhile.
    eventually(&plane, "a refused attempt", COMMAND, || {
        let listed = plane.run(&["notifications", "-o", "json"]);
        let all: Vec<Value> = serde_json::from_str(&listed.stdout).ok()?;
        all.iter()
            .any(|d| d["target"] == "hook" && d["attempts"].as_u64() >= Some(1))
            .then_some(())
    });
    // The outage is the scenario, not a wait for something to happen.
    thread::sleep(OUTAGE.saturating_sub(down_since.elapsed()));
    let hook = receiver(
        TcpListener::bind(("127.0.0.1", hook_port)).unwrap(),
        Mode::Ok,
    );

    let kinds = |received: &Received| -> Vec<String> {
        bodies(received)
            .iter()
            .filter_map(|b| b["kind"].as_str().map(str::to_owned))
            .collect()
    };
    eventually(&plane, "every notice delivered", COMMAND, || {
        let listed = plane.run(&["notifications", "-o", "json"]);
        let all: Vec<Value> = serde_json::from_str(&listed.stdout).ok()?;
        let run_done = all
            .iter()
            .any(|d| d["target"] == "program" && d["notice"]["kind"] == "run_succeeded");
        let settled = all.iter().all(|d| d["status"] != "queued");
        (run_done && settled).then_some(())
    });

    // Slack: the promotions and starts, as messages with blocks and a link to the dashboard.
    let messages = bodies(&chat);
    let texts: Vec<&str> = messages.iter().filter_map(|m| m["text"].as_str()).collect();
    assert!(
        texts
            .iter()
            .filter(|t| t.starts_with("rollout_started"))
            .count()
            == 2
            && texts.iter().filter(|t| t.starts_with("promoted")).count() == 2
            && texts.iter().any(|t| t.starts_with("run_succeeded")),
        "{texts:#?}"
    );
    let promoted = messages
        .iter()
        .find(|m| {
            m["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("promoted"))
        })
        .unwrap();
    let blocks = promoted["blocks"].to_string();
    assert!(
        blocks.contains("*shop*")
            && blocks.contains("version `v1`")
            && blocks.contains("/#/services/shop|open in bellwether>"),
        "{blocks}"
    );

    // The webhook: everything about `shop`, none lost to the outage, each signed.
    let hook_kinds = kinds(&hook);
    for kind in ["rollout_started", "step", "promoted"] {
        assert!(
            hook_kinds.iter().any(|k| k == kind),
            "{kind}: {hook_kinds:?}"
        );
    }
    assert!(
        !hook_kinds.iter().any(|k| k == "paused"),
        "a timed pause waits for nobody: {hook_kinds:?}"
    );
    assert!(
        !hook_kinds.iter().any(|k| k.starts_with("run_")),
        "{hook_kinds:?}"
    );
    for (headers, body) in hook.lock().unwrap().iter() {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(
            header("x-bellwether-signature-256"),
            bellwether_triggers::webhook::sign(b"k3y shared with the receiver", body)
        );
        assert!(header("x-bellwether-delivery").starts_with("hook/shop/"));
    }
    let listed = plane.run(&["notifications", "-o", "json"]);
    let all: Vec<Value> = serde_json::from_str(&listed.stdout).unwrap();
    let hook_deliveries: Vec<&Value> = all.iter().filter(|d| d["target"] == "hook").collect();
    assert_eq!(
        hook_deliveries.len(),
        hook_kinds.len(),
        "each delivered once"
    );
    assert!(hook_deliveries.iter().all(|d| d["status"] == "delivered"));

    // 429 first, then accepted after the second it asked for.
    assert_eq!(kinds(&limited), ["promoted", "promoted", "promoted"]);
    let limited_attempts: Vec<u64> = all
        .iter()
        .filter(|d| d["target"] == "limited")
        .filter_map(|d| d["attempts"].as_u64())
        .collect();
    assert_eq!(limited_attempts, [2, 1]);

    // The program got the run's notices as JSON on standard input.
    let program: Vec<Value> = std::fs::read_to_string(&told)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let program_kinds: Vec<&str> = program.iter().filter_map(|n| n["kind"].as_str()).collect();
    assert_eq!(program_kinds, ["run_started", "run_succeeded"]);
    assert_eq!(program[1]["pipeline"], "ci");

    // Given up on: the hanging receiver and the failing program, each after two attempts.
    let failed = plane.run(&["notifications", "--failed", "-o", "json"]);
    let failed: Vec<Value> = serde_json::from_str(&failed.stdout).unwrap();
    let mut targets: Vec<(&str, u64)> = failed
        .iter()
        .map(|d| {
            (
                d["target"].as_str().unwrap(),
                d["attempts"].as_u64().unwrap(),
            )
        })
        .collect();
    targets.sort_unstable();
    assert_eq!(
        targets,
        [("broken", 2), ("broken", 2), ("hangs", 2), ("hangs", 2)]
    );
    assert!(!hangs.lock().unwrap().is_empty());
    let text = plane.run(&["notifications", "--failed"]);
    assert!(
        text.stdout.contains("no answer within 10s") && text.stdout.contains("`false` ended with"),
        "{}",
        text.stdout
    );
}
