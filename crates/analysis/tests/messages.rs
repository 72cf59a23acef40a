//! Every measurement explains itself: the metric, the value, the threshold or baseline, the
//! sample and the window. Message by message, and as the JSON the CLI and dashboard read.

use std::time::Duration;

use bellwether_analysis::condition::Conditions;
use bellwether_analysis::{Measurement, Observation, Value};
use bellwether_core::spec::{
    BuiltinMetric, Condition, ConditionOp, MetricSpec, Operand, ProviderSpec, Unit,
};
use bellwether_core::time::Timestamp;

fn builtin(name: &str, op: ConditionOp, rhs: Operand) -> MetricSpec {
    let metric = BuiltinMetric::from_name(name.trim_end_matches("_vs_baseline")).expect("builtin");
    MetricSpec {
        name: name.to_owned(),
        provider: ProviderSpec::Builtin {
            metric,
            window: Duration::from_secs(30),
            slower_than: None,
        },
        unit: metric.unit(),
        interval: Duration::from_secs(1),
        count: None,
        initial_delay: Duration::ZERO,
        success: Some(Condition::Threshold { op, rhs }),
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

fn assess(spec: &MetricSpec, canary: Observation, baseline: Option<Observation>) -> Measurement {
    Measurement::assess(
        spec,
        &Conditions::new(spec),
        Timestamp(42_000),
        canary,
        baseline,
    )
}

fn traffic(v: f64, requests: u64, secs: u64) -> Observation {
    Observation::number(v).with_sample(requests, Duration::from_secs(secs))
}

#[test]
fn messages_carry_the_numbers() {
    use ConditionOp::*;
    let error_rate = builtin("error_rate", Le, Operand::Value(0.01));
    let relative = builtin("error_rate_vs_baseline", Le, Operand::BaselinePlus(0.005));
    let p99 = builtin("latency_p99", Le, Operand::Value(0.2));
    let cpu = builtin("cpu", Le, Operand::Value(0.8));
    let mut expr = builtin("error_rate", Le, Operand::Value(0.01));
    expr.name = "istio-p99".to_owned();
    expr.unit = Unit::Seconds;
    expr.success = Some(Condition::Expr("result <= 0.2".to_owned()));
    expr.failure = Some(Condition::Expr("result > 0.5".to_owned()));
    let messages: Vec<String> = [
        assess(&error_rate, traffic(0.048, 2_413, 30), None),
        assess(&error_rate, traffic(0.002, 2_413, 30), None),
        assess(&error_rate, traffic(0.5, 12, 30), None),
        assess(
            &error_rate,
            Observation::no_data("no requests completed").with_sample(0, Duration::from_secs(4)),
            None,
        ),
        assess(
            &relative,
            traffic(0.048, 2_413, 30),
            Some(traffic(0.003, 21_877, 30)),
        ),
        assess(
            &relative,
            traffic(0.048, 2_413, 30),
            Some(traffic(0.0, 20, 30)),
        ),
        assess(&p99, traffic(0.412, 2_413, 12), None),
        assess(
            &cpu,
            Observation::number(0.85).with_window(Duration::from_secs(30)),
            None,
        ),
        assess(&expr, Observation::number(0.62), None),
        assess(&expr, Observation::number(0.3), None),
        assess(
            &expr,
            Observation::value(Value::Text("fast".to_owned())),
            None,
        ),
    ]
    .into_iter()
    .map(|m| format!("{:?}: {}", m.verdict, m.message))
    .collect();
    insta::assert_snapshot!(messages.join("\n"), @"
    Failed: error_rate 4.8% > 1% over last 30s (canary, 2,413 requests)
    Successful: error_rate 0.2% <= 1% over last 30s (canary, 2,413 requests)
    Inconclusive: error_rate not judged: 12 requests over last 30s (canary), fewer than the 50 needed
    Inconclusive: error_rate not judged: no data for the canary (no requests completed)
    Failed: error_rate_vs_baseline 4.8% > 0.8% (baseline 0.3% + 0.5%) over last 30s (canary, 2,413 requests; baseline 21,877 requests)
    Inconclusive: error_rate_vs_baseline not judged: 20 requests over last 30s (baseline), fewer than the 50 needed
    Failed: latency_p99 412ms > 200ms over last 12s (canary, 2,413 requests)
    Failed: cpu 85% > 80% over last 30s (canary)
    Failed: istio-p99 620ms: failureCondition `result > 0.5` holds
    Inconclusive: istio-p99 300ms: successCondition `result <= 0.2` does not hold, and failureCondition `result > 0.5` does not hold
    Error: istio-p99: successCondition `result <= 0.2` could not be evaluated: found no matching overload for '_<=_' applied to '(string, double)'
    ");
}

#[test]
fn measurements_are_json() {
    let spec = builtin("error_rate", ConditionOp::Le, Operand::Value(0.01));
    let m = assess(&spec, traffic(0.048, 2_413, 30), None);
    let json = serde_json::to_string_pretty(&m).expect("serializable");
    insta::assert_snapshot!(json, @r#"
    {
      "metric": "error_rate",
      "at": 42000,
      "verdict": "failed",
      "waiting": null,
      "value": 0.048,
      "baseline": null,
      "condition": "<= 1%",
      "sample": {
        "requests": 2413,
        "window": {
          "secs": 30,
          "nanos": 0
        }
      },
      "baseline_sample": null,
      "window": {
        "secs": 30,
        "nanos": 0
      },
      "message": "error_rate 4.8% > 1% over last 30s (canary, 2,413 requests)",
      "dry_run": false
    }
    "#);
    let back: Measurement = serde_json::from_str(&json).expect("deserializable");
    assert_eq!(back, m);
}
