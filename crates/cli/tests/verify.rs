//! `bellwether check` and `bellwether verify` as users run them, against real servers on
//! loopback: the demo service, and the control plane's own TLS listener with a certificate
//! that expires in three days.

mod support;

use std::path::{Path, PathBuf};

use support::{ControlPlane, bellwether, demo, json, run_pipeline};

fn write(dir: &Path, yaml: &str) -> PathBuf {
    let file = dir.join("bellwether.yaml");
    std::fs::write(&file, yaml).unwrap();
    file
}

#[test]
fn check_a_url_with_flags() {
    let service = demo("v3", &[]);
    let base = format!("http://{}", service.addrs[0]);

    let health = format!("{base}/health");
    let ok = bellwether(
        &["check", &health, "--status", "200", "--body-contains", "ok"],
        &[],
    );
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    assert!(
        ok.stdout.starts_with(&format!("✓ GET {health} → 200, ")),
        "{}",
        ok.stdout
    );

    let root = format!("{base}/");
    let wrong = bellwether(
        &[
            "check",
            &root,
            "--status",
            "201",
            "--expect-header",
            "x-demo-version: v4",
            "--body-regex",
            r"^hello from v\d",
        ],
        &[],
    );
    assert_eq!(wrong.code, 1, "{}", wrong.stdout);
    assert!(
        wrong.stdout.trim_end().ends_with(
            r#": status 200 (expected 201); header `x-demo-version` is "v3" (expected "v4")"#
        ),
        "{}",
        wrong.stdout
    );

    let machine = bellwether(&["check", &root, "-o", "json"], &[]);
    let reports = json(&machine);
    assert_eq!(reports[0]["passed"], true, "{reports}");
    assert_eq!(reports[0]["measured"]["status"], 200);
    assert_eq!(reports[0]["measured"]["body_bytes"], 14);

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let tcp = bellwether(
        &[
            "check",
            &format!("tcp://{}", service.addrs[0]),
            &format!("tcp://{closed}"),
        ],
        &[],
    );
    assert_eq!(tcp.code, 1);
    let lines: Vec<&str> = tcp.stdout.lines().collect();
    assert!(
        lines[0].starts_with(&format!("✓ tcp {}", service.addrs[0])),
        "{lines:?}"
    );
    assert!(
        lines[1].contains(&format!("cannot connect to {closed}")),
        "{lines:?}"
    );

    let bad = bellwether(&["check", &root, "--json-path", "status=ok"], &[]);
    assert_eq!(bad.code, 1);
    assert_eq!(
        bad.stderr,
        "error: --json-path: JSON path `status` must start with `$`\n"
    );
}

#[test]
fn named_checks_and_suites_from_the_project_file() {
    let service = demo("v1", &[("DEMO_ERROR_RATE", "1")]);
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        r#"
checks:
  health: {url: /health, status: 200, bodyContains: ok}
  home: {url: /, maxTime: 2s}
verify:
  ready: {checks: [health], duration: 200ms, interval: 50ms}
  smoke: {checks: [health, home], duration: 2s, interval: 20ms, minSuccessRate: 90%}
"#,
    );
    let file = file.to_str().unwrap();
    let target = service.addrs[0].to_string();

    let health = bellwether(&["check", "-f", file, "health", "--target", &target], &[]);
    assert_eq!(health.code, 0, "{}{}", health.stdout, health.stderr);
    assert!(
        health.stdout.starts_with("✓ health GET http://"),
        "{}",
        health.stdout
    );

    let untargeted = bellwether(&["check", "-f", file, "health"], &[]);
    assert_eq!(untargeted.code, 1);
    assert!(
        untargeted
            .stdout
            .contains("`/health` is a path: give the address to check it against (`--target`)"),
        "{}",
        untargeted.stdout
    );

    let unknown = bellwether(&["check", "-f", file, "helth"], &[]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("no check `helth` in ")
            && unknown.stderr.contains("one of: health, home"),
        "{}",
        unknown.stderr
    );

    let ready = bellwether(&["verify", "-f", file, "ready", "--target", &target], &[]);
    assert_eq!(ready.code, 0, "{}{}", ready.stdout, ready.stderr);
    assert!(
        ready
            .stdout
            .contains("verify ready passed: 5 of 5 attempts passed"),
        "{}",
        ready.stdout
    );

    // Every request but /health fails: the suite fails at its 21st failure, long before its 2s.
    let smoke = bellwether(
        &[
            "verify", "-f", file, "smoke", "--target", &target, "-o", "json",
        ],
        &[],
    );
    assert_eq!(smoke.code, 1, "{}{}", smoke.stdout, smoke.stderr);
    let reports: serde_json::Value = serde_json::from_str(&smoke.stdout).unwrap();
    let report = &reports[0];
    assert_eq!(report["passed"], false);
    assert_eq!(report["attempts_planned"], 202);
    assert_eq!(report["attempts_failed"], 21);
    assert_eq!(
        report["reason"],
        "21 attempts failed, more than the 20 that 90.0% of 202 planned allows"
    );
    assert_eq!(
        report["checks"][1]["failures"][0],
        "status 500 (expected 2xx)"
    );

    let overridden = bellwether(
        &[
            "verify",
            "-f",
            file,
            "smoke",
            "--target",
            &target,
            "--duration",
            "0s",
            "--min-success-rate",
            "50",
        ],
        &[],
    );
    assert_eq!(
        overridden.code, 0,
        "{}{}",
        overridden.stdout, overridden.stderr
    );
    assert!(
        overridden.stdout.contains(
            "verify smoke passed: 1 of 2 attempts passed (50.0%, at least 50.0% needed) in 1 round"
        ),
        "{}",
        overridden.stdout
    );
}

#[test]
fn a_certificate_that_expires_in_three_days_fails_a_fourteen_day_check() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(3);
    let certificate = params.self_signed(&key).unwrap();
    let (cert, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certificate.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let file = write(dir.path(), "services: {}\n");
    let plane = ControlPlane::start_with(
        &file,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key_file.to_str().unwrap(),
        ],
    );
    let url = format!("{}/v1/health", plane.server);
    let ca = cert.to_str().unwrap();

    let failed = bellwether(&["check", &url, "--ca", ca, "--tls-min-days", "14"], &[]);
    assert_eq!(failed.code, 1, "{}{}", failed.stdout, failed.stderr);
    assert!(
        failed.stdout.contains("certificate 3 days left"),
        "{}",
        failed.stdout
    );
    assert!(
        failed.stdout.trim_end().ends_with("(expected at least 14)"),
        "{}",
        failed.stdout
    );
    assert!(
        failed.stdout.contains(": certificate expires in "),
        "{}",
        failed.stdout
    );

    let passed = bellwether(&["check", &url, "--ca", ca, "--tls-min-days", "2"], &[]);
    assert_eq!(passed.code, 0, "{}{}", passed.stdout, passed.stderr);

    let untrusted = bellwether(&["check", &url], &[]);
    assert_eq!(untrusted.code, 1);
    assert!(
        untrusted
            .stdout
            .contains("TLS handshake failed: invalid peer certificate"),
        "{}",
        untrusted.stdout
    );

    let address = plane.server.strip_prefix("https://").unwrap();
    let tls = bellwether(
        &[
            "check",
            &format!("tls://{address}"),
            "--insecure",
            "--tls-min-days",
            "14",
        ],
        &[],
    );
    assert_eq!(tls.code, 1, "{}", tls.stdout);
    assert!(
        tls.stdout.starts_with(&format!("✗ tls {address} → ")),
        "{}",
        tls.stdout
    );
}

#[test]
fn check_and_verify_steps_in_a_pipeline() {
    let service = demo("v1", &[]);
    let dir = tempfile::tempdir().unwrap();
    let target = format!("http://{}", service.addrs[0]);
    let file = write(
        dir.path(),
        &format!(
            r#"
checks:
  health: {{url: /health, status: 200}}
  missing: {{url: /health, status: 404}}
verify:
  smoke: {{checks: [health], duration: 200ms, interval: 100ms}}
pipelines:
  release:
    on: {{manual: {{}}}}
    jobs:
      smoke:
        steps:
          - id: smoke
            verify: smoke
            target: "{target}"
          - run: echo "passed=${{{{ steps.smoke.outputs.passed }}}} rate=${{{{ steps.smoke.outputs.success-rate }}}}"
      wrong:
        needs: smoke
        steps:
          - check: missing
            target: "{target}"
"#
        ),
    );
    let ran = run_pipeline(&file, "release", &dir.path().join("data"));
    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains("passed=true rate=1"), "{}", ran.stdout);
    assert!(
        ran.stdout
            .contains("verify smoke passed: 3 of 3 attempts passed"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("status 200 (expected 404)"),
        "{}",
        ran.stdout
    );
}
