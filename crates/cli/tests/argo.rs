//! An Argo Rollouts user's analysis as written: a real `bellwether up` rolls a canary of
//! `demo-service` out, its analysis step runs a Prometheus metric whose PromQL names
//! `{{args.service-name}}` and `{{args.job}}` (one given by the step from the service's name,
//! one a declared default) and judges it by Argo's `result[0] >= 0.95`, against Debian's
//! Prometheus scraping a target on loopback. The healthy canary is promoted.

mod support;

use std::path::Path;

use support::{BIN, ControlPlane, prometheus};

/// What the scraped target reports: the service's success ratio, and another service's that
/// would fail the condition if the argument were not filled in.
const METRICS: &str = "\
# TYPE checkout_success_ratio gauge
checkout_success_ratio{service=\"argo-web\"} 0.99
checkout_success_ratio{service=\"other\"} 0.5
";

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
    let target = prometheus::exporter(|| METRICS.to_owned());
    let prometheus = prometheus::start("checkout", &target);
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
