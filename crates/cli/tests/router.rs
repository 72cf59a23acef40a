//! `bellwether router` and `bellwether demo-service` as users run them: real processes on
//! ephemeral loopback ports, driven over plain HTTP/1.1.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{demo, start_listening};

/// A response: status, headers (lower-cased names) and body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One request on its own connection, bounded in time.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut text = format!(
        "{method} {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    stream.write_all(text.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("a whole response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a response head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    request(addr, "GET", path, headers, "")
}

#[test]
fn demo_service_injects_errors_and_latency_and_names_its_version() {
    let service = demo(
        "v7",
        &[
            ("DEMO_ERROR_RATE", "0.5"),
            ("DEMO_FAILURES", "even"),
            ("DEMO_LATENCY", "20ms"),
            ("DEMO_LATENCY_SIGMA", "0"),
        ],
    );
    let addr = service.addrs[0];
    let health = get(addr, "/health", &[]);
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    let started = Instant::now();
    let statuses: Vec<u16> = (0..4).map(|_| get(addr, "/orders", &[]).status).collect();
    assert!(
        started.elapsed() >= Duration::from_millis(80),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(statuses, [200, 500, 200, 500]);
    let ok = get(addr, "/", &[]);
    assert_eq!(ok.header("x-demo-version"), Some("v7"));
    assert_eq!(ok.body, "hello from v7\n");
}

#[test]
fn demo_service_refuses_a_bad_environment() {
    let out = Command::new(env!("CARGO_BIN_EXE_bellwether"))
        .arg("demo-service")
        .env("PORT", "0")
        .env("DEMO_ERROR_RATE", "1.5")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: DEMO_ERROR_RATE 1.5 is outside 0 to 1\n"
    );
}

#[test]
fn standalone_router_splits_routes_and_changes_weights_through_its_admin_api() {
    let (v1, v2) = (demo("v1", &[]), demo("v2", &[]));
    let stable = format!("stable={},{}", v1.addrs[0], v1.addrs[0]);
    let canary = format!("canary={}", v2.addrs[0]);
    let router = start_listening(
        &[
            "router",
            "--listen",
            "127.0.0.1:0",
            "--backend",
            &stable,
            "--backend",
            &canary,
            "--weight",
            "canary=10",
            "--header-route",
            "canary:x-canary=1",
            "--admin",
            "127.0.0.1:0",
            "--service",
            "shop",
        ],
        &[],
        2,
    );
    let (proxy, admin) = (router.addrs[0], router.addrs[1]);
    let versions = |n: usize| -> (usize, usize) {
        let answers: Vec<String> = (0..n)
            .map(|_| {
                get(proxy, "/", &[])
                    .header("x-demo-version")
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        let v2 = answers.iter().filter(|v| *v == "v2").count();
        (answers.len() - v2, v2)
    };
    // The split is exact over 10,000 requests and within a request or two over 100.
    let first = versions(100);
    assert!((9..=11).contains(&first.1), "{first:?}");
    assert_eq!(
        get(proxy, "/", &[("x-canary", "1")]).header("x-demo-version"),
        Some("v2")
    );

    let put = request(
        admin,
        "PUT",
        "/weights",
        &[("content-type", "application/json")],
        r#"{"canary": 50}"#,
    );
    assert_eq!(put.status, 200, "{}", put.body);
    let second = versions(100);
    assert!((48..=52).contains(&second.1), "{second:?}");

    let signals = get(admin, "/signals?window=1m", &[]);
    assert!(
        signals.body.contains(r#""revision": "canary""#),
        "{}",
        signals.body
    );
    let metrics = get(admin, "/metrics", &[]).body;
    let canary_2xx = first.1 + 1 + second.1;
    let line = format!(
        r#"bellwether_router_requests_total{{service="shop",revision="canary",class="2xx"}} {canary_2xx}"#
    );
    assert!(metrics.contains(&line), "{line} not in\n{metrics}");
    assert!(
        metrics.contains(r#"bellwether_router_weight_ratio{service="shop",revision="canary"} 0.5"#),
        "{metrics}"
    );
}

#[test]
fn the_router_refuses_a_table_it_cannot_serve() {
    let out = Command::new(env!("CARGO_BIN_EXE_bellwether"))
        .args([
            "router",
            "--listen",
            "127.0.0.1:0",
            "--backend",
            "stable=127.0.0.1:9",
            "--weight",
            "canary=10",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: no revision is named `canary` (known: stable)\n"
    );
}

#[test]
fn an_admin_api_off_loopback_needs_a_token_and_with_one_every_request_presents_it() {
    let v1 = demo("v1", &[]);
    let backend = format!("stable={}", v1.addrs[0]);
    let mut refused = Command::new(env!("CARGO_BIN_EXE_bellwether"))
        .args(["router", "--listen", "127.0.0.1:0", "--backend", &backend])
        .args(["--admin", "0.0.0.0:0"])
        .env_remove("BELLWETHER_ROUTER_ADMIN_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = refused.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = refused.kill();
            panic!("the router started with an open admin API off loopback");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    refused
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let mut stdout = String::new();
    refused
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(!status.success());
    assert!(
        stderr.contains("the admin API would listen on 0.0.0.0:0, off loopback, without a token"),
        "{stderr}"
    );
    assert!(!stdout.contains("listening"), "nothing served: {stdout}");

    let router = start_listening(
        &[
            "router",
            "--listen",
            "127.0.0.1:0",
            "--backend",
            &backend,
            "--admin",
            "127.0.0.1:0",
        ],
        &[("BELLWETHER_ROUTER_ADMIN_TOKEN", "s3cret")],
        2,
    );
    let admin = router.addrs[1];
    assert_eq!(get(admin, "/table", &[]).status, 401);
    assert_eq!(
        get(admin, "/table", &[("authorization", "Bearer nope")]).status,
        401
    );
    let table = get(admin, "/table", &[("authorization", "Bearer s3cret")]);
    assert_eq!(table.status, 200, "{}", table.body);
}
