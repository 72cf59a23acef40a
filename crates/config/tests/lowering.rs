//! What a valid file lowers to: the documented defaults, Argo Rollouts' spellings, and the
//! compact metric form in base units.

use std::collections::BTreeMap;
use std::time::Duration;

use bellwether_config::load;
use bellwether_core::spec::{
    AnalysisRef, BackgroundAnalysis, BuiltinMetric, CanaryStep, Condition, ConditionOp, Direction,
    EnvironmentSpec, Evidence, HeaderMatch, Inconclusive, JudgeSpec, JudgedMetricSpec, MetricSpec,
    Operand, Probe, ProviderSpec, RollingSpec, Scale, ServiceSpec, Strategy, TrafficGenerator,
    Unit, Weight,
};

fn project(source: &str) -> bellwether_core::spec::Project {
    let source = source.strip_prefix('\n').unwrap_or(source);
    match load("bellwether.yaml", source) {
        Ok(loaded) => loaded.project,
        Err(d) => panic!("{d}"),
    }
}

#[test]
fn dora_targets_read_as_written_in_either_spelling() {
    let expected = bellwether_core::spec::DoraTargets {
        deployment_frequency: bellwether_core::spec::Frequency::parse("daily"),
        lead_time: Some(Duration::from_secs(2 * 3600)),
        change_failure_rate: Some(1500),
        time_to_restore: Some(Duration::from_secs(15 * 60)),
    };
    for source in [
        "dora: {targets: {deploymentFrequency: daily, leadTime: 2h, changeFailureRate: 15%, timeToRestore: 15m}}\n",
        "dora: {targets: {deployment_frequency: daily, lead_time: 2h, change_failure_rate: 15%, time_to_restore: 15m}}\n",
    ] {
        assert_eq!(project(source).dora, expected, "{source}");
    }
    assert!(project("services:\n").dora.is_empty());
}

fn service(source: &str) -> ServiceSpec {
    project(source)
        .services
        .into_values()
        .next()
        .expect("one service")
}

fn steps(source: &str) -> Vec<CanaryStep> {
    match service(source).strategy {
        Strategy::Canary(c) => c.steps,
        other => panic!("not a canary: {other:?}"),
    }
}

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn a_minimal_service_gets_the_documented_defaults() {
    let s = service("services:\n  api:\n    run: {command: [./api, --flag], args: [--more]}\n");
    assert_eq!(s.name, "api");
    assert_eq!(s.replicas, 1);
    assert_eq!(s.run.command, ["./api", "--flag", "--more"]);
    assert_eq!(s.run.port_env, "PORT");
    assert_eq!(s.run.workdir, None);
    assert_eq!(s.readiness, Probe::http("/"));
    assert_eq!(s.liveness, None);
    assert_eq!(s.strategy, Strategy::Rolling(RollingSpec::default()));
    assert_eq!(s.progress_deadline, 600 * SECOND);
    assert_eq!(s.revision_history_limit, 10);
    assert!(s.metrics.is_empty());
    assert_eq!(s.judge, None);
}

#[test]
fn run_and_probes_read_as_written() {
    let s = service(
        r#"
services:
  api:
    run: {command: ./api, env: {LOG_LEVEL: info, RATE: 0.5}, workdir: ./srv, port_env: HTTP_PORT, image: "api:1"}
    health: /health
    liveness: {path: /live, interval: 5s, timeout: 2s, initialDelay: 10s, failureThreshold: 5, successThreshold: 1}
"#,
    );
    let env: BTreeMap<String, String> = [("LOG_LEVEL", "info"), ("RATE", "0.5")]
        .map(|(k, v)| (k.into(), v.into()))
        .into();
    assert_eq!(s.run.command, ["./api"]);
    assert_eq!(s.run.env, env);
    assert_eq!(s.run.workdir.as_deref(), Some("./srv"));
    assert_eq!(s.run.port_env, "HTTP_PORT");
    assert_eq!(s.run.image.as_deref(), Some("api:1"));
    assert_eq!(s.readiness, Probe::http("/health"));
    let live = Probe {
        path: "/live".into(),
        interval: 5 * SECOND,
        timeout: 2 * SECOND,
        initial_delay: 10 * SECOND,
        failure_threshold: 5,
        success_threshold: 1,
    };
    assert_eq!(s.liveness, Some(live));
}

#[test]
fn argo_rollouts_step_spellings_are_accepted() {
    let got = steps(
        r#"
services:
  api:
    run: {command: [./api]}
    strategy:
      canary:
        steps:
          - setWeight: "0.5%"
          - setWeight: 5
          - weight: 12.5%
          - pause: 2m
          - pause: 600
          - pause: {duration: 1h30m}
          - pause: {duration: 90}
          - pause: {}
          - pause:
          - setHeaderRoute: {name: x-canary, exact: "1"}
          - setHeaderRoute: {header: x-user, regex: "^beta-"}
          - setHeaderRoute: {}
"#,
    );
    let weight = |bp| CanaryStep::SetWeight(Weight::from_basis_points(bp).expect("valid"));
    let pause = |s: u64| CanaryStep::Pause(Some(Duration::from_secs(s)));
    let expected = [
        weight(50),
        weight(500),
        weight(1250),
        pause(120),
        pause(600),
        pause(5400),
        pause(90),
        CanaryStep::Pause(None),
        CanaryStep::Pause(None),
        CanaryStep::SetHeaderRoute(Some(HeaderMatch::Exact {
            header: "x-canary".into(),
            value: "1".into(),
        })),
        CanaryStep::SetHeaderRoute(Some(HeaderMatch::Regex {
            header: "x-user".into(),
            pattern: "^beta-".into(),
        })),
        CanaryStep::SetHeaderRoute(None),
    ];
    assert_eq!(got, expected);
}

#[test]
fn decreasing_weights_are_rejected_but_repeats_are_not() {
    let got = steps(
        "services:\n  api:\n    run: {command: [./api]}\n    strategy: {canary: {steps: [{setWeight: 20}, {setWeight: 20}]}}\n",
    );
    assert_eq!(got.len(), 2);
}

#[test]
fn compact_thresholds_are_builtin_metrics_in_base_units() {
    let s = service(
        r#"
services:
  api:
    run: {command: [./api]}
    analysis:
      metrics:
        - "success_rate >= 99%"
        - "latency_p99 <= 200ms"
        - "error_rate <= baseline + 0.5%"
"#,
    );
    let metric = |name: &str, metric: BuiltinMetric, op, rhs| MetricSpec {
        name: name.into(),
        provider: ProviderSpec::Builtin {
            metric,
            window: 30 * SECOND,
            // A latency threshold is judged as the share of requests slower than it.
            slower_than: match (metric, rhs) {
                (BuiltinMetric::Latency { .. }, Operand::Value(v)) => {
                    Some(Duration::from_secs_f64(v))
                }
                _ => None,
            },
        },
        unit: metric.unit(),
        interval: SECOND,
        count: None,
        initial_delay: Duration::ZERO,
        success: Some(Condition::Threshold { op, rhs }),
        failure: None,
        failure_limit: 0,
        inconclusive_limit: 0,
        consecutive_error_limit: 4,
        dry_run: false,
        min_sample: 50,
        evidence: Evidence::Cumulative,
        confidence: 0.95,
        inconclusive: Inconclusive::Pause,
    };
    let expected = vec![
        metric(
            "success_rate",
            BuiltinMetric::SuccessRate,
            ConditionOp::Ge,
            Operand::Value(0.99),
        ),
        metric(
            "latency_p99",
            BuiltinMetric::Latency { permille: 990 },
            ConditionOp::Le,
            Operand::Value(0.2),
        ),
        metric(
            "error_rate_vs_baseline",
            BuiltinMetric::ErrorRate,
            ConditionOp::Le,
            Operand::BaselinePlus(0.005),
        ),
    ];
    assert_eq!(s.metrics, expected);
}

#[test]
fn analysis_defaults_apply_to_every_metric_that_does_not_override_them() {
    let s = service(
        r#"
services:
  api:
    run: {command: [./api]}
    analysis:
      interval: 5s
      minSample: 200
      window: 1m
      metrics:
        - "error_rate <= 1%"
        - name: p99
          threshold: latency_p99 <= 300ms
          dryRun: true
          interval: 2s
          window: 10s
          minSample: 20
          failureLimit: 2
"#,
    );
    let [errors, p99] = s.metrics.as_slice() else {
        panic!("two metrics")
    };
    assert_eq!((errors.interval, errors.min_sample), (5 * SECOND, 200));
    assert_eq!(
        errors.provider,
        ProviderSpec::Builtin {
            metric: BuiltinMetric::ErrorRate,
            window: 60 * SECOND,
            slower_than: None,
        }
    );
    assert_eq!(errors.evidence, Evidence::Cumulative);
    assert_eq!(
        (
            p99.name.as_str(),
            p99.interval,
            p99.min_sample,
            p99.failure_limit,
            p99.dry_run
        ),
        ("p99", 2 * SECOND, 20, 2, true)
    );
    let latency = BuiltinMetric::Latency { permille: 990 };
    // Its own window asks for per-interval judgement.
    assert_eq!(
        p99.provider,
        ProviderSpec::Builtin {
            metric: latency,
            window: 10 * SECOND,
            slower_than: None,
        }
    );
    assert_eq!(p99.evidence, Evidence::Window);
    assert_eq!(
        p99.success,
        Some(Condition::Threshold {
            op: ConditionOp::Le,
            rhs: Operand::Value(0.3)
        })
    );
}

/// A job's exit status is its verdict, as the schema says: with no condition written, 0
/// passes and anything else fails.
#[test]
fn a_job_metric_is_judged_by_its_exit_status_alone() {
    let s = service(
        r#"
services:
  api:
    run: {command: [./api]}
    analysis:
      metrics:
        - name: smoke
          provider: {job: {command: [./smoke.sh]}}
"#,
    );
    let [smoke] = s.metrics.as_slice() else {
        panic!("one metric")
    };
    assert_eq!(smoke.success, Some(Condition::Expr("result == 0".into())));
    assert_eq!(smoke.failure, None);
}

#[test]
fn full_form_metrics_complete_their_provider() {
    let s = service(
        r#"
providers:
  prom: {prometheus: {address: "http://127.0.0.1:9090", headers: {Authorization: Bearer x}}}
services:
  api:
    run: {command: [./api]}
    analysis:
      metrics:
        - name: p95
          provider: prom
          query: histogram_quantile(0.95, x)
          count: 5
          initialDelay: 1m
          successCondition: result <= 0.5
          failureCondition: result > 1
          inconclusiveLimit: 1
          consecutiveErrorLimit: 2
        - name: status
          provider: {web: {url: "http://127.0.0.1:8080/status", jsonPath: "$.ok"}}
          successCondition: result == true
        - name: smoke
          provider: {job: {command: [./smoke.sh]}}
          failureCondition: result != 0
        - name: p50
          provider: builtin
          query: latency_p50
          unit: plain
          successCondition: result < 0.1
"#,
    );
    let [p95, status, smoke, p50] = s.metrics.as_slice() else {
        panic!("four metrics")
    };
    let headers: BTreeMap<String, String> =
        [("Authorization".to_owned(), "Bearer x".to_owned())].into();
    assert_eq!(
        p95.provider,
        ProviderSpec::Prometheus {
            address: "http://127.0.0.1:9090".into(),
            query: "histogram_quantile(0.95, x)".into(),
            headers,
            timeout: 5 * SECOND,
            total: None,
        }
    );
    assert_eq!(
        (p95.interval, p95.count, p95.initial_delay, p95.unit),
        (10 * SECOND, Some(5), 60 * SECOND, Unit::Plain)
    );
    assert_eq!(p95.success, Some(Condition::Expr("result <= 0.5".into())));
    assert_eq!(p95.failure, Some(Condition::Expr("result > 1".into())));
    assert_eq!(
        (
            p95.failure_limit,
            p95.inconclusive_limit,
            p95.consecutive_error_limit
        ),
        (0, 1, 2)
    );
    assert_eq!(
        status.provider,
        ProviderSpec::Web {
            url: "http://127.0.0.1:8080/status".into(),
            method: "GET".into(),
            headers: BTreeMap::new(),
            body: None,
            json_path: Some("$.ok".into()),
            timeout: 5 * SECOND,
        }
    );
    assert_eq!(
        smoke.provider,
        ProviderSpec::Job {
            command: vec!["./smoke.sh".into()],
            timeout: 60 * SECOND
        }
    );
    assert_eq!(
        p50.provider,
        ProviderSpec::Builtin {
            metric: BuiltinMetric::Latency { permille: 500 },
            window: 30 * SECOND,
            slower_than: None,
        }
    );
    assert_eq!((p50.unit, p50.interval), (Unit::Plain, SECOND));
    // A CEL condition judges each measurement's value.
    assert_eq!(p50.evidence, Evidence::Window);
}

#[test]
fn the_counts_form_is_a_share_of_two_prometheus_counts_judged_on_all_the_evidence() {
    let s = service(
        r#"
providers:
  prom: {prometheus: {address: "http://127.0.0.1:9090"}}
services:
  api:
    run: {command: [./api]}
    analysis:
      metrics:
        - name: mesh-errors
          provider: prom
          errors: sum(requests_total{code=~"5..",revision="{{revision}}"})
          total: sum(requests_total{revision="{{revision}}"})
          threshold: error_rate <= baseline + 0.5%
"#,
    );
    let m = &s.metrics[0];
    assert_eq!(
        m.provider,
        ProviderSpec::Prometheus {
            address: "http://127.0.0.1:9090".into(),
            query: r#"sum(requests_total{code=~"5..",revision="{{revision}}"})"#.into(),
            headers: BTreeMap::new(),
            timeout: 5 * SECOND,
            total: Some(r#"sum(requests_total{revision="{{revision}}"})"#.into()),
        }
    );
    assert_eq!(
        (m.evidence, m.unit, m.interval),
        (Evidence::Cumulative, Unit::Ratio, 10 * SECOND)
    );
    assert_eq!(
        m.success,
        Some(Condition::Threshold {
            op: ConditionOp::Le,
            rhs: Operand::BaselinePlus(0.005)
        })
    );
}

#[test]
fn confidence_and_inconclusive_apply_to_every_metric_unless_it_says_otherwise() {
    let s = service(
        r#"
services:
  api:
    run: {command: [./api]}
    analysis:
      confidence: 99%
      inconclusive: pass
      metrics:
        - "error_rate <= 1%"
        - "latency_p95 == 100ms"
        - name: strict
          threshold: success_rate >= 99.9%
          confidence: 99.5%
"#,
    );
    let got: Vec<(&str, Evidence, f64, Inconclusive)> = s
        .metrics
        .iter()
        .map(|m| (m.name.as_str(), m.evidence, m.confidence, m.inconclusive))
        .collect();
    assert_eq!(
        got,
        [
            ("error_rate", Evidence::Cumulative, 0.99, Inconclusive::Pass),
            ("latency_p95", Evidence::Window, 0.99, Inconclusive::Pass),
            ("strict", Evidence::Cumulative, 0.995, Inconclusive::Pass),
        ]
    );
}

#[test]
fn strategies_judge_rollouts_by_all_metrics_unless_told_otherwise() {
    let metrics = "    analysis: {metrics: [\"error_rate <= 1%\"]}\n";
    let with = |strategy: &str| {
        service(&format!(
            "services:\n  api:\n    replicas: 3\n    run: {{command: [./api]}}\n{metrics}{strategy}"
        ))
    };

    let Strategy::Rolling(rolling) = with("").strategy else {
        panic!("rolling by default")
    };
    assert_eq!(rolling.analysis, Some(AnalysisRef::all()));

    let Strategy::Canary(canary) =
        with("    strategy: {canary: {steps: [{setWeight: 50}]}}\n").strategy
    else {
        panic!("canary")
    };
    assert_eq!(
        canary.background_analysis,
        Some(BackgroundAnalysis {
            analysis: AnalysisRef::all(),
            starting_step: 0
        })
    );
    assert_eq!(
        (canary.max_surge, canary.abort_scale_down_delay),
        (Scale::Percent(25), 30 * SECOND)
    );

    let Strategy::BlueGreen(bg) =
        with("    strategy: {blueGreen: {autoPromotionSeconds: 30, previewReplicas: 1}}\n")
            .strategy
    else {
        panic!("blue-green")
    };
    assert_eq!(
        (
            bg.auto_promotion_enabled,
            bg.auto_promotion_delay,
            bg.preview_replicas
        ),
        (true, Some(30 * SECOND), Some(1))
    );
    assert_eq!(
        (bg.pre_promotion_analysis, bg.post_promotion_analysis),
        (None, Some(AnalysisRef::all()))
    );

    let Strategy::BlueGreen(bg) =
        with("    strategy: {blueGreen: {prePromotionAnalysis: {metrics: [error_rate]}}}\n")
            .strategy
    else {
        panic!("blue-green")
    };
    let errors = AnalysisRef {
        metrics: vec!["error_rate".into()],
        judge: false,
        verify: Vec::new(),
        traffic_generator: None,
        args: Default::default(),
    };
    assert_eq!(
        (bg.pre_promotion_analysis, bg.post_promotion_analysis),
        (Some(errors), None)
    );

    let Strategy::Rolling(r) =
        with("    strategy: {rolling: {maxSurge: 1, maxUnavailable: 0}}\n").strategy
    else {
        panic!("rolling")
    };
    assert_eq!(
        (r.max_surge, r.max_unavailable),
        (Scale::Count(1), Scale::Count(0))
    );
}

#[test]
fn environments_get_their_defaults() {
    let p = project(
        "environments:\n  staging: {vars: {REGION: eu}}\n  production: {branches: [main], approvals: 2, wait: 5m, allowSelfApproval: true, reviewers: [alice, bob], requires: {soak: {environment: staging, for: 24h}}}\n",
    );
    let staging = EnvironmentSpec {
        name: "staging".into(),
        branches: vec![],
        approvals: 0,
        allow_self_approval: false,
        wait: Duration::ZERO,
        reviewers: vec![],
        soak: None,
        vars: [("REGION".to_owned(), "eu".to_owned())].into(),
    };
    let production = EnvironmentSpec {
        name: "production".into(),
        branches: vec!["main".into()],
        approvals: 2,
        allow_self_approval: true,
        wait: 300 * SECOND,
        reviewers: vec!["alice".into(), "bob".into()],
        soak: Some(bellwether_core::spec::Soak {
            environment: "staging".into(),
            duration: 24 * 3600 * SECOND,
        }),
        vars: Default::default(),
    };
    assert_eq!(p.environments.get("staging"), Some(&staging));
    assert_eq!(p.environments.get("production"), Some(&production));
}

#[test]
fn the_judge_lowers_with_its_defaults() {
    let s = service(
        r#"
services:
  api:
    run: {command: [./api]}
    analysis:
      metrics: ["error_rate <= 1%", "latency_p99 <= 200ms", "success_rate >= 99%"]
      judge:
        interval: 30s
        count: 20
        confidence: 99%
        pass: 90
        marginal: 72.5
        groups: {errors: 60}
        metrics:
          - {metric: error_rate, direction: increase, critical: true, group: errors}
          - {metric: latency_p99, direction: increase, minRatio: "1.2", group: latency}
          - {metric: success_rate}
    strategy:
      canary:
        steps:
          - setWeight: 10
          - analysis: {judge: true}
          - analysis: {judge: true, metrics: [error_rate]}
          - analysis: {metrics: [error_rate], judge: false}
"#,
    );
    let judged = |metric: &str, direction, critical, group: &str, min_ratio| JudgedMetricSpec {
        metric: metric.into(),
        direction,
        critical,
        group: group.into(),
        min_ratio,
    };
    assert_eq!(
        s.judge,
        Some(JudgeSpec {
            interval: 30 * SECOND,
            count: 20,
            confidence: 0.99,
            pass_score: 90.0,
            marginal_score: 72.5,
            // Groups not listed (latency, default) share the 40% that errors leaves.
            group_weights: BTreeMap::from([("errors".into(), 60.0)]),
            metrics: vec![
                judged("error_rate", Direction::Increase, true, "errors", 1.1),
                judged("latency_p99", Direction::Increase, false, "latency", 1.2),
                judged("success_rate", Direction::Either, false, "default", 1.1),
            ],
        })
    );
    let Strategy::Canary(c) = s.strategy else {
        panic!("a canary")
    };
    let analysis = |metrics: &[&str], judge| {
        CanaryStep::Analysis(AnalysisRef {
            metrics: metrics.iter().map(|m| (*m).to_owned()).collect(),
            judge,
            verify: Vec::new(),
            traffic_generator: None,
            args: Default::default(),
        })
    };
    assert_eq!(
        c.steps[1..],
        [
            analysis(&[], true),
            analysis(&["error_rate"], true),
            analysis(&["error_rate"], false),
        ]
    );

    let s = service(
        r#"
services:
  api:
    run: {command: [./api]}
    analysis:
      metrics: ["error_rate <= 1%"]
      judge: {metrics: [{metric: error_rate}]}
    strategy:
      blueGreen: {postPromotionAnalysis: {judge: true}}
"#,
    );
    let defaults = JudgeSpec {
        interval: 10 * SECOND,
        count: 12,
        confidence: 0.95,
        pass_score: 95.0,
        marginal_score: 75.0,
        group_weights: BTreeMap::new(),
        metrics: vec![judged(
            "error_rate",
            Direction::Either,
            false,
            "default",
            1.1,
        )],
    };
    assert_eq!(s.judge, Some(defaults));
    let Strategy::BlueGreen(bg) = s.strategy else {
        panic!("blue-green")
    };
    assert_eq!(
        bg.post_promotion_analysis,
        Some(AnalysisRef {
            judge: true,
            ..AnalysisRef::default()
        })
    );
}

#[test]
fn listen_addresses_read_as_written_and_default_to_none() {
    let s = service(
        r#"
services:
  api:
    run: {command: [./api]}
    strategy: {blueGreen: {}}
    listen: localhost:8080
    previewListen: "[::1]:8081"
"#,
    );
    assert_eq!(s.listen, Some("127.0.0.1:8080".parse().unwrap()));
    assert_eq!(s.preview_listen, Some("[::1]:8081".parse().unwrap()));
    let s = service("services:\n  api:\n    run: {command: [./api]}\n");
    assert_eq!((s.listen, s.preview_listen), (None, None));
}

#[test]
fn checks_and_suites_lower_with_their_defaults() {
    use bellwether_core::spec::{
        BodyMatch, CheckSpec, CheckTarget, HeaderExpect, HttpCheck, JsonExpect, StatusRange,
        TlsCheck, VerifySpec,
    };
    let p = project(
        r#"
checks:
  health: {url: /healthz}
  api:
    url: https://api.example.com/v1/status
    method: POST
    headers: {Authorization: Bearer x}
    body: "{}"
    status: [200, 3xx]
    bodyRegex: "ok|fine"
    jsonPath: {"$.replicas": 3}
    responseHeaders: {content-type: application/json, x-version: ""}
    maxTime: 2s
    retries: 3
    backoff: 500ms
    tls: {minDays: 14, serverName: api.internal}
  db: {tcp: "127.0.0.1:5432"}
verify:
  smoke: {checks: [health, db]}
  soak: {checks: [api], duration: 5m, interval: 15s, minSuccessRate: 95%, timeout: 7m}
"#,
    );
    let health = CheckSpec {
        name: "health".into(),
        target: CheckTarget::Http(HttpCheck::get("/healthz")),
        max_time: Duration::from_secs(10),
        retries: 0,
        backoff: Duration::from_secs(1),
    };
    assert_eq!(p.checks["health"], health);
    let CheckTarget::Http(api) = &p.checks["api"].target else {
        panic!("api is an HTTP check");
    };
    assert_eq!(api.method, "POST");
    assert_eq!(api.headers["Authorization"], "Bearer x");
    assert_eq!(api.body.as_deref(), Some("{}"));
    assert_eq!(
        api.expect.status,
        [
            StatusRange {
                low: 200,
                high: 200
            },
            StatusRange {
                low: 300,
                high: 399
            }
        ]
    );
    assert_eq!(api.expect.body, Some(BodyMatch::Regex("ok|fine".into())));
    assert_eq!(
        api.expect.json,
        [JsonExpect {
            path: "$.replicas".into(),
            equals: serde_json::json!(3)
        }]
    );
    assert_eq!(
        api.expect.headers,
        [
            HeaderExpect {
                name: "content-type".into(),
                value: Some("application/json".into())
            },
            HeaderExpect {
                name: "x-version".into(),
                value: None
            },
        ]
    );
    assert_eq!(
        api.tls,
        TlsCheck {
            min_days: Some(14),
            server_name: Some("api.internal".into()),
            ..TlsCheck::default()
        }
    );
    assert_eq!(
        (
            p.checks["api"].max_time,
            p.checks["api"].retries,
            p.checks["api"].backoff
        ),
        (Duration::from_secs(2), 3, Duration::from_millis(500))
    );
    assert_eq!(
        p.checks["db"].target,
        CheckTarget::Tcp {
            address: "127.0.0.1:5432".into(),
            tls: None
        }
    );
    assert_eq!(
        p.verify["smoke"],
        VerifySpec {
            name: "smoke".into(),
            checks: vec![health, p.checks["db"].clone()],
            duration: Duration::ZERO,
            interval: Duration::from_secs(10),
            min_success_rate: 1.0,
            timeout: Duration::from_secs(60),
        }
    );
    let soak = &p.verify["soak"];
    assert_eq!(
        (
            soak.duration,
            soak.interval,
            soak.min_success_rate,
            soak.timeout
        ),
        (
            Duration::from_secs(300),
            Duration::from_secs(15),
            0.95,
            Duration::from_secs(420)
        )
    );
    assert_eq!(soak.rounds(), 21);
}

#[test]
fn suites_run_in_rollouts_travel_with_the_service() {
    let p = project(
        r#"
services:
  api:
    run: {command: [./api]}
    analysis: {metrics: ["error_rate <= 1%"]}
    strategy:
      canary:
        steps: [{setWeight: 20}, {verify: smoke}, {analysis: {metrics: [error_rate], verify: [smoke, soak]}}]
  web:
    run: {command: [./web]}
    strategy:
      blueGreen:
        prePromotionAnalysis: {verify: [smoke], trafficGenerator: {rate: 20, path: /health}}
        postPromotionAnalysis: {verify: [soak]}
  plain:
    run: {command: [./plain]}
  healed:
    run: {command: [./healed]}
    postRollbackAnalysis: {verify: [after]}
checks:
  health: {url: /health}
verify:
  smoke: {checks: [health]}
  soak: {checks: [health], duration: 1m}
  after: {checks: [health]}
  unused: {checks: [health]}
"#,
    );
    let api = &p.services["api"];
    let Strategy::Canary(c) = &api.strategy else {
        panic!("canary")
    };
    assert_eq!(
        c.steps[1],
        CanaryStep::Analysis(AnalysisRef {
            verify: vec!["smoke".into()],
            ..AnalysisRef::default()
        })
    );
    assert_eq!(
        c.steps[2],
        CanaryStep::Analysis(AnalysisRef {
            metrics: vec!["error_rate".into()],
            judge: false,
            verify: vec!["smoke".into(), "soak".into()],
            traffic_generator: None,
            args: Default::default(),
        })
    );
    let names = |s: &ServiceSpec| s.verify.iter().map(|v| v.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(api), ["smoke", "soak"]);
    assert_eq!(api.suite("soak"), Some(&p.verify["soak"]));
    assert_eq!(names(&p.services["web"]), ["smoke", "soak"]);
    assert!(p.services["plain"].verify.is_empty());
    let healed = &p.services["healed"];
    assert_eq!(names(healed), ["after"]);
    assert_eq!(
        healed.post_rollback_analysis,
        Some(AnalysisRef {
            verify: vec!["after".into()],
            ..AnalysisRef::default()
        })
    );
    assert_eq!(p.services["plain"].post_rollback_analysis, None);
    let Strategy::BlueGreen(bg) = &p.services["web"].strategy else {
        panic!("blue-green")
    };
    assert_eq!(
        bg.pre_promotion_analysis,
        Some(AnalysisRef {
            verify: vec!["smoke".into()],
            traffic_generator: Some(Box::new(TrafficGenerator {
                rate: 20.0,
                path: "/health".into(),
                headers: BTreeMap::new(),
            })),
            ..AnalysisRef::default()
        })
    );
}

#[test]
fn retention_takes_each_kinds_age_else_the_common_one_else_forever() {
    let day = Duration::from_secs(86_400);
    let retention = project("server: {retention: {age: 30d, logs: 7d}}\n")
        .server
        .retention;
    assert_eq!(
        retention,
        bellwether_core::spec::Retention {
            runs: Some(30 * day),
            logs: Some(7 * day),
            artifacts: Some(30 * day),
            analysis: Some(30 * day),
        }
    );
    let runs_only = project("server: {retention: {runs: 2s, logs: 1h}}\n")
        .server
        .retention;
    assert_eq!(
        runs_only.logs(),
        Some(2 * SECOND),
        "a run's logs go with it"
    );
    assert_eq!(runs_only.artifacts(), Some(2 * SECOND));
    assert_eq!(runs_only.analysis, None);
    assert!(project("services:\n").server.retention.keeps_all());
}
