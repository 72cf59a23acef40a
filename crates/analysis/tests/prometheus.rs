//! The Prometheus provider against a real Prometheus: Debian's `prometheus` package, started on
//! a loopback port with a temporary data directory, scraping a test target whose metrics this
//! test sets. Every query's answer is compared with what Prometheus computes when asked
//! directly over its HTTP API.

mod support;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bellwether_analysis::engine::{Engine, Report, RunRequest};
use bellwether_analysis::providers::{MetricProvider, Prometheus, PrometheusProvider};
use bellwether_analysis::{Observation, Value};
use bellwether_core::rollout::{RunId, RunKind, Verdict};
use bellwether_core::spec::{Condition, MetricSpec, ProviderSpec, Unit};
use bellwether_core::time::Timestamp;
use serde_json::Value as Json;
use support::{Answer, Server, target};
use tokio::sync::mpsc;
use tokio::time::{sleep, timeout};

const PROMETHEUS: &str = "/usr/bin/prometheus";

/// The test target's metrics: revision 2 (the canary) has 2,413 requests, 116 of them errors;
/// revision 1 (the baseline) 21,877 with 66 errors.
const METRICS: &str = "\
# TYPE test_requests_total counter
test_requests_total{revision=\"1\",code=\"200\"} 21811
test_requests_total{revision=\"1\",code=\"500\"} 66
test_requests_total{revision=\"2\",code=\"200\"} 2297
test_requests_total{revision=\"2\",code=\"500\"} 116
";

const ERROR_RATIO: &str = "sum(test_requests_total{revision=\"{{revision}}\",code=~\"5..\"}) / sum(test_requests_total{revision=\"{{revision}}\"})";

/// A Prometheus process, killed when dropped.
struct PrometheusProcess {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for PrometheusProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Whether Prometheus is installed. Without it the test cannot run: under CI
/// (`BELLWETHER_REQUIRE_TOOLS=1`, set by .ci/run, which installs it) that is a failure; on a
/// developer's machine the test says so and skips.
fn prometheus_installed() -> bool {
    if Path::new(PROMETHEUS).exists() {
        return true;
    }
    let why = format!(
        "{PROMETHEUS} is missing: this test runs a real Prometheus. Install Debian's package \
         (`apt-get install -y prometheus`), as .ci/run does."
    );
    assert!(
        std::env::var_os("BELLWETHER_REQUIRE_TOOLS").is_none(),
        "{why}"
    );
    eprintln!("skipped: {why}");
    false
}

async fn start_prometheus(target: &str) -> PrometheusProcess {
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = dir.path().join("prometheus.yml");
    let host = target.trim_start_matches("http://");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: target\n    static_configs:\n      - targets: ['{host}']\n"
        ),
    )
    .expect("the config is written");
    let port = free_port();
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
    let process = PrometheusProcess {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let client = reqwest::Client::new();
    for _ in 0..300 {
        let ready = client.get(format!("{}/-/ready", process.base)).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return process;
        }
        sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "prometheus did not become ready on {} within 30s",
        process.base
    );
}

/// Asks Prometheus directly, without the provider: the `data` of its answer.
async fn direct(base: &str, endpoint: &str, params: &[(&str, String)]) -> Json {
    let url = reqwest::Url::parse_with_params(&format!("{base}/api/v1/{endpoint}"), params)
        .expect("a URL");
    let body = reqwest::get(url)
        .await
        .expect("an answer")
        .text()
        .await
        .expect("a body");
    let answer: Json = serde_json::from_str(&body).expect("JSON");
    answer["data"].clone()
}

/// A vector element's or a scalar's value, as Prometheus wrote it.
fn number(sample_value: &Json) -> f64 {
    sample_value[1]
        .as_str()
        .expect("a string")
        .parse()
        .expect("a number")
}

fn prometheus_metric(address: &str, query: &str, success: &str) -> MetricSpec {
    MetricSpec {
        name: "prom-error-ratio".to_owned(),
        provider: ProviderSpec::Prometheus {
            address: address.to_owned(),
            query: query.to_owned(),
            headers: BTreeMap::new(),
            timeout: Duration::from_secs(5),
        },
        unit: Unit::Ratio,
        interval: Duration::from_millis(200),
        count: None,
        initial_delay: Duration::ZERO,
        success: Some(Condition::Expr(success.to_owned())),
        failure: None,
        failure_limit: 0,
        inconclusive_limit: 0,
        consecutive_error_limit: 4,
        dry_run: false,
        min_sample: 50,
        evidence: bellwether_core::spec::Evidence::Window,
        confidence: bellwether_core::spec::DEFAULT_CONFIDENCE,
        inconclusive: bellwether_core::spec::Inconclusive::Pause,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_return_what_prometheus_computes() {
    if !prometheus_installed() {
        return;
    }
    timeout(Duration::from_secs(120), against_real_prometheus())
        .await
        .expect("the test finishes within two minutes");
}

async fn against_real_prometheus() {
    let exporter = Server::start(|_| Answer::metrics(METRICS)).await;
    let prom = start_prometheus(&exporter.base).await;
    // Wait for the first scrape to be queryable.
    let mut scraped = false;
    for _ in 0..300 {
        let data = direct(
            &prom.base,
            "query",
            &[("query", "count(test_requests_total)".to_owned())],
        )
        .await;
        if data["result"].as_array().is_some_and(|r| !r.is_empty()) {
            scraped = true;
            break;
        }
        sleep(Duration::from_millis(100)).await;
    }
    assert!(scraped, "prometheus never scraped the test target");

    let provider = PrometheusProvider::new(reqwest::Client::new());
    let canary = target(2, &[]);
    let measure = |query: &str| {
        let spec = prometheus_metric(&prom.base, query, "result < 0.01").provider;
        let provider = &provider;
        let canary = &canary;
        async move {
            provider
                .measure(&spec, canary)
                .await
                .map_err(|e| e.to_string())
        }
    };

    // An instant vector of one series: a number, the one Prometheus computes.
    let ratio = measure(ERROR_RATIO).await.expect("a value");
    let expanded = ERROR_RATIO.replace("{{revision}}", "2");
    let data = direct(&prom.base, "query", &[("query", expanded)]).await;
    assert_eq!(data["resultType"], "vector");
    let computed = number(&data["result"][0]["value"]);
    assert_eq!(ratio, Observation::number(computed));
    assert!((computed - 116.0 / 2_413.0).abs() < 1e-12, "{computed}");

    // Several series: a list, in Prometheus' order.
    let by_revision = "sum by (revision) (test_requests_total)";
    let got = measure(by_revision).await.expect("a value");
    let data = direct(&prom.base, "query", &[("query", by_revision.to_owned())]).await;
    let want: Vec<Value> = data["result"]
        .as_array()
        .expect("a vector")
        .iter()
        .map(|s| Value::Number(number(&s["value"])))
        .collect();
    assert_eq!(want.len(), 2);
    assert_eq!(
        got,
        Observation::value(Value::List(want)).with_detail("2 series")
    );

    // A scalar.
    let scalar = "scalar(sum(test_requests_total{revision=\"{{revision}}\"}))";
    let data = direct(
        &prom.base,
        "query",
        &[("query", scalar.replace("{{revision}}", "2"))],
    )
    .await;
    assert_eq!(data["resultType"], "scalar");
    assert_eq!(
        measure(scalar).await,
        Ok(Observation::number(number(&data["result"])))
    );
    assert_eq!(measure(scalar).await, Ok(Observation::number(2_413.0)));

    // No data: an empty vector, and a NaN.
    let cases = [
        (
            "test_requests_total{revision=\"9\"}",
            "the query returned an empty vector",
        ),
        (
            "sum(test_requests_total{revision=\"{{revision}}\"}) * 0 / 0",
            "the query returned NaN (a ratio over no requests gives NaN)",
        ),
    ];
    for (query, why) in cases {
        assert_eq!(
            measure(query).await,
            Ok(Observation::no_data(why)),
            "{query}"
        );
    }

    // A query Prometheus rejects.
    let err = measure("sum(").await.expect_err("rejected");
    assert!(
        err.starts_with("prometheus rejected the query (bad_data): "),
        "{err}"
    );

    // A range query: the same points as asking Prometheus directly.
    let client = Prometheus::new(
        reqwest::Client::new(),
        &prom.base,
        BTreeMap::new(),
        Duration::from_secs(5),
    );
    let end = SystemTime::now();
    let start = end - Duration::from_secs(5);
    let query = "sum(test_requests_total{revision=\"2\"})";
    let series = client
        .range(query, start, end, Duration::from_secs(1))
        .await
        .expect("a matrix");
    let secs = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
            .to_string()
    };
    let params = [
        ("query", query.to_owned()),
        ("start", secs(start)),
        ("end", secs(end)),
        ("step", "1".to_owned()),
    ];
    let data = direct(&prom.base, "query_range", &params).await;
    let want: Vec<(f64, f64)> = data["result"][0]["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|p| (p[0].as_f64().expect("a time"), number(p)))
        .collect();
    assert_eq!(series.len(), 1);
    assert!(!want.is_empty());
    assert_eq!(series[0].points, want);
    assert!(series[0].points.iter().all(|(_, v)| *v == 2_413.0));

    // The whole engine: a CEL condition over the canary's ratio, and one relative to the
    // baseline's, both judged on what Prometheus computes.
    let absolute = prometheus_metric(&prom.base, ERROR_RATIO, "result <= 0.01");
    let mut relative = prometheus_metric(&prom.base, ERROR_RATIO, "result <= baseline * 2.0");
    relative.name = "prom-error-ratio-vs-baseline".to_owned();
    for metric in [absolute, relative] {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let request = RunRequest {
            service: "api".to_owned(),
            run: RunId {
                attempt: 1,
                kind: RunKind::Background,
            },
            metrics: vec![metric],
            judge: None,
            revision: 2,
            baseline: Some(1),
            args: BTreeMap::new(),
            started_at: Timestamp(0),
        };
        let providers =
            bellwether_analysis::providers::Providers::new(Arc::new(NoRouter), Arc::new(NoRouter));
        let _handle = Engine::new(Arc::new(providers)).start(request, tx);
        let mut verdict = None;
        while let Some(report) = rx.recv().await {
            if let Report::Completed {
                verdict: v,
                message,
                ..
            } = report
            {
                verdict = Some((v, message));
                break;
            }
        }
        let (v, message) = verdict.expect("a verdict");
        assert_eq!(v, Verdict::Failed, "{message}");
        let shown = Unit::Ratio.format(computed);
        assert!(message.contains(&shown), "{message} names {shown}");
        if message.contains("baseline") {
            assert!(
                message.contains(&Unit::Ratio.format(66.0 / 21_877.0)),
                "{message}"
            );
        }
    }
}

/// The builtin provider's sources, unused by prometheus metrics.
struct NoRouter;

impl bellwether_core::signal::SignalSource for NoRouter {
    fn sample(
        &self,
        _: &str,
        _: u64,
        _: Duration,
    ) -> Option<bellwether_core::signal::TrafficSample> {
        None
    }

    fn totals(
        &self,
        _: &str,
        _: u64,
        _: Option<Duration>,
    ) -> Option<bellwether_core::signal::TrafficTotals> {
        None
    }
}

impl bellwether_core::signal::ResourceSource for NoRouter {
    fn resources(
        &self,
        _: &str,
        _: u64,
        _: Duration,
    ) -> Option<bellwether_core::signal::ResourceSample> {
        None
    }
}

/// Headers (a bearer token) reach the server, and a slow server is a timeout that says so.
/// This needs control over the server's answers, so it uses the loopback test server.
#[tokio::test]
async fn headers_and_timeouts() {
    let vector = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.5"]}]}}"#;
    let server = Server::start(move |r| {
        if r.path.contains("slow") {
            Answer {
                delay: Duration::from_secs(3),
                ..Answer::ok(vector)
            }
        } else {
            Answer::ok(vector)
        }
    })
    .await;
    let spec = |query: &str| ProviderSpec::Prometheus {
        address: format!("{}/", server.base),
        query: query.to_owned(),
        headers: BTreeMap::from([("Authorization".to_owned(), "Bearer t0ken".to_owned())]),
        timeout: Duration::from_millis(300),
    };
    let provider = PrometheusProvider::new(reqwest::Client::new());
    let t = target(2, &[]);
    let got = timeout(Duration::from_secs(10), provider.measure(&spec("up"), &t))
        .await
        .expect("bounded");
    assert_eq!(got, Ok(Observation::number(0.5)));
    let seen = server.requests();
    assert_eq!(seen[0].headers["authorization"], "Bearer t0ken");
    assert_eq!(seen[0].path, "/api/v1/query?query=up");
    let slow = timeout(Duration::from_secs(10), provider.measure(&spec("slow"), &t))
        .await
        .expect("bounded");
    assert_eq!(
        slow.map_err(|e| e.to_string()),
        Err(format!(
            "request to {}/api/v1/query failed: no answer within 300ms",
            server.base
        ))
    );
}
