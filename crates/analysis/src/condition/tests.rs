//! Conditions as tables: the value, the conditions, and the verdict with its reason.

use std::time::Duration;

use bellwether_core::rollout::Verdict;
use bellwether_core::spec::{
    BuiltinMetric, Condition, ConditionOp, MetricSpec, Operand, ProviderSpec, Unit,
};

use super::Conditions;
use crate::value::Value;

fn spec(unit: Unit, success: Option<Condition>, failure: Option<Condition>) -> MetricSpec {
    MetricSpec {
        name: "m".to_owned(),
        provider: ProviderSpec::Builtin {
            metric: BuiltinMetric::ErrorRate,
            window: Duration::from_secs(30),
            slower_than: None,
        },
        unit,
        interval: Duration::from_secs(1),
        count: None,
        initial_delay: Duration::ZERO,
        success,
        failure,
        failure_limit: 0,
        inconclusive_limit: 0,
        consecutive_error_limit: 4,
        dry_run: false,
        min_sample: 0,
        evidence: bellwether_core::spec::Evidence::Window,
        confidence: bellwether_core::spec::DEFAULT_CONFIDENCE,
        inconclusive: bellwether_core::spec::Inconclusive::Pause,
    }
}

fn threshold(op: ConditionOp, rhs: Operand) -> Option<Condition> {
    Some(Condition::Threshold { op, rhs })
}

fn expr(text: &str) -> Option<Condition> {
    Some(Condition::Expr(text.to_owned()))
}

/// Evaluates and renders `verdict: reason`, or `error: ...`.
fn judge(spec: &MetricSpec, result: Value, baseline: Option<Value>) -> String {
    match Conditions::new(spec).evaluate(&result, baseline.as_ref()) {
        Ok(o) => format!("{:?}: {}", o.verdict, o.reason),
        Err(e) => format!("error: {e}"),
    }
}

#[test]
fn compact_thresholds() {
    use ConditionOp::*;
    use Operand::{BaselinePlus, BaselineTimes};
    let fixed = Operand::Value;
    let n = Value::Number;
    let cases = [
        (
            Unit::Ratio,
            Le,
            fixed(0.01),
            n(0.048),
            None,
            "Failed: 4.8% > 1%",
        ),
        (
            Unit::Ratio,
            Le,
            fixed(0.01),
            n(0.002),
            None,
            "Successful: 0.2% <= 1%",
        ),
        (
            Unit::Ratio,
            Ge,
            fixed(0.99),
            n(0.985),
            None,
            "Failed: 98.5% < 99%",
        ),
        (
            Unit::Seconds,
            Le,
            fixed(0.2),
            n(0.412),
            None,
            "Failed: 412ms > 200ms",
        ),
        (
            Unit::Seconds,
            Lt,
            fixed(0.2),
            n(0.2),
            None,
            "Failed: 200ms >= 200ms",
        ),
        (
            Unit::PerSecond,
            Gt,
            fixed(5.0),
            n(12.0),
            None,
            "Successful: 12/s > 5/s",
        ),
        (
            Unit::Plain,
            Eq,
            fixed(0.0),
            n(0.0),
            None,
            "Successful: 0 == 0",
        ),
        (Unit::Plain, Ne, fixed(0.0), n(0.0), None, "Failed: 0 == 0"),
        (
            Unit::Ratio,
            Le,
            BaselinePlus(0.005),
            n(0.048),
            Some(n(0.003)),
            "Failed: 4.8% > 0.8% (baseline 0.3% + 0.5%)",
        ),
        (
            Unit::Ratio,
            Ge,
            BaselinePlus(-0.01),
            n(0.985),
            Some(n(0.99)),
            "Successful: 98.5% >= 98% (baseline 99% - 1%)",
        ),
        (
            Unit::Seconds,
            Le,
            BaselineTimes(1.2),
            n(0.3),
            Some(n(0.2)),
            "Failed: 300ms > 240ms (baseline 200ms * 1.2)",
        ),
        (
            Unit::Ratio,
            Le,
            fixed(0.01),
            Value::Text("0.5".into()),
            None,
            "Failed: 50% > 1%",
        ),
        (
            Unit::Ratio,
            Le,
            fixed(0.01),
            Value::Bool(true),
            None,
            "error: result is true, not a number, so a threshold cannot judge it",
        ),
        (
            Unit::Ratio,
            Le,
            BaselinePlus(0.005),
            n(0.01),
            None,
            "error: the threshold compares with the baseline, which was not measured",
        ),
    ];
    for (unit, op, rhs, result, baseline, want) in cases {
        let s = spec(unit, threshold(op, rhs), None);
        assert_eq!(judge(&s, result, baseline), want, "{op:?} {rhs:?}");
    }
}

#[test]
fn cel_expressions() {
    let n = Value::Number;
    let cases = [
        (
            "result >= 0.99",
            n(0.995),
            None,
            "Successful: 0.995: successCondition `result >= 0.99` holds",
        ),
        (
            "result >= 0.99",
            n(0.9),
            None,
            "Failed: 0.9: successCondition `result >= 0.99` does not hold",
        ),
        (
            "result < 1",
            n(0.5),
            None,
            "Successful: 0.5: successCondition `result < 1` holds",
        ),
        (
            "result == 0",
            n(0.0),
            None,
            "Successful: 0: successCondition `result == 0` holds",
        ),
        (
            "result <= baseline * 1.2",
            n(0.3),
            Some(n(0.2)),
            "Failed: 0.3 (baseline 0.2): successCondition `result <= baseline * 1.2` does not hold",
        ),
        (
            "result[0] < 0.5 && size(result) == 2",
            Value::List(vec![n(0.1), n(0.9)]),
            None,
            "Successful: [0.1, 0.9]: successCondition `result[0] < 0.5 && size(result) == 2` holds",
        ),
        (
            "result.all(x, x < 1.0)",
            Value::List(vec![n(0.1), n(0.9)]),
            None,
            "Successful: [0.1, 0.9]: successCondition `result.all(x, x < 1.0)` holds",
        ),
        (
            "result == \"ok\"",
            Value::Text("ok".into()),
            None,
            "Successful: \"ok\": successCondition `result == \"ok\"` holds",
        ),
        (
            "result",
            Value::Bool(false),
            None,
            "Failed: false: successCondition `result` does not hold",
        ),
        (
            "result + 1.0",
            n(1.0),
            None,
            "error: successCondition `result + 1.0` gave Float(2.0), not true or false",
        ),
        // CEL does no implicit arithmetic between doubles and ints: `result` is a double.
        (
            "result + 1 > 0",
            n(1.0),
            None,
            "error: successCondition `result + 1 > 0` could not be evaluated: Unsupported binary operator 'add': Float(1.0), Int(1)",
        ),
        (
            "result >=",
            n(1.0),
            None,
            "error: successCondition `result >=` does not parse: 1:10: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}",
        ),
        (
            "result <= baseline",
            n(1.0),
            None,
            "error: successCondition `result <= baseline` could not be evaluated: Undeclared reference to 'baseline'",
        ),
    ];
    for (text, result, baseline, want) in cases {
        let s = spec(Unit::Plain, expr(text), None);
        assert_eq!(judge(&s, result, baseline), want, "{text}");
    }
}

/// Argo Rollouts' expr-lang forms on a single-series vector (a number), a vector of several, a
/// list of one and a JSON document.
#[test]
fn argo_expressions() {
    let n = Value::Number;
    let pair = || Value::List(vec![n(0.97), n(0.99)]);
    let cases = [
        ("result[0] >= 0.95", n(0.97), None, "Successful"),
        ("result[0] >= 0.95", n(0.9), None, "Failed"),
        (
            "len(result) == 1 and result[0] > 0.5",
            n(0.97),
            None,
            "Successful",
        ),
        (
            "all(result, {# > 0.9}) and not isNaN(result[0])",
            n(0.97),
            None,
            "Successful",
        ),
        ("result.all(x, x > 0.98)", pair(), None, "Failed"),
        (
            "any(result, # > 0.98) or result[0] > 1",
            pair(),
            None,
            "Successful",
        ),
        (
            "result >= 0.95",
            Value::List(vec![n(0.97)]),
            None,
            "Successful",
        ),
        (
            "result[0] <= baseline[0] * 1.2",
            n(0.3),
            Some(n(0.2)),
            "Failed",
        ),
        (
            "result <= baseline * 1.2",
            n(0.2),
            Some(n(0.2)),
            "Successful",
        ),
        (
            "result.status == 'ok' and result.ratio >= 0.95",
            Value::Map(
                [
                    ("status".to_owned(), Value::Text("ok".into())),
                    ("ratio".to_owned(), n(0.97)),
                ]
                .into(),
            ),
            None,
            "Successful",
        ),
    ];
    for (text, result, baseline, want) in cases {
        let s = spec(Unit::Plain, expr(text), None);
        let got = judge(&s, result, baseline);
        assert!(got.starts_with(&format!("{want}: ")), "{text}: {got}");
    }
    // Neither shape evaluates: the error is the value's as measured.
    let s = spec(Unit::Plain, expr("result[2] > 0"), None);
    assert_eq!(
        judge(&s, n(1.0), None),
        "error: successCondition `result[2] > 0` could not be evaluated: found no matching overload for '_[_]' applied to '(double, int)'"
    );
}

#[test]
fn success_and_failure_combine_as_in_argo_rollouts() {
    let n = Value::Number;
    let s = || expr("result <= 0.2");
    let f = || expr("result > 0.5");
    let cases = [
        (s(), None, 0.1, Verdict::Successful),
        (s(), None, 0.3, Verdict::Failed),
        (None, f(), 0.3, Verdict::Successful),
        (None, f(), 0.6, Verdict::Failed),
        (s(), f(), 0.1, Verdict::Successful),
        (s(), f(), 0.3, Verdict::Inconclusive),
        (s(), f(), 0.6, Verdict::Failed),
        (None, None, 0.6, Verdict::Successful),
    ];
    for (success, failure, value, want) in cases {
        let spec = spec(Unit::Seconds, success.clone(), failure.clone());
        let got = Conditions::new(&spec).evaluate(&n(value), None).unwrap();
        assert_eq!(got.verdict, want, "{success:?} {failure:?} {value}");
    }
    let both = spec(Unit::Seconds, s(), f());
    let got = Conditions::new(&both).evaluate(&n(0.3), None).unwrap();
    insta::assert_snapshot!(got.reason, @"300ms: successCondition `result <= 0.2` does not hold, and failureCondition `result > 0.5` does not hold");
}

#[test]
fn baseline_is_needed_only_when_a_condition_names_it() {
    let cases = [
        (threshold(ConditionOp::Le, Operand::Value(0.01)), false),
        (
            threshold(ConditionOp::Le, Operand::BaselineTimes(1.2)),
            true,
        ),
        (expr("result <= baseline + 0.01"), true),
        (expr("result <= 0.01"), false),
        (expr("baseline >="), true),
    ];
    for (c, want) in cases {
        let s = spec(Unit::Ratio, c.clone(), None);
        assert_eq!(Conditions::new(&s).needs_baseline(), want, "{c:?}");
        let f = spec(Unit::Ratio, None, c.clone());
        assert_eq!(
            Conditions::new(&f).needs_baseline(),
            want,
            "{c:?} as failure"
        );
    }
}
