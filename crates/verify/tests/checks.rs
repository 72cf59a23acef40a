//! Each kind of check against a real server on loopback: it passes, and it fails with the
//! message that says what was seen and what was expected.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use bellwether_core::spec::{
    BodyMatch, CheckSpec, CheckTarget, Expect, HeaderExpect, HttpCheck, StatusRange, TlsCheck,
};
use bellwether_verify::{CheckReport, Checker, parse_json_expect};
use support::Server;

fn check(target: CheckTarget) -> CheckSpec {
    CheckSpec {
        name: "c".into(),
        target,
        max_time: Duration::from_secs(5),
        retries: 0,
        backoff: Duration::from_millis(10),
    }
}

fn http(url: String, expect: Expect) -> CheckSpec {
    check(CheckTarget::Http(HttpCheck {
        expect,
        ..HttpCheck::get(url)
    }))
}

async fn run(spec: &CheckSpec) -> CheckReport {
    tokio::time::timeout(Duration::from_secs(20), Checker::new().run(spec, None))
        .await
        .expect("a check ends within its time")
}

#[tokio::test]
async fn status_body_json_and_headers() {
    let server = Server::plain().await;
    let all = Expect {
        status: vec![StatusRange::parse("200").unwrap()],
        body: Some(BodyMatch::Regex(r#""replicas":\d"#.into())),
        json: vec![parse_json_expect("$.status=ok").unwrap()],
        headers: vec![HeaderExpect {
            name: "X-Version".into(),
            value: Some("7".into()),
        }],
    };
    let passed = run(&http(server.url("/ok"), all.clone())).await;
    assert!(passed.passed, "{passed}");
    assert_eq!(passed.measured.status, Some(200));
    assert_eq!(passed.measured.body_bytes, Some(28));
    assert!(passed.measured.time_ms.is_some());

    let failed = run(&http(server.url("/down"), all)).await;
    assert!(!failed.passed);
    assert_eq!(
        failed.failures,
        [
            "status 503 (expected 200)",
            r#"body does not match /"replicas":\d/: maintenance"#,
            "body is not JSON (expected value at line 1 column 1): maintenance",
        ]
    );
    let line = failed.to_string();
    assert!(
        line.starts_with(&format!("✗ c GET {} → 503, ", server.url("/down"))),
        "{line}"
    );

    let contains = Expect {
        body: Some(BodyMatch::Contains("healthy".into())),
        ..Expect::default()
    };
    let failed = run(&http(server.url("/ok"), contains)).await;
    assert_eq!(
        failed.failures,
        [r#"body does not contain "healthy": {"status":"ok","replicas":3}"#]
    );
}

#[tokio::test]
async fn request_headers_and_methods_are_sent() {
    let server = Server::plain().await;
    let mut spec = HttpCheck::get(server.url("/echo"));
    spec.headers = BTreeMap::from([("x-token".to_owned(), "s3".to_owned())]);
    spec.method = "POST".into();
    spec.body = Some("{}".into());
    spec.expect.body = Some(BodyMatch::Contains("s3".into()));
    let report = run(&check(CheckTarget::Http(spec))).await;
    assert!(report.passed, "{report}");
    assert!(
        report.target.starts_with("POST http://"),
        "{}",
        report.target
    );
}

#[tokio::test]
async fn a_slow_answer_fails_at_max_time() {
    let server = Server::plain().await;
    let mut spec = http(server.url("/slow"), Expect::default());
    spec.max_time = Duration::from_millis(300);
    let report = run(&spec).await;
    assert_eq!(report.failures, ["no answer within 300ms"]);
    let ms = report.measured.time_ms.unwrap();
    assert!((300.0..5000.0).contains(&ms), "{ms}");
}

#[tokio::test]
async fn retries_until_it_passes_or_they_run_out() {
    let server = Server::plain().await;
    let once = run(&http(server.url("/flaky"), Expect::default())).await;
    assert_eq!((once.passed, once.attempts), (false, 1));
    assert_eq!(once.failures, ["status 500 (expected 2xx)"]);

    let server = Server::plain().await;
    let mut spec = http(server.url("/flaky"), Expect::default());
    spec.retries = 3;
    let report = run(&spec).await;
    assert_eq!((report.passed, report.attempts), (true, 3), "{report}");
    assert!(report.to_string().ends_with("(attempt 3)"), "{report}");

    let server = Server::plain().await;
    spec = http(server.url("/down"), Expect::default());
    spec.retries = 2;
    let report = run(&spec).await;
    assert_eq!((report.passed, report.attempts), (false, 3));
}

#[tokio::test]
async fn a_body_too_large_fails() {
    let server = Server::plain().await;
    let report = run(&http(server.url("/big"), Expect::default())).await;
    assert_eq!(report.failures, ["the body is larger than 4 MiB"]);
}

#[tokio::test]
async fn paths_are_taken_against_the_address_under_test() {
    let server = Server::plain().await;
    let spec = http("/ok".into(), Expect::default());
    let alone = run(&spec).await;
    assert_eq!(
        alone.failures,
        ["`/ok` is a path: give the address to check it against (`--target`)"]
    );
    let checker = Checker::new();
    for base in [server.address.to_string(), server.url("/")] {
        let report = checker.run(&spec, Some(&base)).await;
        assert!(report.passed, "{base}: {report}");
        assert_eq!(report.target, format!("GET {}", server.url("/ok")));
    }
    let bad = run(&http("ftp://x/".into(), Expect::default())).await;
    assert_eq!(
        bad.failures,
        ["`ftp://x/` is neither an http:// or https:// URL nor a path starting with /"]
    );
}

#[tokio::test]
async fn tcp_connects_or_says_why_not() {
    let server = Server::plain().await;
    let open = run(&check(CheckTarget::Tcp {
        address: server.address.to_string(),
        tls: None,
    }))
    .await;
    assert!(open.passed, "{open}");
    assert_eq!(open.target, format!("tcp {}", server.address));

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let refused = run(&check(CheckTarget::Tcp {
        address: closed.to_string(),
        tls: None,
    }))
    .await;
    assert_eq!(refused.failures.len(), 1);
    assert!(
        refused.failures[0].starts_with(&format!("cannot connect to {closed}: ")),
        "{refused}"
    );
}

#[tokio::test]
async fn a_certificate_that_expires_in_three_days_fails_fourteen() {
    let server = Server::tls(3).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, server.certificate_pem.as_ref().unwrap()).unwrap();
    let url = format!("https://localhost:{}/ok", server.address.port());
    let trusting = |min_days| TlsCheck {
        min_days: Some(min_days),
        ca: Some(ca.display().to_string()),
        ..TlsCheck::default()
    };
    let https = |tls| {
        check(CheckTarget::Http(HttpCheck {
            tls,
            ..HttpCheck::get(url.clone())
        }))
    };

    let report = run(&https(trusting(14))).await;
    assert!(!report.passed);
    let days = report.measured.certificate_days_left.unwrap();
    assert!((2.9..=3.0).contains(&days), "{days}");
    assert_eq!(
        report.failures,
        [format!(
            "certificate expires in {days:.1} days (expected at least 14)"
        )]
    );
    assert!(
        report.to_string().contains("certificate 3 days left"),
        "{report}"
    );

    let report = run(&https(trusting(2))).await;
    assert!(report.passed, "{report}");
    assert_eq!(report.measured.status, Some(200));

    let untrusted = run(&https(TlsCheck::default())).await;
    assert_eq!(untrusted.failures.len(), 1);
    assert!(
        untrusted.failures[0].starts_with("TLS handshake failed: invalid peer certificate"),
        "{untrusted}"
    );

    let insecure = run(&https(TlsCheck {
        insecure: true,
        min_days: Some(14),
        ..TlsCheck::default()
    }))
    .await;
    assert_eq!(insecure.measured.status, Some(200));
    assert_eq!(insecure.failures.len(), 1, "{insecure}");

    let tcp = run(&check(CheckTarget::Tcp {
        address: format!("localhost:{}", server.address.port()),
        tls: Some(trusting(14)),
    }))
    .await;
    assert!(tcp.target.starts_with("tls localhost:"), "{tcp}");
    assert!(
        tcp.failures[0].starts_with("certificate expires in"),
        "{tcp}"
    );
    let wrong_name = run(&check(CheckTarget::Tcp {
        address: format!("localhost:{}", server.address.port()),
        tls: Some(TlsCheck {
            server_name: Some("example.com".into()),
            ..trusting(1)
        }),
    }))
    .await;
    assert!(
        wrong_name.failures[0].starts_with("TLS handshake failed: invalid peer certificate"),
        "{wrong_name}"
    );
}

#[tokio::test]
async fn a_missing_ca_file_is_named() {
    let server = Server::tls(30).await;
    let report = run(&check(CheckTarget::Tcp {
        address: server.address.to_string(),
        tls: Some(TlsCheck {
            ca: Some("/nonexistent/ca.pem".into()),
            ..TlsCheck::default()
        }),
    }))
    .await;
    assert_eq!(report.failures.len(), 1);
    assert!(
        report.failures[0].starts_with("cannot read CA file /nonexistent/ca.pem: "),
        "{report}"
    );
}
