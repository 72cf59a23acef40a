//! Prometheus presets of a service routed by Istio or NGINX Ingress: the PromQL each expands
//! to, and every refusal's message.

use bellwether_core::spec::{Evidence, ProviderSpec};
use insta::assert_snapshot;

const PROVIDERS: &str = "providers:\n  prom:\n    prometheus: {address: \"http://prom:9090\"}\n";

fn project(routing: &str, metrics: &str) -> String {
    format!(
        "{PROVIDERS}services:\n  api:\n    run: {{image: api:1}}\n    trafficRouting: {routing}\n    analysis:\n      metrics:\n{metrics}"
    )
}

/// Each metric of service `api` as `name: evidence, query [| total] (condition)`.
fn expanded(source: &str) -> String {
    let loaded = bellwether_config::load("bellwether.yaml", source)
        .unwrap_or_else(|d| panic!("refused:\n{d}"));
    assert!(loaded.warnings.is_empty(), "{}", loaded.warnings);
    let service = &loaded.project.services["api"];
    let mut lines = Vec::new();
    for metric in &service.metrics {
        let ProviderSpec::Prometheus { query, total, .. } = &metric.provider else {
            panic!("not prometheus: {metric:?}");
        };
        let evidence = match metric.evidence {
            Evidence::Cumulative => "counts",
            Evidence::Window => "window",
        };
        let total = total.as_ref().map_or(String::new(), |t| format!(" | {t}"));
        lines.push(format!(
            "{}: {evidence}, {query}{total} ({:?})",
            metric.name, metric.success
        ));
    }
    lines.join("\n")
}

fn refused(source: &str) -> String {
    match bellwether_config::load("bellwether.yaml", source) {
        Ok(_) => "accepted".to_owned(),
        Err(diagnostics) => diagnostics.to_string(),
    }
}

const BOTH: &str = "        - {name: success, provider: prom, preset: request-success-rate, threshold: success_rate >= 99%}
        - {name: errors, provider: prom, preset: request-success-rate, threshold: error_rate <= 1%}
        - {name: p99, provider: prom, preset: request-duration, threshold: latency_p99 <= 200ms}
";

#[test]
fn istio_presets_read_the_revisions_workload() {
    let routing = "{istio: {virtualService: {name: api}, destinationRule: {name: api, canarySubsetName: canary, stableSubsetName: stable}}}";
    assert_snapshot!(expanded(&project(routing, BOTH)), @r#"
    success: counts, sum(istio_requests_total{reporter="destination",destination_workload="api-r{{revision}}",response_code!~"5.."}) or vector(0) | sum(istio_requests_total{reporter="destination",destination_workload="api-r{{revision}}"}) (Some(Threshold { op: Ge, rhs: Value(0.99) }))
    errors: counts, sum(istio_requests_total{reporter="destination",destination_workload="api-r{{revision}}",response_code=~"5.."}) or vector(0) | sum(istio_requests_total{reporter="destination",destination_workload="api-r{{revision}}"}) (Some(Threshold { op: Le, rhs: Value(0.01) }))
    p99: window, histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload="api-r{{revision}}"}[1m]))) / 1000 (Some(Threshold { op: Le, rhs: Value(0.2) }))
    "#);
}

#[test]
fn nginx_presets_read_the_canary_ingress() {
    let routing = "{nginx: {stableIngress: shop}}";
    assert_snapshot!(expanded(&project(routing, BOTH)), @r#"
    success: counts, sum(nginx_ingress_controller_requests{ingress="shop-canary",status!~"5.."}) or vector(0) | sum(nginx_ingress_controller_requests{ingress="shop-canary"}) (Some(Threshold { op: Ge, rhs: Value(0.99) }))
    errors: counts, sum(nginx_ingress_controller_requests{ingress="shop-canary",status=~"5.."}) or vector(0) | sum(nginx_ingress_controller_requests{ingress="shop-canary"}) (Some(Threshold { op: Le, rhs: Value(0.01) }))
    p99: window, histogram_quantile(0.99, sum by (le) (rate(nginx_ingress_controller_request_duration_seconds_bucket{ingress="shop-canary"}[1m]))) (Some(Threshold { op: Le, rhs: Value(0.2) }))
    "#);
}

#[test]
fn every_refusal_says_what_was_expected() {
    let gateway = "{plugins: {argoproj-labs/gatewayAPI: {httpRoute: api}}}";
    let nginx = "{nginx: {stableIngress: shop}}";
    let metrics = "        - {name: a, provider: prom, preset: request-success-rate, threshold: success_rate >= 99%}
";
    assert_snapshot!(refused(&project(gateway, metrics)), @r#"
    bellwether.yaml:10:45: preset `request-success-rate` reads Istio's or NGINX Ingress's metrics, and service `api` is routed by neither (expected `trafficRouting` with `istio` or `nginx`)
    "#);
    let metrics = "        - {name: a, provider: prom, preset: request-success-rate, threshold: latency_p99 <= 1s}
        - {name: b, provider: prom, preset: request-duration, threshold: success_rate >= 99%}
        - {name: c, provider: prom, preset: request-duration, threshold: latency_p99 <= baseline * 1.2}
        - {name: d, provider: prom, preset: request-duration}
        - {name: e, preset: request-duration, threshold: latency_p99 <= 1s}
        - {name: f, provider: prom, preset: request-success-rate, query: up, threshold: success_rate >= 99%}
";
    assert_snapshot!(refused(&project(nginx, metrics)), @r#"
    bellwether.yaml:10:78: preset `request-success-rate` is judged on `success_rate` or `error_rate`, not `latency_p99` (expected e.g. `threshold: success_rate >= 99%`)
    bellwether.yaml:11:74: preset `request-duration` is judged on a latency quantile, not `success_rate` (expected e.g. `threshold: latency_p99 <= 200ms`)
    bellwether.yaml:12:74: preset `request-duration` measures one revision, so its threshold is a value, not relative to the baseline (expected e.g. `threshold: latency_p99 <= 200ms`)
    bellwether.yaml:13:11: metric `d` has a `preset` but no `threshold` (expected e.g. `threshold: latency_p99 <= 200ms`)
    bellwether.yaml:14:11: metric `e` is a preset over PromQL, so it needs a prometheus `provider` (expected e.g. `provider: prom`)
    bellwether.yaml:15:74: `preset` writes the query and is judged by `threshold`, and `query` is set too (expected it left out)
    "#);
    let metrics =
        "        - {name: g, provider: prom, preset: request-latency, threshold: latency_p99 <= 1s}
";
    assert_snapshot!(refused(&project(nginx, metrics)), @r#"
    bellwether.yaml:10:45: unknown value `request-latency` (expected one of request-success-rate, request-duration)
    "#);
}
