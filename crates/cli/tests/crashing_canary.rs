//! A canary that crashes costs its clients nothing: `bellwether up` runs `demo-service`
//! replicas, and the canary's exit 3 s after it starts (`DEMO_EXIT_AFTER`). Clients send `GET`s
//! through the router all along; every request the dead canary never received goes to the
//! stable revision, while the canary's signals count it as failed, so the analysis rolls the
//! canary back. The clients see no failed request.

mod support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use support::{BIN, ControlPlane, json};

fn project(dir: &Path, listen: SocketAddr) -> PathBuf {
    let file = dir.join("bellwether.yaml");
    let yaml = format!(
        r#"services:
  shop:
    replicas: 2
    listen: "{listen}"
    run:
      command: ["{BIN}", "demo-service"]
      env: {{ DEMO_VERSION: v1, DEMO_LATENCY: 1ms }}
    health: /health
    strategy:
      canary:
        steps:
          - setWeight: 20
          - pause: 60s
    analysis:
      interval: 200ms
      metrics: ["error_rate <= 1%"]
"#
    );
    std::fs::write(&file, yaml).unwrap();
    file
}

/// What the clients saw.
#[derive(Debug, Default)]
struct Seen {
    ok: u64,
    /// Answers from the canary.
    canary: u64,
    /// Anything but a 200: a status, or the error of a request that got none.
    failures: Vec<String>,
}

/// Clients sending `GET /` through the router, a connection each, until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    sent: Arc<AtomicU64>,
    clients: Vec<JoinHandle<()>>,
}

impl Load {
    fn start(addr: SocketAddr, clients: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let sent = Arc::new(AtomicU64::new(0));
        let clients = (0..clients)
            .map(|_| {
                let (stop, seen, sent) = (Arc::clone(&stop), Arc::clone(&seen), Arc::clone(&sent));
                thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let answer = get(addr);
                        sent.fetch_add(1, Ordering::Relaxed);
                        let mut seen = seen.lock().unwrap();
                        match answer {
                            Ok(text) if text.starts_with("HTTP/1.1 200 ") => {
                                seen.ok += 1;
                                if text.ends_with("hello from v2\n") {
                                    seen.canary += 1;
                                }
                            }
                            Ok(text) => seen.failures.push(text),
                            Err(e) => seen.failures.push(e.to_string()),
                        }
                    }
                })
            })
            .collect();
        Self {
            stop,
            seen,
            sent,
            clients,
        }
    }

    /// Waits until the clients have sent `n` more requests, at most a minute.
    fn more(&self, n: u64) {
        let until = self.sent.load(Ordering::Relaxed) + n;
        for _ in 0..6_000 {
            if self.sent.load(Ordering::Relaxed) >= until {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        panic!("the load stalled: {:?}", self.seen.lock().unwrap());
    }

    fn stop(mut self) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        for client in self.clients.drain(..) {
            client.join().unwrap();
        }
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

/// One `GET /` on its own connection: the whole answer.
fn get(addr: SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(b"GET / HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n")?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap()
}

#[test]
fn a_crashing_canary_is_rolled_back_and_no_client_request_fails() {
    let dir = tempfile::tempdir().unwrap();
    let listen = free_addr();
    let plane = ControlPlane::start(&project(dir.path(), listen));
    let deploy = plane.run(&["deploy", "shop", "--version", "v1"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    let status = plane.run(&["status", "shop", "--timeout", "120s"]);
    assert_eq!(status.code, 0, "{status:?}");

    let load = Load::start(listen, 4);
    load.more(100);
    let deploy = plane.run(&[
        "deploy",
        "shop",
        "--version",
        "v2",
        "--env",
        "DEMO_VERSION=v2",
        "--env",
        "DEMO_EXIT_AFTER=3s",
    ]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    let status = plane.run(&["status", "shop", "--timeout", "120s"]);
    assert_eq!(
        status.code,
        1,
        "{status:?}\n{:#}\ncontrol plane log: {:#?}",
        json(&plane.run(&["get", "shop", "-o", "json"])),
        plane.log()
    );
    // Requests go on after the rollback, to v1 alone.
    load.more(200);
    let seen = load.stop();

    let view = json(&plane.run(&["get", "shop", "-o", "json"]));
    assert_eq!(view["stable"]["version"], "v1", "{view:#}");
    let canary_weight: f64 = view["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["version"] == "v2")
        .map(|r| r["weight"].as_f64().unwrap_or(0.0))
        .sum();
    assert_eq!(canary_weight, 0.0, "{view:#}");
    let reason = view["reason"].as_str().unwrap();
    assert!(reason.contains("error_rate"), "{view:#}");
    assert!(
        seen.canary > 0,
        "the canary took requests before it crashed: {seen:?}"
    );
    eprintln!(
        "{} GET requests answered 200 ({} by the canary), {} failed",
        seen.ok,
        seen.canary,
        seen.failures.len()
    );
    assert_eq!(
        seen.failures.len(),
        0,
        "failed at the client: {:#?}",
        &seen.failures[..seen.failures.len().min(20)]
    );
}
