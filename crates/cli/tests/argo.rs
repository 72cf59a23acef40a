//! An Argo Rollouts user's analysis as written: a real `bellwether up` rolls a canary of
//! `demo-service` out, its analysis step runs a Prometheus metric whose PromQL names
//! `{{args.service-name}}` and `{{args.job}}` (one given by the step from the service's name,
//! one a declared default) and judges it by Argo's `result[0] >= 0.95`, against Debian's
//! Prometheus scraping a target on loopback. The healthy canary is promoted.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use support::{BIN, ControlPlane};

const PROMETHEUS: &str = "/usr/bin/prometheus";

/// What the scraped target reports: the service's success ratio, and another service's that
/// would fail the condition if the argument were not filled in.
const METRICS: &str = "\
# TYPE checkout_success_ratio gauge
checkout_success_ratio{service=\"argo-web\"} 0.99
checkout_success_ratio{service=\"other\"} 0.5
";

/// Serves `METRICS` at every path, one connection at a time, until the test ends.
fn metrics_target() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let addr = listener.local_addr().expect("an address");
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            answer(stream);
        }
    });
    addr.to_string()
}

fn answer(mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
        head.push(byte[0]);
    }
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{METRICS}",
        METRICS.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

/// Prometheus on a loopback port, killed when dropped.
struct Prometheus {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_prometheus(target: &str) -> Prometheus {
    assert!(
        Path::new(PROMETHEUS).exists(),
        "{PROMETHEUS} is missing: this test runs a real Prometheus. Run the tests with \
         `scripts/test.sh`, which installs Debian's package, or `apt-get install -y prometheus`."
    );
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: checkout\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .expect("the config is written");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(PROMETHEUS)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus starts");
    let prometheus = Prometheus {
        child,
        address: format!("127.0.0.1:{port}"),
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready(&prometheus.address) {
        assert!(
            Instant::now() < deadline,
            "prometheus did not become ready within 30s"
        );
        thread::sleep(Duration::from_millis(100));
    }
    prometheus
}

fn ready(address: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(address) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET /-/ready HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    let mut answer = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.1 200")
}

fn project(dir: &Path, prometheus: &str) -> std::path::PathBuf {
    let file = dir.join("bellwether.yaml");
    let yaml = format!(
        r#"providers:
  prom:
    prometheus: {{address: "http://{prometheus}", timeout: 5s}}
services:
  argo-web:
    replicas: 1
    run:
      command: ["{BIN}", "demo-service"]
    health: /health
    strategy:
      canary:
        steps:
          - setWeight: 50
          - analysis:
              metrics: [success-rate]
              args:
                - name: service-name
                  valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}
          - setWeight: 100
    analysis:
      args:
        - name: service-name
        - name: job
          value: checkout
      metrics:
        - name: success-rate
          provider: prom
          interval: 1s
          query: checkout_success_ratio{{service="{{{{args.service-name}}}}",job="{{{{args.job}}}}"}}
          successCondition: result[0] >= 0.95 and not isNaN(result[0])
          failureLimit: 0
"#
    );
    std::fs::write(&file, yaml).expect("the project is written");
    file
}

#[test]
fn an_argo_analysis_template_with_args_promotes_a_healthy_canary() {
    let target = metrics_target();
    let prometheus = start_prometheus(&target);
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = project(dir.path(), &prometheus.address);

    let validate = support::bellwether(&["validate", "-f", &file.to_string_lossy()], &[]);
    assert_eq!(validate.code, 0, "{validate:?}");

    let plane = ControlPlane::start(&file);
    let deploy = plane.run(&["deploy", "argo-web", "--version", "v1"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    plane.expect_status("argo-web", 0);

    let deploy = plane.run(&["deploy", "argo-web", "--version", "v2"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    let promoted = plane.expect_status("argo-web", 0);
    assert!(promoted.stdout.contains("Healthy"), "{promoted:?}");
    let history = plane.run(&["history", "argo-web"]);
    assert_eq!(history.code, 0, "{history:?}");
    assert!(history.stdout.contains("v2"), "{history:?}");
    let log = plane.log().join("\n");
    assert!(log.contains("step 2 completed"), "{log}");
}
