//! The Prometheus presets of `bellwether.yaml` (`request-success-rate`, `request-duration`) for
//! Istio and NGINX Ingress, lowered by the config crate and run by the engine against Debian's
//! Prometheus scraping a loopback exporter of the mesh's and the ingress's metric names: the
//! verdict on a healthy revision and on a failing one, and the PromQL Prometheus logged as run.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bellwether_analysis::engine::Report;
use bellwether_core::rollout::Verdict;
use bellwether_core::spec::MetricSpec;
use support::prometheus::{PrometheusProcess, require_prometheus, start_prometheus, start_run};
use support::{Answer, Server};
use tokio::time::timeout;

/// Requests a second each revision serves; a count a test can judge in a few seconds.
const RATE: f64 = 5_000.0;

/// Istio's and NGINX's metrics of revision 2 of `good` (no 5xx, every request within 25 ms)
/// and of `bad` (one request in ten a 503, each taking between 250 and 500 ms), counted since
/// `started` at `RATE`.
fn exposition(started: Instant) -> String {
    let total = (RATE * started.elapsed().as_secs_f64()).floor();
    let mut out = String::from(
        "# TYPE istio_requests_total counter\n# TYPE istio_request_duration_milliseconds histogram\n# TYPE nginx_ingress_controller_requests counter\n# TYPE nginx_ingress_controller_request_duration_seconds histogram\n",
    );
    for name in ["good", "bad"] {
        let failed = if name == "bad" {
            (total / 10.0).floor()
        } else {
            0.0
        };
        let slow = name == "bad";
        let istio = format!("reporter=\"destination\",destination_workload=\"{name}-r2\"");
        let nginx = format!("ingress=\"{name}-canary\",namespace=\"shop\"");
        for (labels, code) in [(&istio, "response_code"), (&nginx, "status")] {
            let metric = if code == "status" {
                "nginx_ingress_controller_requests"
            } else {
                "istio_requests_total"
            };
            out.push_str(&format!(
                "{metric}{{{labels},{code}=\"200\"}} {}\n",
                total - failed
            ));
            if failed > 0.0 {
                out.push_str(&format!("{metric}{{{labels},{code}=\"503\"}} {failed}\n"));
            }
        }
        let buckets = [
            (
                "istio_request_duration_milliseconds",
                &istio,
                ["25", "250", "500", "+Inf"],
            ),
            (
                "nginx_ingress_controller_request_duration_seconds",
                &nginx,
                ["0.025", "0.25", "0.5", "+Inf"],
            ),
        ];
        for (metric, labels, les) in buckets {
            for (i, le) in les.iter().enumerate() {
                let within = if slow && i < 2 { 0.0 } else { total };
                out.push_str(&format!(
                    "{metric}_bucket{{{labels},le=\"{le}\"}} {within}\n"
                ));
            }
            out.push_str(&format!("{metric}_count{{{labels}}} {total}\n"));
        }
    }
    out
}

/// The metrics of service `service` (routed by `routing`) as the config crate lowers them.
fn presets(prometheus: &str, service: &str, routing: &str) -> BTreeMap<String, MetricSpec> {
    let source = format!(
        r#"
providers:
  prom:
    prometheus: {{address: "{prometheus}", timeout: 5s}}
services:
  {service}:
    run: {{image: "{service}:1"}}
    trafficRouting: {routing}
    analysis:
      interval: 500ms
      metrics:
        - {{name: success-rate, provider: prom, preset: request-success-rate, threshold: success_rate >= 99%}}
        - {{name: latency-p99, provider: prom, preset: request-duration, threshold: latency_p99 <= 200ms}}
"#
    );
    let loaded = bellwether_config::load("bellwether.yaml", &source)
        .unwrap_or_else(|d| panic!("refused:\n{d}"));
    let metrics = loaded.project.services[service].metrics.clone();
    metrics.into_iter().map(|m| (m.name.clone(), m)).collect()
}

/// Runs `metric` on revision 2 until a measurement succeeds or its run fails: the verdict
/// and the message.
async fn verdict(metric: MetricSpec) -> (Verdict, String) {
    let (_run, mut reports) = start_run(metric);
    loop {
        match reports.recv().await.expect("reports") {
            Report::Measured { measurement, .. } if measurement.verdict == Verdict::Successful => {
                return (Verdict::Successful, measurement.message);
            }
            Report::Completed {
                verdict, message, ..
            } => return (verdict, message),
            Report::Measured { .. } | Report::Judged { .. } => {}
        }
    }
}

struct Rig {
    prometheus: PrometheusProcess,
    _exporter: Server,
}

async fn rig() -> Rig {
    require_prometheus();
    let started = Instant::now();
    let exporter = Server::start(move |_| Answer::metrics(exposition(started))).await;
    let prometheus = start_prometheus(&exporter.base).await;
    prometheus.until_scraped("istio_requests_total").await;
    Rig {
        prometheus,
        _exporter: exporter,
    }
}

impl Rig {
    /// Each preset of `service`, judged: success rate, then latency.
    async fn judge(&self, service: &str, routing: &str) -> [(Verdict, String); 2] {
        let metrics = presets(&self.prometheus.base, service, routing);
        let success = verdict(metrics["success-rate"].clone());
        let latency = verdict(metrics["latency-p99"].clone());
        let (success, latency) = tokio::join!(success, latency);
        [success, latency]
    }

    fn assert_ran(&self, queries: &[String]) {
        let ran = self.prometheus.queries();
        for query in queries {
            assert!(ran.contains(query), "{query} not in {ran:#?}");
        }
    }
}

fn istio(service: &str) -> String {
    format!(
        "{{istio: {{virtualService: {{name: {service}}}, destinationRule: {{name: {service}, canarySubsetName: canary, stableSubsetName: stable}}}}}}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn istio_presets_pass_a_healthy_revision_and_fail_a_failing_one() {
    let within = Duration::from_secs(90);
    timeout(within, async {
        let rig = rig().await;
        let [success, latency] = rig.judge("good", &istio("good")).await;
        assert_eq!(success.0, Verdict::Successful, "{}", success.1);
        assert!(success.1.starts_with("success-rate 100% (95% CI "), "{}", success.1);
        assert_eq!(latency.0, Verdict::Successful, "{}", latency.1);
        let [success, latency] = rig.judge("bad", &istio("bad")).await;
        assert_eq!(success.0, Verdict::Failed, "{}", success.1);
        let counted = success.1.starts_with("success-rate ") && success.1.ends_with(" requests since 00:00:00) < 99%");
        assert!(counted, "{}", success.1);
        assert_eq!(latency.0, Verdict::Failed, "{}", latency.1);
        rig.assert_ran(&[
            r#"sum(istio_requests_total{reporter="destination",destination_workload="good-r2",response_code!~"5.."}) or vector(0)"#.to_owned(),
            r#"sum(istio_requests_total{reporter="destination",destination_workload="good-r2"})"#.to_owned(),
            r#"histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload="bad-r2"}[1m]))) / 1000"#.to_owned(),
        ]);
    })
    .await
    .expect("the test finishes in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_presets_pass_a_healthy_canary_ingress_and_fail_a_failing_one() {
    let within = Duration::from_secs(90);
    timeout(within, async {
        let rig = rig().await;
        let [success, latency] = rig.judge("good", "{nginx: {stableIngress: good}}").await;
        assert_eq!(success.0, Verdict::Successful, "{}", success.1);
        assert_eq!(latency.0, Verdict::Successful, "{}", latency.1);
        let [success, latency] = rig.judge("bad", "{nginx: {stableIngress: bad}}").await;
        assert_eq!(success.0, Verdict::Failed, "{}", success.1);
        assert_eq!(latency.0, Verdict::Failed, "{}", latency.1);
        rig.assert_ran(&[
            r#"sum(nginx_ingress_controller_requests{ingress="bad-canary",status!~"5.."}) or vector(0)"#.to_owned(),
            r#"sum(nginx_ingress_controller_requests{ingress="bad-canary"})"#.to_owned(),
            r#"histogram_quantile(0.99, sum by (le) (rate(nginx_ingress_controller_request_duration_seconds_bucket{ingress="good-canary"}[1m])))"#.to_owned(),
        ]);
    })
    .await
    .expect("the test finishes in time");
}
