//! The Prometheus provider against a real Prometheus: Debian's `prometheus` package, started on
//! a loopback port with a temporary data directory, scraping a test target whose metrics this
//! test sets. Every query's answer is compared with what Prometheus computes when asked
//! directly over its HTTP API.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bellwether_analysis::engine::Report;
use bellwether_analysis::providers::{MetricProvider, Prometheus, PrometheusProvider};
use bellwether_analysis::sequential::Tally;
use bellwether_analysis::{Observation, Value};
use bellwether_core::rollout::Verdict;
use bellwether_core::spec::{
    Condition, ConditionOp, Evidence, MetricSpec, Operand, ProviderSpec, Unit,
};
use serde_json::Value as Json;
use support::prometheus::{require_prometheus, start_prometheus, start_run};
use support::{Answer, Server, target};
use tokio::time::{sleep, timeout};

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
            total: None,
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
        evidence: Evidence::Window,
        confidence: 0.95,
        inconclusive: bellwether_core::spec::Inconclusive::Pause,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_return_what_prometheus_computes() {
    require_prometheus();
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
        let (_run, mut rx) = start_run(metric);
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

/// Running counts of failed and all requests per revision, scraped as counters; the test moves
/// them on.
#[derive(Clone, Copy)]
struct Counters {
    canary: (u64, u64),
    baseline: (u64, u64),
}

impl Counters {
    fn exposition(self) -> String {
        let mut out = String::from("# TYPE app_requests_total counter\n");
        for (revision, (errors, total)) in [(2, self.canary), (1, self.baseline)] {
            out.push_str(&format!(
                "app_requests_total{{revision=\"{revision}\",code=\"200\"}} {}\n",
                total - errors
            ));
            out.push_str(&format!(
                "app_requests_total{{revision=\"{revision}\",code=\"500\"}} {errors}\n"
            ));
        }
        out
    }
}

const ERRORS: &str = "sum(app_requests_total{revision=\"{{revision}}\",code=~\"5..\"})";
const TOTAL: &str = "sum(app_requests_total{revision=\"{{revision}}\"})";

/// The counts form: `errors` and `total` are read as running counts, the run subtracts its
/// first reading, and the confidence sequence judges the requests counted since, as for the
/// builtin metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_are_judged_on_the_requests_since_the_first_reading() {
    require_prometheus();
    timeout(Duration::from_secs(120), counts_against_real_prometheus())
        .await
        .expect("the test finishes within two minutes");
}

async fn counts_against_real_prometheus() {
    // Before the analysis: a canary that failed half its requests, which must not count.
    let counters = Arc::new(std::sync::Mutex::new(Counters {
        canary: (500, 1_000),
        baseline: (50, 10_000),
    }));
    let shared = Arc::clone(&counters);
    let exporter =
        Server::start(move |_| Answer::metrics(shared.lock().unwrap().exposition())).await;
    let prom = start_prometheus(&exporter.base).await;
    let total_of = |revision: &str| TOTAL.replace("{{revision}}", revision);
    let scraped = |want: f64| {
        let base = prom.base.clone();
        let query = total_of("2");
        async move {
            for _ in 0..300 {
                let data = direct(&base, "query", &[("query", query.clone())]).await;
                if data["result"].as_array().is_some_and(|r| !r.is_empty())
                    && number(&data["result"][0]["value"]) == want
                {
                    return;
                }
                sleep(Duration::from_millis(100)).await;
            }
            panic!("prometheus never scraped a canary total of {want}");
        }
    };
    scraped(1_000.0).await;

    let spec = ProviderSpec::Prometheus {
        address: prom.base.clone(),
        query: ERRORS.to_owned(),
        headers: BTreeMap::new(),
        timeout: Duration::from_secs(5),
        total: Some(TOTAL.to_owned()),
    };
    let provider = PrometheusProvider::new(reqwest::Client::new());
    let read = provider
        .measure(&spec, &target(2, &[]))
        .await
        .expect("counts");
    assert_eq!(
        read,
        Observation::number(0.5).with_tally(Tally::new(500, 1_000))
    );

    let mut metric = prometheus_metric(&prom.base, ERRORS, "unused");
    metric.provider = spec;
    metric.success = Some(Condition::Threshold {
        op: ConditionOp::Le,
        rhs: Operand::Value(0.01),
    });
    metric.evidence = Evidence::Cumulative;
    let (_run, mut rx) = start_run(metric);
    // The first reading is the origin: nothing counted yet, so nothing is judged.
    let first = loop {
        match rx.recv().await.expect("reports") {
            Report::Measured { measurement, .. } => break measurement,
            Report::Completed { message, .. } => panic!("decided on old requests: {message}"),
            Report::Judged { .. } => {}
        }
    };
    assert!(
        first.message.contains("no requests to the canary since"),
        "{}",
        first.message
    );
    // 30 of the next 300 requests fail: 10% against 1%, decided on those alone.
    counters.lock().unwrap().canary = (530, 1_300);
    let message = loop {
        match rx.recv().await.expect("reports") {
            Report::Completed {
                verdict, message, ..
            } => {
                assert_eq!(verdict, Verdict::Failed, "{message}");
                break message;
            }
            Report::Measured { .. } | Report::Judged { .. } => {}
        }
    };
    assert!(
        message.starts_with("prom-error-ratio 10% (95% CI ")
            && message.ends_with(", 30 of 300 requests since 00:00:00) > 1%"),
        "{message}"
    );
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
        total: None,
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
