//! Debian's Prometheus for the provider's tests, and a run of the engine on it.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bellwether_analysis::engine::{Engine, Report, RunHandle, RunRequest};
use bellwether_core::rollout::{RunId, RunKind};
use bellwether_core::spec::MetricSpec;
use bellwether_core::time::Timestamp;
use tokio::sync::mpsc;
use tokio::time::sleep;

const PROMETHEUS: &str = "/usr/bin/prometheus";

/// A Prometheus process, killed when dropped.
pub struct PrometheusProcess {
    child: Child,
    pub base: String,
    _dir: tempfile::TempDir,
}

impl PrometheusProcess {
    /// Waits (bounded) until `query` has a sample: the target was scraped.
    pub async fn until_scraped(&self, query: &str) {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/api/v1/query", self.base),
            &[("query", query)],
        )
        .expect("a URL");
        for _ in 0..300 {
            if let Ok(answer) = reqwest::get(url.clone()).await
                && let Ok(body) = answer.json::<serde_json::Value>().await
                && body["data"]["result"]
                    .as_array()
                    .is_some_and(|r| !r.is_empty())
            {
                return;
            }
            sleep(Duration::from_millis(100)).await;
        }
        panic!("prometheus never had a sample of {query}");
    }

    /// Every query Prometheus ran so far, as its query log has it.
    pub fn queries(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self._dir.path().join("queries.log")).unwrap_or_default();
        log.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|entry| entry["params"]["query"].as_str().map(str::to_owned))
            .collect()
    }
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

/// Prometheus must be installed: these tests run a real one, and never skip.
pub fn require_prometheus() {
    assert!(
        Path::new(PROMETHEUS).exists(),
        "{PROMETHEUS} is missing: this test runs a real Prometheus. Run the tests with \
         `scripts/test.sh`, which installs Debian's package, or `apt-get install -y prometheus`."
    );
}

/// Prometheus on a loopback port scraping `target` every second, every query it runs logged.
pub async fn start_prometheus(target: &str) -> PrometheusProcess {
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = dir.path().join("prometheus.yml");
    let host = target.trim_start_matches("http://");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n  query_log_file: {}\nscrape_configs:\n  - job_name: target\n    static_configs:\n      - targets: ['{host}']\n",
            dir.path().join("queries.log").display()
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

/// A background run of `metric` on the engine, canary revision 2 against baseline 1, and its
/// reports.
pub fn start_run(metric: MetricSpec) -> (RunHandle, mpsc::UnboundedReceiver<Report>) {
    let (tx, rx) = mpsc::unbounded_channel();
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
    let providers = bellwether_analysis::providers::Providers::new(
        Arc::new(NoRouter),
        Arc::new(NoRouter),
        Arc::new(NoRouter),
    );
    (Engine::new(Arc::new(providers)).start(request, tx), rx)
}

/// The builtin and verify providers' sources, unused by prometheus metrics.
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

impl bellwether_core::signal::AddressSource for NoRouter {
    fn address(&self, _: &str, _: u64) -> Option<String> {
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
