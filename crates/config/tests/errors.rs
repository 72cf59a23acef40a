//! Every rule's exact message: each case is a small `bellwether.yaml` and the diagnostics it
//! produces, `file:line:column: message`, one per line.

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

#[test]
fn syntax_and_types() {
    assert_snapshot!(check(r#"
servics:
  api: {}
"#), @"bellwether.yaml:1:1: unknown key `servics`; did you mean `services`? (expected one of providers, services, environments, pipelines, dora, notifications, trust, checks, verify, server)");
    assert_snapshot!(check(r#"
services:
  api:
    replica: 3
    run: {command: [./api]}
"#), @"bellwether.yaml:3:5: unknown key `replica`; did you mean `replicas`? (expected one of replicas, run, health, readiness, liveness, strategy, analysis, postRollbackAnalysis, progressDeadline, revisionHistoryLimit, environments, dependsOn, listen, previewListen, trafficRouting)");
    assert_snapshot!(check(r#"
services:
  api:
    replicas: three
"#), @"bellwether.yaml:3:15: `three` is not a whole number (expected e.g. 3)");
    assert_snapshot!(check(r#"
services:
  api:
    replicas: -1
"#), @"bellwether.yaml:3:15: -1 is negative (expected a whole number, 0 or more)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    run: {command: [./other]}
"#), @"bellwether.yaml:4:5: duplicate key `run` (expected each key once)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]
"#), @"bellwether.yaml:3:10: unclosed bracket '{'");
    assert_snapshot!(check(r#"
services:
  api:
    run: ./api
"#), @"bellwether.yaml:3:10: expected a mapping of keys to values here");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: ./api --port 8080}
"#), @r#"bellwether.yaml:3:20: `./api --port 8080` has spaces (expected a list of program and arguments, e.g. ["./api", "--port", "8080"])"#);
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    progressDeadline: 10 minutes
"#), @"bellwether.yaml:4:23: `10 minutes` is not a duration (expected e.g. 250ms, 30s, 5m, 1h or 1h30m)");
    assert_snapshot!(check(r#"
- api
"#), @"bellwether.yaml:1:1: expected a mapping of keys to values here");
    assert_snapshot!(check(r#"
providers:
  prom: {prometheus: {timeout: 5s}}
"#), @"bellwether.yaml:2:23: missing key `address`");
}

#[test]
fn canary_steps() {
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    strategy:
      canary:
        steps:
          - setWeight: 10
          - setWeigh: 20
"#), @"bellwether.yaml:8:13: unknown step `setWeigh`; did you mean `setWeight`? (expected one of setWeight, weight, pause, analysis, setHeaderRoute, setCanaryScale, setMirrorRoute, verify)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    strategy:
      canary:
        steps:
          - setWeight: 10
            pause: 2m
"#), @"bellwether.yaml:7:13: a step has one key, found `setWeight` and `pause` (expected each on its own list item, e.g. `- setWeight: …` then `- pause: …`)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    strategy:
      canary:
        steps: [setWeight, {}]
"#), @"bellwether.yaml:6:17: a step is a key and a value, found just `setWeight` (expected e.g. `setWeight: 10` or `pause: 2m`)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    strategy:
      canary:
        steps:
          - setWeight: 120
          - weight: -5
          - setWeight: 0.001%
"#), @"
    bellwether.yaml:7:24: weight 120% is over 100% (expected 0–100%)
    bellwether.yaml:8:21: weight -5% is negative (expected 0–100%)
    bellwether.yaml:9:24: weight 0.001% is finer than 0.01% (expected at most two decimals, e.g. 0.25%)
    ");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    strategy:
      canary:
        steps:
          - setWeight: ten
"#), @"bellwether.yaml:7:24: `ten` is not a percentage (expected e.g. 25, 25% or 0.5%)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    strategy:
      canary:
        steps:
          - {}
"#), @"bellwether.yaml:7:13: empty step (expected one of setWeight, weight, pause, analysis, setHeaderRoute, setCanaryScale, setMirrorRoute, verify)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    strategy:
      canary:
        steps:
          - setWeight: 10
          - pause: 2m
          - setWeight: 25
          - pause: 5m
          - setWeight: 10
"#), @"bellwether.yaml:11:24: setWeight 10% after 25% at line 9: weights must not go down within a canary (expected 25% or more)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    strategy:
      canary:
        steps:
          - pause: -5m
          - pause: {duration: -30}
          - pause: 45d
"#), @"
    bellwether.yaml:7:20: pause -5m is negative (expected a duration like 30s, 5m or 1h)
    bellwether.yaml:8:31: pause -30s is negative (expected a duration like 30s, 5m or 1h)
    bellwether.yaml:9:20: pause 45d is over the 30d limit (expected at most 30d)
    ");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    strategy:
      canary:
        steps:
          - pause: 5 minutes
"#), @"bellwether.yaml:7:20: `5 minutes` is not a duration (expected e.g. 250ms, 30s, 5m, 1h or 1h30m)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    strategy:
      canary:
        steps:
          - setHeaderRoute: {header: x-canary}
          - setHeaderRoute: {exact: "1"}
          - setHeaderRoute: {header: x-canary, exact: "1", prefix: "a"}
          - setHeaderRoute: {header: "x canary", exact: "1"}
          - setHeaderRoute: {}
"#), @r#"
    bellwether.yaml:7:29: setHeaderRoute needs one of exact, prefix or regex (expected e.g. `exact: "1"`)
    bellwether.yaml:8:29: setHeaderRoute has a match but no `header` (expected e.g. `header: x-canary`)
    bellwether.yaml:9:68: setHeaderRoute has more than one match, `prefix` among them (expected exactly one of exact, prefix or regex)
    bellwether.yaml:10:38: `x canary` is not an HTTP header name (expected letters, digits and `-`, e.g. x-canary)
    "#);
}

#[test]
fn canary_options() {
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    analysis: {metrics: ["error_rate <= 1%"]}
    strategy:
      canary:
        steps: [{setWeight: 50}, {pause: {}}]
        analysis: {startingStep: 2}
"#), @"bellwether.yaml:8:34: startingStep 2 is past the last step (expected 0–1)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    analysis: {metrics: ["error_rate <= 1%"]}
    strategy:
      canary:
        analysis: {startingStep: 1}
"#), @"bellwether.yaml:7:34: startingStep 1 is past the last step (the canary has no steps; expected 0)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    strategy:
      canary:
        steps: [{setWeight: 50}]
        maxSurge: 0
        maxUnavailable: 150%
        abortScaleDownDelay: -1s
"#), @"
    bellwether.yaml:7:19: maxSurge 0 would never start a replica (expected at least 1 or 1%)
    bellwether.yaml:8:25: warning: maxUnavailable has no effect on a canary: the stable revision keeps its full size behind the weighted router
    bellwether.yaml:8:25: maxUnavailable 150% is over 100% (expected a count like 1 or a percentage up to 100%)
    bellwether.yaml:9:30: abortScaleDownDelay -1s is negative (expected a duration like 30s, 5m or 1h)
    ");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    strategy:
      canary: {}
"#), @"ok");
}

#[test]
fn strategies() {
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    strategy:
      canary: {steps: [{setWeight: 50}]}
      blueGreen: {}
"#), @"bellwether.yaml:5:7: strategy has both `canary` and `blueGreen` (expected exactly one of canary, blueGreen or rolling)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    strategy: {}
"#), @"bellwether.yaml:4:15: strategy is empty (expected one of canary, blueGreen or rolling)");
    assert_snapshot!(check(r#"
services:
  api:
    replicas: 3
    run: {command: [./api]}
    strategy:
      blueGreen: {previewReplicas: 5}
  web:
    replicas: 2
    run: {command: [./web]}
    strategy:
      blueGreen: {previewReplicas: 0, autoPromotionEnabled: false, autoPromotionSeconds: 30}
"#), @"
    bellwether.yaml:6:36: previewReplicas 5 is more than the service's 3 replicas (expected 1–3)
    bellwether.yaml:11:36: previewReplicas 0 leaves nothing to preview (expected 1–2)
    bellwether.yaml:11:90: warning: autoPromotionSeconds has no effect while autoPromotionEnabled is false
    ");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    strategy:
      rolling: {maxSurge: 0, maxUnavailable: 25%}
  web:
    replicas: 4
    run: {command: [./web]}
    strategy:
      rolling: {maxSurge: 0, maxUnavailable: 25%}
"#), @"bellwether.yaml:5:27: maxSurge 0 and maxUnavailable 25% both come to 0 of 1 replica, so no replica could ever be replaced (expected maxSurge or maxUnavailable of at least 1)");
}

#[test]
fn references() {
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    analysis:
      metrics: ["error_rate <= 1%", "latency_p99 <= 200ms"]
    strategy:
      canary:
        steps:
          - setWeight: 10
          - analysis: {metrics: [error_rat, latency_p99, cpu]}
"#), @"
    bellwether.yaml:10:34: unknown metric `error_rat`; did you mean `error_rate`? (expected one of error_rate, latency_p99)
    bellwether.yaml:10:58: unknown metric `cpu` (expected one of error_rate, latency_p99)
    ");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    strategy:
      canary:
        steps:
          - analysis: {}
"#), @r#"bellwether.yaml:7:23: analysis has no metric to run: service `api` declares no `analysis.metrics` (expected e.g. `metrics: ["error_rate <= 1%"]` under the service's `analysis`)"#);
    assert_snapshot!(check(r#"
environments:
  production: {branches: [main]}
  staging:
services:
  api:
    run: {command: [./api]}
    environments: [staging, prod]
"#), @"bellwether.yaml:7:29: unknown environment `prod` (expected one of production, staging)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    environments: [production]
"#), @"bellwether.yaml:4:20: unknown environment `production` (no environments are declared; expected an `environments:` section that declares it)");
    assert_snapshot!(check(r#"
providers:
  prom: {prometheus: {address: "http://127.0.0.1:9090"}}
services:
  api:
    run: {command: [./api]}
    analysis:
      metrics:
        - name: p95
          provider: promm
          query: histogram_quantile(0.95, x)
          successCondition: result <= 0.5
"#), @"bellwether.yaml:9:21: unknown provider `promm`; did you mean `prom`? (expected one of builtin, prom)");
}

#[test]
fn a_bad_metric_is_reported_once_not_again_where_it_is_used() {
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    analysis:
      metrics:
        - name: p95
          query: latency_p95
    strategy:
      canary:
        steps:
          - analysis: {metrics: [p95]}
"#), @"bellwether.yaml:6:11: metric `p95` has neither successCondition nor failureCondition (expected at least one, e.g. `successCondition: result <= 0.5`)");
}

#[test]
fn counts_form_metrics() {
    let prom = "providers:\n  prom: {prometheus: {address: \"http://127.0.0.1:9090\"}}\nservices:\n  api:\n    run: {command: [./api]}\n    analysis:\n      metrics:\n";
    let check_metric = |metric: &str| check(&format!("{prom}{metric}"));
    assert_snapshot!(check_metric("        - {name: e, provider: prom, errors: x, total: y, threshold: error_rate <= 1%}\n"), @"ok");
    assert_snapshot!(check_metric("        - {name: e, provider: prom, errors: x, threshold: error_rate <= 1%}\n"), @"bellwether.yaml:8:11: metric `e` has `errors` without `total` (expected both: PromQL counting failed requests, and every request)");
    assert_snapshot!(check_metric("        - {name: e, provider: prom, errors: x, total: y, threshold: latency_p99 <= 1s}\n"), @"bellwether.yaml:8:69: `errors` and `total` count failed requests, so the threshold is on `error_rate`, not `latency_p99` (expected e.g. `threshold: error_rate <= 1%`)");
    assert_snapshot!(check_metric("        - {name: e, provider: prom, errors: x, total: y}\n"), @"bellwether.yaml:8:11: metric `e` has `errors` and `total` but no `threshold` (expected e.g. `threshold: error_rate <= 1%`)");
    assert_snapshot!(check_metric("        - {name: e, errors: x, total: y, threshold: error_rate <= 1%}\n"), @"bellwether.yaml:8:11: metric `e` counts with PromQL, so it needs a prometheus `provider` (expected e.g. `provider: prom`)");
    assert_snapshot!(check_metric("        - {name: e, provider: prom, errors: x, total: y, query: z, threshold: error_rate <= 1%}\n"), @"bellwether.yaml:8:65: `errors` and `total` are judged by `threshold`, and `query` is set too (expected it left out)");
    assert_snapshot!(check_metric("        - {name: e, provider: {web: {url: \"http://127.0.0.1:1/\"}}, errors: x, total: y, threshold: error_rate <= 1%}\n"), @"bellwether.yaml:8:31: `errors` and `total` are PromQL, and metric `e`'s provider is not prometheus (expected a prometheus provider)");
    assert_snapshot!(check_metric("        - {name: e, provider: nope, errors: x, total: y, threshold: error_rate <= 1%}\n"), @"bellwether.yaml:8:31: unknown provider `nope` (expected one of builtin, prom)");
}

#[test]
fn metrics() {
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    analysis:
      metrics:
        - "sucess_rate >= 99%"
"#), @"bellwether.yaml:6:11: unknown metric `sucess_rate`; did you mean `success_rate`? (expected one of success_rate, error_rate, latency_p50, latency_p75, latency_p90, latency_p95, latency_p99, latency_p999, request_rate, cpu, memory)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    analysis:
      metrics:
        - "success_rate >= 99"
"#), @"bellwether.yaml:6:11: `99` for success_rate has no unit (expected a percentage like 99%)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    analysis:
      metrics:
        - "latency_p99 => 200ms"
"#), @"bellwether.yaml:6:11: unknown operator `=>` (expected one of <, <=, >, >=, ==, !=)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    analysis:
      metrics:
        - "error_rate <= 1%"
        - "error_rate <= baseline + 0.5%"
        - "error_rate <= 2%"
        - name: error_rate_vs_baseline
          query: error_rate
          successCondition: result <= 0.01
"#), @"
    bellwether.yaml:8:11: duplicate metric `error_rate` (the first is at line 6; expected each name once: give one of them another `name` in the full form)
    bellwether.yaml:9:17: duplicate metric `error_rate_vs_baseline` (the first is at line 7; expected each name once: give one of them another `name` in the full form)
    ");
    assert_snapshot!(check(r#"
providers:
  prom: {prometheus: {address: "http://127.0.0.1:9090"}}
services:
  api:
    run: {command: [./api]}
    analysis:
      metrics:
        - name: p95
          provider: prom
          query: histogram_quantile(0.95, x)
        - name: p90
          provider: prom
          query: histogram_quantile(0.90, x)
          successCondition: "0.5"
          failureCondition: ""
        - name: errors
          provider: prom
          successCondition: result < 1
        - name: p 99
          query: latency_p99
          successCondition: result < 1
"#), @r#"
    bellwether.yaml:8:11: metric `p95` has neither successCondition nor failureCondition (expected at least one, e.g. `successCondition: result <= 0.5`)
    bellwether.yaml:14:29: successCondition `0.5` never mentions `result` (expected e.g. `result <= 0.5`)
    bellwether.yaml:15:29: failureCondition is empty (expected an expression over `result`, e.g. `result <= 0.5`)
    bellwether.yaml:16:11: metric `errors` needs a `query` for its prometheus provider (expected PromQL, e.g. `sum(rate(http_requests_total{code=~"5.."}[1m]))`)
    bellwether.yaml:19:17: metric name `p 99` is not valid (expected letters, digits, `_`, `-` and `.`, at most 63 characters)
    "#);
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    analysis:
      interval: 0s
      metrics:
        - name: slow
          threshold: latency_p99 <= 200ms
          successCondition: result < 1
          provider: {prometheus: {address: "http://127.0.0.1:9090"}}
        - name: p95
          successCondition: result < 1
        - name: checkout
          provider: {job: {command: [./check.sh]}}
          query: up
          count: 0
          window: 10s
          successCondition: result == 0
"#), @"
    bellwether.yaml:5:17: interval must be more than 0s (expected a duration like 1s or 30s)
    bellwether.yaml:9:29: `threshold` and `successCondition` are both set (expected one or the other)
    bellwether.yaml:10:21: `threshold` measures a builtin metric (expected no `provider`, or `provider: builtin`)
    bellwether.yaml:11:17: unknown builtin metric `p95` (expected one of success_rate, error_rate, latency_p50, latency_p75, latency_p90, latency_p95, latency_p99, latency_p999, request_rate, cpu, memory, or a `provider` such as prometheus)
    bellwether.yaml:15:18: `query` has no meaning for a job provider (expected it left out)
    bellwether.yaml:16:18: count 0 takes no measurement (expected 1 or more, or no `count` to measure until the analysis stops)
    bellwether.yaml:17:19: metric `checkout` has a `window`, which only builtin metrics use (expected it left out)
    ");
}

#[test]
fn providers() {
    assert_snapshot!(check(r#"
providers:
  builtin: {prometheus: {address: "http://127.0.0.1:9090"}}
  prom: {prometheus: {address: "127.0.0.1:9090", timeout: 0s}}
  hook: {web: {url: "http://127.0.0.1:8080/ok", method: FETCH}}
  both: {web: {url: "http://127.0.0.1:8080/ok"}, job: {command: [./check.sh]}}
  none: {}
  empty: {job: {command: []}}
"#), @r#"
    bellwether.yaml:2:3: provider name `builtin` is reserved for the built-in provider (expected another name)
    bellwether.yaml:3:32: prometheus address `127.0.0.1:9090` must start with http:// or https:// (expected e.g. http://127.0.0.1:9090)
    bellwether.yaml:3:59: timeout must be more than 0s (expected a duration like 1s or 30s)
    bellwether.yaml:4:57: unknown HTTP method `FETCH` (expected one of GET, POST, PUT, PATCH, DELETE, HEAD)
    bellwether.yaml:5:9: provider `both` has both `web` and `job` (expected exactly one of prometheus, web or job)
    bellwether.yaml:6:9: provider `none` is empty (expected one of prometheus, web or job)
    bellwether.yaml:7:26: command is empty (expected a program and its arguments, e.g. ["./api", "--flag"])
    "#);
}

#[test]
fn services_and_probes() {
    assert_snapshot!(check(r#"
services:
  API_v2:
    replicas: 0
"#), @r#"
    bellwether.yaml:2:3: service name `API_v2` is not valid (expected lowercase letters, digits and `-`, starting with a letter, at most 63 characters, e.g. `api` or `media-worker`)
    bellwether.yaml:2:3: service `API_v2` has no `run` (expected e.g. `run: {command: ["./api"]}`)
    bellwether.yaml:3:15: replicas 0 runs nothing (expected 1 or more)
    "#);
    assert_snapshot!(check(r#"
services:
  api:
    run: {env: {LOG-LEVEL: info, PORT: "8080"}, portEnv: 9PORT}
    health: /health
    readiness: {path: /ready}
    liveness: {path: live, interval: 0s, failureThreshold: 0}
    progressDeadline: 31d
"#), @r#"
    bellwether.yaml:3:10: `run` needs a `command` (expected e.g. `command: ["./api"]`, or an `image` for platforms that run images)
    bellwether.yaml:3:17: env name `LOG-LEVEL` is not a valid environment variable name (expected letters, digits and `_`, not starting with a digit)
    bellwether.yaml:3:58: portEnv `9PORT` is not a valid environment variable name (expected letters, digits and `_`, not starting with a digit)
    bellwether.yaml:4:13: `health` and `readiness` are both set (`health` is shorthand for `readiness`; expected one of them)
    bellwether.yaml:6:22: probe path `live` must start with `/` (expected e.g. /health)
    bellwether.yaml:6:38: interval must be more than 0s (expected a duration like 1s or 30s)
    bellwether.yaml:6:60: failureThreshold 0 can never be reached (expected 1 or more)
    bellwether.yaml:7:23: progressDeadline 31d is over the 30d limit (expected at most 30d)
    "#);
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api], env: {PORT: "8080"}}
"#), @"
    ok
    bellwether.yaml:3:35: warning: env sets PORT, which bellwether sets to each replica's own port (expected it left out, or another `portEnv`)
    ");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [""], image: api:latest}
    health: health
"#), @r#"
    bellwether.yaml:3:20: command's program is empty (expected e.g. ["./api", "--flag"])
    bellwether.yaml:4:13: probe path `health` must start with `/` (expected e.g. /health)
    "#);
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api], env: {LOG: info}, secrets: [DB_URL, GITHUB_TOKEN, db-url, LOG, PORT, DB_URL]}
"#), @"
    bellwether.yaml:3:65: `GITHUB_TOKEN` is not a secret name (names starting with GITHUB_ are reserved)
    bellwether.yaml:3:79: secret name `db-url` is not a valid environment variable name (expected letters, digits and `_`, not starting with a digit)
    bellwether.yaml:3:87: `LOG` is already an environment variable of the replicas (expected a secret's own name)
    bellwether.yaml:3:92: `PORT` is already an environment variable of the replicas (expected a secret's own name)
    bellwether.yaml:3:98: secret `DB_URL` is listed twice
    ");
}

#[test]
fn environments() {
    assert_snapshot!(check(r#"
environments:
  production: {branches: [main, "release 1"], approvals: 1, wait: -5m}
  "my env": {}
  staging: {approvals: 3, reviewers: [alice, ""]}
  qa: {approvals: 3, reviewers: [alice, "group:"]}
  ops: {approvals: 3, reviewers: [alice, "group:sre"]}
  canary: {requires: {soak: {environment: stagin, for: 1h}}}
  loop: {requires: {soak: {environment: loop, for: 1h}}}
"#), @"
    bellwether.yaml:2:33: branch pattern `release 1` is not valid (expected a branch name or glob without spaces, e.g. `main` or `release/*`)
    bellwether.yaml:2:67: wait -5m is negative (expected a duration like 30s, 5m or 1h)
    bellwether.yaml:3:3: environment name `my env` is not valid (expected letters, digits, `_`, `-` and `.`, at most 63 characters)
    bellwether.yaml:4:24: 3 approvals are required from 2 reviewers: the gate could never open
    bellwether.yaml:4:46: a reviewer is a name (a token's, or a user's) or `group:NAME` (the tokens made with `--group NAME`), and this one is empty
    bellwether.yaml:5:41: a reviewer is a name (a token's, or a user's) or `group:NAME` (the tokens made with `--group NAME`), and this one is empty
    bellwether.yaml:7:43: unknown environment `stagin`; did you mean `staging`? (expected one of production, my env, staging, qa, ops, canary, loop)
    bellwether.yaml:8:41: environment `loop` cannot require a soak in itself
    ");
}

#[test]
fn dora_targets() {
    assert_snapshot!(check(r#"
dora:
  targets:
    deploymentFrequency: often
    leadTime: 0s
    changeFailureRate: 150%
    timeToRestore: -1m
"#), @"
    bellwether.yaml:3:26: deploymentFrequency `often` is not a frequency (expected hourly, daily, weekly, monthly, or a count per period like 3/day or 2/week)
    bellwether.yaml:4:15: leadTime must be more than 0s (expected a duration like 1s or 30s)
    bellwether.yaml:5:24: changeFailureRate 150% is not a share of rollouts (expected 0–100% with at most two decimals, e.g. 15%)
    bellwether.yaml:6:20: timeToRestore -1m is negative (expected a duration like 30s, 5m or 1h)
    ");
    assert_snapshot!(check(r#"
dora:
  targets: {deployment_frequency: 3/day, lead_time: 2h, change_failure_rate: 15%, time_to_restore: 15m}
"#), @"ok");
    assert_snapshot!(check(r#"
dora:
  goals: {}
"#), @"bellwether.yaml:2:3: unknown key `goals` (expected one of targets)");
}

#[test]
fn accepted_without_complaint() {
    assert_snapshot!(check(""), @"ok");
    assert_snapshot!(check("services:\nenvironments:\nproviders:\npipelines:\n"), @"ok");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: ./api}
    strategy: {canary: {steps: []}}
environments:
  staging:
pipelines: {}
"#), @"ok");
}

#[test]
fn reports_every_problem_in_file_order() {
    assert_snapshot!(check(r#"
services:
  api:
    replicas: 0
    run: {command: [./api]}
    strategy:
      canary:
        steps:
          - setWeight: 50
          - setWeight: 20
          - pause: -1m
    environments: [prod]
  Web:
    run: {command: [./web]}
"#), @"
    bellwether.yaml:3:15: replicas 0 runs nothing (expected 1 or more)
    bellwether.yaml:9:24: setWeight 20% after 50% at line 8: weights must not go down within a canary (expected 50% or more)
    bellwether.yaml:10:20: pause -1m is negative (expected a duration like 30s, 5m or 1h)
    bellwether.yaml:11:20: unknown environment `prod` (no environments are declared; expected an `environments:` section that declares it)
    bellwether.yaml:12:3: service name `Web` is not valid (expected lowercase letters, digits and `-`, starting with a letter, at most 63 characters, e.g. `api` or `media-worker`)
    ");
}

#[test]
fn alias_positions_point_at_the_use() {
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    strategy:
      canary:
        steps:
          - setWeight: &big 120
          - pause: 1m
          - setWeight: *big
"#), @"
    bellwether.yaml:7:29: weight 120% is over 100% (expected 0–100%)
    bellwether.yaml:9:24: weight 120% is over 100% (expected 0–100%)
    ");
}

#[test]
fn service_dependencies() {
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    dependsOn: [db, worker, api]
  worker:
    run: {command: [./worker]}
    dependsOn: [api]
"#), @"
    bellwether.yaml:4:17: unknown service `db` (expected one of api, worker)
    bellwether.yaml:4:29: service `api` depends on itself (expected other services)
    bellwether.yaml:7:17: dependsOn forms a cycle: api -> worker -> api (expected services that can start one after another)
    ");
}

#[test]
fn judge() {
    // Everything wrong at once: each setting, each metric, each group.
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    analysis:
      metrics: ["error_rate <= 1%", "latency_p99 <= 200ms"]
      judge:
        interval: 0s
        count: 2
        confidence: 50%
        pass: 70
        marginal: 75
        metrics:
          - {metric: error_rat, direction: increse}
          - {metric: latency_p99, direction: up, minRatio: 0.8, group: ""}
          - {metric: latency_p99}
    strategy:
      canary:
        steps:
          - analysis: {judge: true}
"#), @"
    bellwether.yaml:7:19: interval must be more than 0s (expected a duration like 1s or 30s)
    bellwether.yaml:8:16: count 2 is too few samples for the judge's test to find any difference (expected 3 or more)
    bellwether.yaml:9:21: confidence 50% is not above 50% and below 100% (expected e.g. 95% or 99%)
    bellwether.yaml:10:15: pass 70 is below marginal 75 (expected pass at or above marginal: a score below marginal fails, one from marginal to pass pauses for a person)
    bellwether.yaml:13:22: unknown metric `error_rat`; did you mean `error_rate`? (expected one of error_rate, latency_p99)
    bellwether.yaml:13:44: unknown direction `increse`; did you mean `increase`? (expected one of increase, decrease, either)
    bellwether.yaml:14:46: unknown direction `up` (expected one of increase, decrease, either)
    bellwether.yaml:14:60: minRatio 0.8 is below 1 (expected 1 or more: with 1.2, a significant difference counts once the means are 20% apart)
    bellwether.yaml:14:72: group is empty (expected a name such as `errors`)
    bellwether.yaml:15:22: metric `latency_p99` is judged twice (the first is at line 14; expected each metric once)
    ");
    // Scores out of range, and a judge without metrics.
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    analysis:
      metrics: ["error_rate <= 1%"]
      judge: {pass: 120, marginal: -5, confidence: 100%}
    strategy:
      canary:
        steps:
          - analysis: {judge: true}
"#), @"
    bellwether.yaml:6:14: the judge has no metrics (expected e.g. `metrics: [{metric: error_rate, direction: increase}]`)
    bellwether.yaml:6:21: pass 120 is not a score (expected 0–100)
    bellwether.yaml:6:36: marginal -5 is not a score (expected 0–100)
    bellwether.yaml:6:52: confidence 100% is not above 50% and below 100% (expected e.g. 95% or 99%)
    ");
    // Groups: weights that do not sum to 100% when every group is listed.
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    analysis:
      metrics: ["error_rate <= 1%", "latency_p99 <= 200ms"]
      judge:
        groups: {errors: 60, latency: 30}
        metrics:
          - {metric: error_rate, group: errors}
          - {metric: latency_p99, group: latency}
    strategy:
      canary:
        steps:
          - analysis: {judge: true}
"#), @"bellwether.yaml:7:17: group weights sum to 90% (expected 100% when every group is listed)");
    // Groups: an unknown group when the listed weights leave nothing, a group without metrics,
    // weights past 100%, a weight of 0.
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    analysis:
      metrics: ["error_rate <= 1%", "latency_p99 <= 200ms", "cpu <= 80%"]
      judge:
        groups: {errors: 60, latency: 40, resources: 0}
        metrics:
          - {metric: error_rate, group: errors}
          - {metric: latency_p99, group: latncy}
          - {metric: cpu}
    strategy:
      canary:
        steps:
          - analysis: {judge: true}
"#), @"
    bellwether.yaml:7:30: group `latency` has no metric (expected only groups that a metric names in its `group`)
    bellwether.yaml:7:54: weight 0% of group `resources` is not above 0% and at most 100% (expected e.g. 40%)
    bellwether.yaml:10:42: unknown group `latncy`; did you mean `latency`? (the weights in `groups` already sum to 100%, so it would weigh nothing; expected one of errors, latency, resources)
    bellwether.yaml:11:22: metric `cpu` has no `group` (the weights in `groups` already sum to 100%, so it would weigh nothing; expected one of errors, latency, resources)
    ");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    analysis:
      metrics: ["error_rate <= 1%", "latency_p99 <= 200ms"]
      judge:
        groups: {errors: 70, latency: 40}
        metrics:
          - {metric: error_rate, group: errors}
          - {metric: latency_p99, group: latency}
    strategy:
      canary:
        steps:
          - analysis: {judge: true}
"#), @"bellwether.yaml:7:17: group weights sum to 110% (expected at most 100%)");
    // Asking for a judge the service does not have; a judge nothing asks for.
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    analysis:
      metrics: ["error_rate <= 1%"]
    strategy:
      blueGreen:
        prePromotionAnalysis: {judge: true}
  web:
    run: {command: [./web]}
    analysis:
      metrics: ["error_rate <= 1%"]
      judge:
        metrics: [{metric: error_rate}]
"#), @"
    bellwether.yaml:8:39: the analysis asks for the judge, and service `api` declares none (expected a `judge:` under the service's `analysis`, or no `judge: true` here)
    bellwether.yaml:14:9: warning: no analysis asks for the judge, so it never runs (expected e.g. the canary step `- analysis: {judge: true}`, or `judge: true` in a pre- or post-promotion analysis)
    ");
    // A judge of a service that declares no metrics.
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    analysis:
      judge:
        metrics: [{metric: error_rate}]
    strategy:
      rolling: {analysis: {judge: true}}
"#), @"bellwether.yaml:6:28: unknown metric `error_rate` (the service declares no `analysis.metrics`; expected the judge's metrics among them)");
    // Type errors stop the parser, with their position.
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    analysis:
      metrics: ["error_rate <= 1%"]
      judge:
        pass: high
"#), @"bellwether.yaml:7:15: `high` is not a number (expected e.g. 95 or 1.2)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    analysis:
      metrics: ["error_rate <= 1%"]
      judge:
        metrics: [{metric: error_rate, weight: 3}]
"#), @"bellwether.yaml:7:40: unknown key `weight` (expected one of metric, direction, critical, group, minRatio)");
}

#[test]
fn listen_addresses() {
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    listen: example.com:8080
"#), @"bellwether.yaml:4:13: listen `example.com:8080` is not an address (expected an IP address or localhost, and a port, e.g. 127.0.0.1:8080)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    strategy: {blueGreen: {}}
    listen: 127.0.0.1:8080
    previewListen: 127.0.0.1:8080
"#), @"bellwether.yaml:6:20: previewListen 127.0.0.1:8080 is also the service's `listen` (expected another port)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    previewListen: 127.0.0.1:8081
"#), @"
    ok
    bellwether.yaml:4:20: warning: previewListen is only used by a blueGreen strategy (expected it left out, or `strategy: {blueGreen: ...}`)
    ");
}

#[test]
fn notifications() {
    assert_snapshot!(check(r#"
services:
  shop: {run: {command: [./shop]}}
notifications:
  none: {on: [promoted]}
  both: {slack: {url: "https://hooks.example/x"}, command: [./notify]}
  bare: {slack: {}}
  twice: {webhook: {url: "https://x", urlSecret: HOOK}}
  ftp: {webhook: {url: "ftp://x", signingSecret: GITHUB_KEY}}
  picky: {command: [./notify], on: [promotd], services: [shp], environments: [prod], attempts: 0}
"#), @"
    bellwether.yaml:4:9: a notification target is empty (expected one of slack, webhook or command)
    bellwether.yaml:5:9: a notification target has both `slack` and `command` (expected exactly one of slack, webhook or command)
    bellwether.yaml:6:17: `slack` has no address (expected `url`, or `urlSecret` naming the secret that holds it)
    bellwether.yaml:7:20: `webhook` has both `url` and `urlSecret` (expected one of them)
    bellwether.yaml:8:24: url `ftp://x` is not an http:// or https:// address
    bellwether.yaml:8:50: `GITHUB_KEY` is not a secret name (names starting with GITHUB_ are reserved)
    bellwether.yaml:9:37: unknown notice kind `promotd`; did you mean `promoted`? (expected one of rollout_started, step, paused, promoted, aborted, emergency_rollback, run_started, run_succeeded, run_failed, approval_needed)
    bellwether.yaml:9:58: unknown service `shp`; did you mean `shop`? (expected one of shop)
    bellwether.yaml:9:79: unknown environment `prod` (the file declares no environments)
    bellwether.yaml:9:96: attempts 0 would never send anything (expected 1 or more)
    ");
}

#[test]
fn checks_and_suites() {
    assert_snapshot!(check(r#"
checks:
  health: {url: /healthz, status: [200, 2xx], bodyContains: ok, maxTime: 2s, retries: 2}
  site: {url: "https://example.com/", tls: {minDays: 14}, jsonPath: {"$.status": ok}}
  db: {tcp: "127.0.0.1:5432", tls: {minDays: 7, insecure: true}}
  nothing: {}
  both: {url: /x, tcp: "h:1"}
  relative: {url: healthz, method: FETCH, status: [600, 2x]}
  patterns: {url: /x, bodyRegex: "(", jsonPath: {status: ok}, headers: {"bad name": x}}
  plain: {url: "http://x/", tls: {minDays: 1}, bodyContains: a, bodyRegex: b}
  port: {tcp: localhost, method: POST}
  slow: {url: /x, maxTime: 0s, retries: 11}
  Bad/Name: {url: /x}
verify:
  smoke: {checks: [health, helth], duration: 5m, minSuccessRate: 95%, timeout: 1m}
  empty: {checks: []}
  rate: {checks: [db], minSuccessRate: 120%, interval: 0s}
"#), @"
    bellwether.yaml:5:12: check `nothing` has neither `url` nor `tcp` (expected e.g. `url: /healthz` or `tcp: 127.0.0.1:5432`)
    bellwether.yaml:6:9: check `both` has both `url` and `tcp` (expected exactly one of them)
    bellwether.yaml:7:19: check url `healthz` is neither an http:// or https:// URL nor a path starting with / (expected e.g. /healthz or https://example.com/healthz)
    bellwether.yaml:7:36: unknown HTTP method `FETCH` (expected one of GET, POST, PUT, PATCH, DELETE, HEAD)
    bellwether.yaml:7:51: `600` is not an HTTP status (expected e.g. 200, 2xx or [200, 204])
    bellwether.yaml:7:51: `2x` is not an HTTP status (expected e.g. 200, 2xx or [200, 204])
    bellwether.yaml:8:34: bodyRegex `(` is not a regular expression (unclosed group)
    bellwether.yaml:8:50: JSON path `status` must start with `$` (expected e.g. `$.status`)
    bellwether.yaml:8:73: `bad name` is not a valid header name (expected letters, digits and -)
    bellwether.yaml:9:34: `tls` applies to https:// URLs and `tcp` checks (expected an https:// URL)
    bellwether.yaml:9:76: a check has both `bodyContains` and `bodyRegex` (expected at most one of them)
    bellwether.yaml:10:9: check `port` has `tcp` and `method` (`method` is for `url` checks)
    bellwether.yaml:10:15: tcp `localhost` is not host:port (expected e.g. 127.0.0.1:5432 or db.internal:5432)
    bellwether.yaml:11:28: maxTime must be more than 0s (expected a duration like 1s or 30s)
    bellwether.yaml:11:41: retries 11 is too many (expected at most 10)
    bellwether.yaml:12:3: check name `Bad/Name` is not valid (expected letters, digits, `_`, `-` and `.`, at most 63 characters)
    bellwether.yaml:14:28: unknown check `helth`; did you mean `health`? (expected one of health, site, db, nothing, both, relative, patterns, plain, port, slow, Bad/Name)
    bellwether.yaml:14:80: timeout 1m is shorter than the suite's duration 5m (expected at least the duration)
    bellwether.yaml:15:10: suite `empty` has no checks (expected e.g. `checks: [health]`)
    bellwether.yaml:16:40: minSuccessRate 120% is not between 0% and 100%
    bellwether.yaml:16:56: interval must be more than 0s (expected a duration like 1s or 30s)
    ");
}

#[test]
fn suites_in_rollouts() {
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    strategy:
      canary:
        steps: [{verify: smok}, {analysis: {verify: [smoke, soak]}}]
  web:
    run: {command: [./web]}
    strategy: {blueGreen: {prePromotionAnalysis: {verify: [smoke]}}}
checks:
  health: {url: /health}
verify:
  smoke: {checks: [health]}
"#), @"
    bellwether.yaml:6:26: unknown suite `smok`; did you mean `smoke`? (expected one of smoke)
    bellwether.yaml:6:61: unknown suite `soak` (expected one of smoke)
    ");
    assert_snapshot!(check(r#"
services:
  api:
    run: {command: [./api]}
    strategy: {rolling: {analysis: {verify: [smoke]}}}
"#), @"bellwether.yaml:4:46: unknown suite `smoke` (the file declares no `verify:` suites; expected e.g. `verify: {smoke: {checks: [health]}}` at the top level)");
}

#[test]
fn check_and_verify_steps() {
    assert_snapshot!(check(r#"
checks:
  health: {url: /health}
verify:
  smoke: {checks: [health]}
pipelines:
  ci:
    jobs:
      test:
        steps:
          - check: helth
          - verify: smoke
            target: "${{ needs.nope.outputs.url }}"
          - run: echo hi
            target: http://x
          - check: health
            verify: smoke
"#), @"
    bellwether.yaml:10:20: unknown check `helth`; did you mean `health`? (expected one of health)
    bellwether.yaml:12:21: target: `needs.nope.outputs.url`: this job does not need `nope` (it needs no jobs; expected the job in its `needs`)
    bellwether.yaml:14:21: `target` belongs to `check` and `verify` steps, and step `#3` is not one (expected it left out)
    bellwether.yaml:15:13: step `#4` has both `check` and `verify` (expected exactly one of `run`, `deploy`, `cache`, `artifacts`, `check`, `verify` or `load`)
    ");
}

#[test]
fn traffic_generators() {
    assert_snapshot!(check(r#"
services:
  a:
    run: {command: [./a]}
    strategy: {canary: {trafficGenerator: {path: /}}}
  b:
    run: {command: [./b]}
    strategy: {canary: {trafficGenerator: {rate: 500, path: health}}}
  c:
    run: {command: [./c]}
    strategy: {canary: {trafficGenerator: {rate: 0}}}
  d:
    run: {command: [./d]}
    strategy: {canary: {trafficGenerator: {rate: 5, path: "/x y", headers: {"bad name": v}}}}
  e:
    run: {command: [./e]}
    analysis: {metrics: ["error_rate <= 1%"]}
    strategy: {blueGreen: {prePromotionAnalysis: {trafficGenerator: {rate: 101}}}}
"#), @"
    bellwether.yaml:4:43: trafficGenerator has no `rate` (expected requests per second, e.g. `rate: 10`)
    bellwether.yaml:7:50: trafficGenerator rate 500 is not above 0 and at most 100 requests per second
    bellwether.yaml:7:61: trafficGenerator path `health` is not a path (expected e.g. / or /health)
    bellwether.yaml:10:50: trafficGenerator rate 0 is not above 0 and at most 100 requests per second
    bellwether.yaml:13:59: trafficGenerator path `/x y` is not a path (expected e.g. / or /health)
    bellwether.yaml:13:77: `bad name` is not a valid header name (expected letters, digits and -)
    bellwether.yaml:17:76: trafficGenerator rate 101 is not above 0 and at most 100 requests per second
    ");
}

#[test]
fn load_steps() {
    assert_snapshot!(check(r#"
pipelines:
  perf:
    jobs:
      test:
        steps:
          - load: ../outside.yaml
          - load: /etc/load.yaml
          - load: tests/load.yaml
            run: echo
"#), @"
    bellwether.yaml:6:19: load `../outside.yaml` is not a file of the workspace (expected a path relative to it, without `..`, e.g. tests/load/smoke.yaml)
    bellwether.yaml:7:19: load `/etc/load.yaml` is not a file of the workspace (expected a path relative to it, without `..`, e.g. tests/load/smoke.yaml)
    bellwether.yaml:8:13: step `#3` has both `run` and `load` (expected exactly one of `run`, `deploy`, `cache`, `artifacts`, `check`, `verify` or `load`)
    ");
}

/// The parser stops at its first error; every other unknown key and misplaced mapping or
/// list is reported with it, so a pasted file is fixed in one pass, not one per run.
#[test]
fn every_structural_error_at_once() {
    assert_snapshot!(check(r#"
services:
  api:
    replica: 3
    run: {command: [./api], portenv: PORT}
    strategy:
      canary:
        steps: {setWeight: 10}
pipelines:
  ci:
    jobs:
      test:
        timeout-minute: 5
        needs: {build: true}
        steps:
          - run: make test
            working-dir: src
environments:
  production: {approval: 1}
"#), @"
    bellwether.yaml:3:5: unknown key `replica`; did you mean `replicas`? (expected one of replicas, run, health, readiness, liveness, strategy, analysis, postRollbackAnalysis, progressDeadline, revisionHistoryLimit, environments, dependsOn, listen, previewListen, trafficRouting)
    bellwether.yaml:4:29: unknown key `portenv`; did you mean `portEnv`? (expected one of args, command, env, image, portEnv, secrets, workdir)
    bellwether.yaml:7:16: expected a list here, found a mapping
    bellwether.yaml:12:9: unknown key `timeout-minute`; did you mean `timeout-minutes`? (expected one of concurrency, container, continue-on-error, defaults, env, environment, if, name, needs, outputs, permissions, retry, runs-on, secrets, services, steps, strategy, timeout, timeout-minutes, uses, with)
    bellwether.yaml:13:16: expected a string or a list here, found a mapping
    bellwether.yaml:16:13: unknown key `working-dir` (expected one of artifacts, cache, check, continue-on-error, deploy, env, id, if, load, name, run, shell, target, timeout, timeout-minutes, uses, verify, with, working-directory)
    bellwether.yaml:18:16: unknown key `approval`; did you mean `approvals`? (expected one of allowSelfApproval, approvals, branches, requires, reviewers, vars, wait)
    ");
}

#[test]
fn server_settings() {
    assert_snapshot!(check(r#"
server:
  store: postgres://bellwether@db.internal:5432/bellwether
"#), @"ok");
    assert_snapshot!(check(r#"
server:
  store: mysql://bellwether@db/bellwether
"#), @"bellwether.yaml:2:10: the store is not a PostgreSQL URL (expected postgres://USER@HOST:PORT/DATABASE)");
    assert_snapshot!(check(r#"
server:
  store: postgres://bellwether:hunter2@db/bellwether
"#), @"bellwether.yaml:2:10: the store's URL holds a password, which would sit in the file in the clear (expected postgres://USER@HOST:PORT/DATABASE, and the password in $PGPASSWORD)");
    assert_snapshot!(check(r#"
server:
  stor: postgres://db/bellwether
"#), @"bellwether.yaml:2:3: unknown key `stor`; did you mean `store`? (expected one of store, retention)");
}

#[test]
fn retention() {
    assert_snapshot!(check(r#"
server:
  retention: {age: 30d, runs: 90d, logs: 7d, artifacts: 12h, analysis: 1h30m}
"#), @"ok");
    assert_snapshot!(check(r#"
server:
  retention:
    runs: -1d
    logs: 0s
"#), @"
    bellwether.yaml:3:11: retention runs -1d is negative (expected an age like 30d or 12h)
    bellwether.yaml:4:11: retention logs must be more than 0s (expected an age like 30d or 12h)
    ");
    assert_snapshot!(check(r#"
server:
  retention: {analysis: forever}
"#), @"bellwether.yaml:2:25: `forever` is not a duration (expected e.g. 250ms, 30s, 5m, 1h or 1h30m)");
    assert_snapshot!(check(r#"
server:
  retention: {runs: 7d, logs: 30d, artifacts: 7d}
"#), @"
    ok
    bellwether.yaml:2:31: warning: retention logs 30d is longer than runs 7d: a run's logs go with it, so they are kept 7d at most
    ");
    assert_snapshot!(check(r#"
server:
  retention: {run: 7d}
"#), @"bellwether.yaml:2:15: unknown key `run`; did you mean `runs`? (expected one of age, runs, logs, artifacts, analysis)");
}
