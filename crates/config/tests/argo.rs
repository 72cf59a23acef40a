//! Argo Rollouts users' files: a Rollout and an AnalysisTemplate in bellwether's spelling load
//! as written (expr-lang conditions, `args`, `setCanaryScale`, `setMirrorRoute`, metrics run
//! where they are referenced), and pasted as Argo wrote them they get bellwether's spelling of
//! every key in one pass.

use std::collections::BTreeMap;

use bellwether_core::spec::{AnalysisRef, CanaryScale, CanaryStep, Strategy, Weight};
use insta::assert_snapshot;

/// Loads `source` (minus the newline after the opening quote) and renders the outcome.
fn check(source: &str) -> String {
    let source = source.strip_prefix('\n').unwrap_or(source);
    match bellwether_config::load("bellwether.yaml", source) {
        Ok(loaded) if loaded.warnings.is_empty() => "ok".to_owned(),
        Ok(loaded) => format!("ok\n{}", loaded.warnings),
        Err(diagnostics) => diagnostics.to_string(),
    }
}

fn canary(source: &str) -> bellwether_core::spec::CanarySpec {
    let source = source.strip_prefix('\n').unwrap_or(source);
    let loaded =
        bellwether_config::load("bellwether.yaml", source).unwrap_or_else(|d| panic!("{d}"));
    match &loaded.project.services["api"].strategy {
        Strategy::Canary(c) => c.clone(),
        other => panic!("not a canary: {other:?}"),
    }
}

const TEMPLATE: &str = r#"
providers:
  prom: {prometheus: {address: "http://127.0.0.1:9090"}}
services:
  api:
    run: {command: [./api]}
    strategy:
      canary:
        steps:
          - setWeight: 20
          - analysis:
              metrics: [success-rate]
              args: [{name: service-name, value: checkout}]
          - setWeight: 50
    analysis:
      args:
        - name: service-name
        - name: quantile
          value: "0.99"
        - name: self
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
      metrics:
        - name: success-rate
          provider: prom
          query: sum(rate(http_requests_total{service="{{args.service-name}}",code!~"5.."}[1m])) / sum(rate(http_requests_total{service="{{args.service-name}}"}[1m]))
          successCondition: result[0] >= 0.95
          failureLimit: 3
        - name: latency
          provider: prom
          query: histogram_quantile({{args.quantile}}, rate(x{job="{{ args.self }}"}[1m]))
          successCondition: all(result, {# < 0.5}) and len(result) > 0
        - "error_rate <= 1%"
"#;

#[test]
fn an_analysis_template_with_args_lowers_with_their_values() {
    let c = canary(TEMPLATE);
    let step = match &c.steps[1] {
        CanaryStep::Analysis(a) => a.clone(),
        other => panic!("{other:?}"),
    };
    let defaults = [("quantile", "0.99"), ("self", "api")];
    let with = |extra: &[(&str, &str)]| -> BTreeMap<String, String> {
        defaults
            .iter()
            .chain(extra)
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    assert_eq!(
        step,
        AnalysisRef {
            metrics: vec!["success-rate".into()],
            args: with(&[("service-name", "checkout")]),
            ..AnalysisRef::default()
        }
    );
    // The step's metric runs only where it is referenced: the background analysis runs the
    // others, with the declared defaults.
    let background = c.background_analysis.expect("a background analysis");
    assert_eq!(
        background.analysis,
        AnalysisRef {
            metrics: vec!["latency".into(), "error_rate".into()],
            args: with(&[]),
            ..AnalysisRef::default()
        }
    );
}

#[test]
fn metrics_named_by_steps_leave_the_default_background_analysis() {
    let c = canary(
        r#"
services:
  api:
    run: {command: [./api]}
    strategy:
      canary:
        steps:
          - setWeight: 20
          - analysis: {}
    analysis:
      metrics: ["error_rate <= 1%"]
"#,
    );
    assert_eq!(c.background_analysis, None, "a step runs every metric");
    let c = canary(
        r#"
services:
  api:
    run: {command: [./api]}
    strategy:
      canary:
        steps:
          - setWeight: 20
          - analysis: {judge: true}
    analysis:
      metrics: ["error_rate <= 1%"]
      judge: {metrics: [{metric: error_rate}]}
"#,
    );
    let background = c.background_analysis.expect("the metric no step names");
    assert!(background.analysis.is_all());
}

#[test]
fn canary_scale_and_mirror_steps_lower() {
    let c = canary(
        r#"
services:
  api:
    replicas: 4
    run: {command: [./api]}
    strategy:
      canary:
        steps:
          - setCanaryScale: {replicas: 2}
          - setMirrorRoute: {name: mirror, percentage: 35}
          - setCanaryScale: {weight: 25}
          - setWeight: 50
          - setMirrorRoute: {name: mirror}
          - setCanaryScale: {matchTrafficWeight: true}
"#,
    );
    let pct = |p| Weight::from_percent(p).unwrap();
    assert_eq!(
        c.steps,
        [
            CanaryStep::SetCanaryScale(CanaryScale::Replicas(2)),
            CanaryStep::SetMirrorRoute(Some(pct(35))),
            CanaryStep::SetCanaryScale(CanaryScale::Weight(pct(25))),
            CanaryStep::SetWeight(pct(50)),
            CanaryStep::SetMirrorRoute(None),
            CanaryStep::SetCanaryScale(CanaryScale::MatchTrafficWeight),
        ]
    );
}

#[test]
fn conditions_are_parsed_where_they_are_written() {
    assert_snapshot!(check(r#"
providers:
  prom: {prometheus: {address: "http://127.0.0.1:9090"}}
services:
  api:
    run: {command: [./api]}
    analysis:
      metrics:
        - name: a
          provider: prom
          query: x
          successCondition: result[0] >= 0.95 and not isNaN(result[0])
          failureCondition: any(result, {# < 0.5}) or len(result) == 0
        - name: b
          provider: prom
          query: x
          successCondition: result[0 >= 0.95
        - name: c
          provider: prom
          query: x
          failureCondition: |
            result[0] < 0.5 and
              and result[0] > 2
"#), @"
bellwether.yaml:16:29: successCondition `result[0 >= 0.95` does not parse: Syntax error: missing ']' at '<EOF>' at line 1, column 17 of the expression (expected CEL or Argo Rollouts' expr-lang over `result`, e.g. `result[0] >= 0.95`)
bellwether.yaml:21:13: failureCondition `result[0] < 0.5 and and result[0] > 2` does not parse: Syntax error: extraneous input '&&' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER} at line 2, column 3 of the expression (expected CEL or Argo Rollouts' expr-lang over `result`, e.g. `result[0] >= 0.95`)
");
}

#[test]
fn arguments_are_checked_where_they_are_used_and_given() {
    assert_snapshot!(check(r#"
providers:
  prom: {prometheus: {address: "http://127.0.0.1:9090"}}
services:
  api:
    run: {command: [./api]}
    strategy:
      canary:
        steps:
          - analysis:
              metrics: [a]
              args: [{name: service-nme, value: x}, {name: region}]
          - analysis: {metrics: [b]}
        analysis:
          metrics: [a]
          args:
            - name: service
              valueFrom: {secretKeyRef: {name: s, key: k}}
            - name: region
              valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
    analysis:
      args:
        - name: service
        - name: region
          value: eu
          valueFrom: {podTemplateHashValue: Latest}
        - name: region
      metrics:
        - name: a
          provider: prom
          query: x{service="{{args.service}}",zone="{{args.zone}}"}
          successCondition: result[0] >= 0.95
        - name: b
          provider: prom
          query: x{v="{{version}}"}
          successCondition: result >= 0.95
"#), @"
bellwether.yaml:10:15: the analysis runs metric `a`, whose `{{args.service}}` has no value (expected `args: [{name: service, value: …}]` on the analysis, or a `value` where `analysis.args` declares it)
bellwether.yaml:11:29: unknown argument `service-nme` (expected one of service, region)
bellwether.yaml:11:53: argument `region` has no value (expected `value: …` or `valueFrom: {fieldRef: {fieldPath: metadata.name}}`)
bellwether.yaml:14:11: the analysis runs metric `a`, whose `{{args.service}}` has no value (expected `args: [{name: service, value: …}]` on the analysis, or a `value` where `analysis.args` declares it)
bellwether.yaml:17:41: valueFrom.secretKeyRef is not supported: arguments are not secret (expected a provider's `headers` for credentials, or `value: …`)
bellwether.yaml:19:49: fieldPath `metadata.namespace` names no field of the service (expected metadata.name, the service's name)
bellwether.yaml:25:22: argument `region` has both `value` and `valueFrom` (expected one of them)
bellwether.yaml:26:17: argument `region` is declared twice (expected each name once)
bellwether.yaml:30:18: metric `a` uses `{{args.zone}}`, an argument the service's analysis does not declare (expected it in `analysis.args`, e.g. `args: [{name: zone}]`)
bellwether.yaml:34:18: metric `b`: unknown placeholder `{{version}}` (expected {{service}}, {{revision}} or {{args.NAME}})
");
}

#[test]
fn a_default_analysis_needs_defaults_for_what_it_uses() {
    assert_snapshot!(check(r#"
providers:
  prom: {prometheus: {address: "http://127.0.0.1:9090"}}
services:
  api:
    run: {command: [./api]}
    strategy:
      canary:
        steps: [{setWeight: 20}]
    analysis:
      args: [{name: service-name}]
      metrics:
        - name: a
          provider: prom
          query: x{service="{{args.service-name}}"}
          successCondition: result[0] >= 0.95
"#), @"bellwether.yaml:10:21: argument `service-name` has no `value`, and metric `a`, which uses it, runs in the strategy's default analysis, which gives none (expected a `value` here, or the analysis written out with `args`)");
}

#[test]
fn canary_scale_and_mirror_mistakes() {
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    strategy:
      canary:
        steps:
          - setCanaryScale: {replicas: 2, weight: 20}
          - setCanaryScale: {matchTrafficWeight: false}
          - setCanaryScale: {weight: 120}
          - setMirrorRoute: {percentage: 20}
          - setMirrorRoute:
              name: m
              percentage: 20
              match: [{method: {exact: GET}}]
"#), @"
bellwether.yaml:7:29: setCanaryScale needs exactly one of replicas, weight or matchTrafficWeight (expected e.g. `setCanaryScale: {replicas: 2}`)
bellwether.yaml:8:50: matchTrafficWeight: false says nothing (expected `matchTrafficWeight: true`, or `replicas` or `weight`)
bellwether.yaml:9:38: weight 120% is over 100% (expected 0–100%)
bellwether.yaml:10:29: setMirrorRoute has no `name` (expected e.g. `setMirrorRoute: {name: mirror, percentage: 20}`)
bellwether.yaml:14:22: setMirrorRoute's `match` is not supported: the built-in router mirrors a share of all requests (expected only `name` and `percentage`)
");
}

#[test]
fn a_pasted_rollout_gets_every_key_in_bellwether_spelling() {
    assert_snapshot!(check(r#"
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: api-service
spec:
  replicas: 5
  progressDeadlineSeconds: 600
  selector:
    matchLabels: {app: api-service}
  template:
    spec:
      containers: [{name: api, image: api:1.0}]
  strategy:
    canary:
      canaryService: api-canary
      stableService: api-stable
      trafficRouting:
        istio: {virtualService: {name: api-vs}}
      analysis:
        templates: [{templateName: success-rate}]
        startingStep: 2
        args: [{name: service-name, value: api-service}]
      steps:
        - setWeight: 10
        - pause: {duration: 1h}
        - analysis:
            templates:
              - templateName: success-rate
"#), @"
bellwether.yaml:1:1: Argo Rollouts' `apiVersion` is not needed: bellwether.yaml has no apiVersion (a Rollout becomes a service under `services:`)
bellwether.yaml:2:1: Argo Rollouts' `kind` is not needed: a Rollout becomes a service under `services: {NAME: …}`, and an AnalysisTemplate's metrics go under that service's `analysis:`
bellwether.yaml:3:1: Argo Rollouts' `metadata` is not needed: the Rollout's name is the service's key, as in `services: {api-service: …}`
bellwether.yaml:5:1: Argo Rollouts' `spec` is the service itself here: `services: {NAME: {replicas, strategy, …}}`; an AnalysisTemplate's spec (args, metrics) is the service's `analysis:`
bellwether.yaml:7:3: Argo Rollouts' `progressDeadlineSeconds` is `progressDeadline` here, e.g. `progressDeadline: 10m`
bellwether.yaml:8:3: Argo Rollouts' `selector` is not needed: a service's revisions are its own (expected no selector)
bellwether.yaml:10:3: Argo Rollouts' `template` (the pod template) is the service's `run: {command: […], env: {…}}` on the local platform
bellwether.yaml:15:7: Argo Rollouts' `canaryService` is not needed: the router sends each revision its share on the service's `listen` address (a blue-green preview on `previewListen`)
bellwether.yaml:16:7: Argo Rollouts' `stableService` is not needed: the router sends each revision its share on the service's `listen` address (a blue-green preview on `previewListen`)
bellwether.yaml:17:7: Argo Rollouts' `trafficRouting` is a key of the service here, beside `strategy`: `trafficRouting: {istio: …}` on the kubernetes platform; without it bellwether's own router splits the traffic on `listen`
bellwether.yaml:20:9: Argo Rollouts' `templates` names AnalysisTemplates; here an analysis names the service's metrics: `metrics: [NAME, …]`
bellwether.yaml:20:22: Argo Rollouts' `templateName` is a metric's name here: `analysis: {metrics: [NAME]}`, the metric declared under the service's `analysis.metrics`
bellwether.yaml:27:13: Argo Rollouts' `templates` names AnalysisTemplates; here an analysis names the service's metrics: `metrics: [NAME, …]`
bellwether.yaml:28:17: Argo Rollouts' `templateName` is a metric's name here: `analysis: {metrics: [NAME]}`, the metric declared under the service's `analysis.metrics`
");
    assert_snapshot!(check(r#"
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success-rate
spec:
  args:
    - name: service-name
  dryRun: [{metricName: success-rate}]
  measurementRetention: [{metricName: success-rate, limit: 20}]
  metrics:
    - name: success-rate
      interval: 5m
      successCondition: result[0] >= 0.95
      failureLimit: 3
      provider:
        prometheus:
          address: http://prometheus.example.com:9090
          query: sum(rate(x{service="{{args.service-name}}"}[5m]))
"#), @"
bellwether.yaml:1:1: Argo Rollouts' `apiVersion` is not needed: bellwether.yaml has no apiVersion (a Rollout becomes a service under `services:`)
bellwether.yaml:2:1: Argo Rollouts' `kind` is not needed: a Rollout becomes a service under `services: {NAME: …}`, and an AnalysisTemplate's metrics go under that service's `analysis:`
bellwether.yaml:3:1: Argo Rollouts' `metadata` is not needed: the Rollout's name is the service's key, as in `services: {api-service: …}`
bellwether.yaml:5:1: Argo Rollouts' `spec` is the service itself here: `services: {NAME: {replicas, strategy, …}}`; an AnalysisTemplate's spec (args, metrics) is the service's `analysis:`
bellwether.yaml:8:3: Argo Rollouts' `dryRun` is `dryRun: true` on each metric here
bellwether.yaml:9:3: Argo Rollouts' `measurementRetention` is not needed: every measurement is kept with its rollout (expected no measurementRetention)
bellwether.yaml:18:11: Argo Rollouts' `query` is the metric's `query:` here, beside `provider:` (expected only address, headers and timeout in the provider)
");
}
