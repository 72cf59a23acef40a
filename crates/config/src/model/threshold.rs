//! The compact metric form: `success_rate >= 99%`, `latency_p99 <= 200ms`,
//! `error_rate <= baseline + 0.5%`, `latency_p99 <= baseline * 1.2`.

use std::borrow::Cow;
use std::fmt;

use bellwether_core::spec::{BuiltinMetric, Condition, ConditionOp, Operand, Unit};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::suggest::did_you_mean;
use crate::values::DurationValue;

const OPERATORS: &str = "<, <=, >, >=, ==, !=";
const SHAPE: &str = "expected `<metric> <op> <value>`, e.g. `success_rate >= 99%`";

/// A threshold on one of the built-in router's metrics: `<metric> <op> <value>`.
///
/// Values carry their unit: percentages for ratios (`99%`), `ms` or `s` for latencies, `/s` or a
/// bare number for request rates. The right-hand side may be relative to the stable (baseline)
/// revision: `baseline + 0.5%`, `baseline - 1%` or `baseline * 1.2`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Threshold {
    pub metric: BuiltinMetric,
    pub op: ConditionOp,
    pub rhs: Operand,
}

impl Threshold {
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let name_len = t
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(t.len());
        let (name, rest) = t.split_at(name_len);
        if name.is_empty() {
            return Err(format!("`{text}` is not a threshold ({SHAPE})"));
        }
        let metric = BuiltinMetric::from_name(name).ok_or_else(|| {
            let names = BuiltinMetric::NAMES;
            format!(
                "unknown metric `{name}`{} (expected one of {})",
                did_you_mean(name, names.iter().copied()),
                names.join(", ")
            )
        })?;
        let rest = rest.trim_start();
        let op_len = rest
            .find(|c: char| !"<>=!".contains(c))
            .unwrap_or(rest.len());
        let (symbol, value) = rest.split_at(op_len);
        if symbol.is_empty() {
            return Err(format!(
                "`{text}` has no comparison ({SHAPE}, with one of {OPERATORS})"
            ));
        }
        let op = ConditionOp::from_symbol(symbol)
            .ok_or_else(|| format!("unknown operator `{symbol}` (expected one of {OPERATORS})"))?;
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("`{text}` has no value ({SHAPE})"));
        }
        let rhs = match value.strip_prefix("baseline") {
            Some(relative) => baseline(metric, relative.trim())?,
            None => Operand::Value(absolute(metric, value)?),
        };
        Ok(Self { metric, op, rhs })
    }

    /// The metric's name when the threshold is written compactly: the builtin metric's, with
    /// `_vs_baseline` appended for a comparison with the baseline, so that a service can judge a
    /// metric both absolutely and relatively (`error_rate <= 1%` and `error_rate <= baseline + 0.5%`).
    pub fn name(&self) -> String {
        if self.rhs.is_relative() {
            format!("{}_vs_baseline", self.metric)
        } else {
            self.metric.to_string()
        }
    }

    pub fn condition(&self) -> Condition {
        Condition::Threshold {
            op: self.op,
            rhs: self.rhs,
        }
    }
}

fn baseline(metric: BuiltinMetric, relative: &str) -> Result<Operand, String> {
    if relative.is_empty() {
        return Ok(Operand::BaselinePlus(0.0));
    }
    let expected = "expected `baseline + <value>`, `baseline - <value>` or `baseline * <factor>`";
    let mut chars = relative.chars();
    let sign = chars.next();
    let operand = chars.as_str().trim();
    match sign {
        Some('+') => Ok(Operand::BaselinePlus(magnitude(metric, operand)?)),
        Some('-') => Ok(Operand::BaselinePlus(-magnitude(metric, operand)?)),
        Some('*') => match operand.parse::<f64>() {
            Ok(f) if f.is_finite() && f > 0.0 => Ok(Operand::BaselineTimes(f)),
            _ => Err(format!(
                "`{operand}` is not a factor (expected a plain positive number like 1.2)"
            )),
        },
        _ => Err(format!(
            "`baseline{relative}` is not a comparison with the baseline ({expected})"
        )),
    }
}

/// A fixed threshold, range-checked where the metric has a natural range.
fn absolute(metric: BuiltinMetric, text: &str) -> Result<f64, String> {
    let v = magnitude(metric, text)?;
    if matches!(
        metric,
        BuiltinMetric::SuccessRate | BuiltinMetric::ErrorRate
    ) && v > 1.0
    {
        return Err(format!(
            "`{text}` for {metric} is over 100% (expected 0–100%)"
        ));
    }
    Ok(v)
}

/// A non-negative value in the metric's unit, converted to the unit's base (a ratio, seconds or
/// requests per second).
fn magnitude(metric: BuiltinMetric, text: &str) -> Result<f64, String> {
    let plain = |s: &str| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    match metric.unit() {
        Unit::Ratio => {
            if let Some(percent) = text.strip_suffix('%').and_then(plain) {
                Ok(percent / 100.0)
            } else if plain(text).is_some() {
                Err(format!(
                    "`{text}` for {metric} has no unit (expected a percentage like 99%)"
                ))
            } else {
                Err(format!(
                    "`{text}` is not a percentage (expected e.g. 99% or 0.5%)"
                ))
            }
        }
        Unit::Seconds => {
            if plain(text).is_some() {
                return Err(format!(
                    "`{text}` for {metric} has no unit (expected a duration like 200ms or 1.5s)"
                ));
            }
            match DurationValue::parse(text) {
                Ok(d) if d.millis() >= 0 => Ok(d.millis() as f64 / 1000.0),
                _ => Err(format!(
                    "`{text}` is not a latency (expected e.g. 200ms or 1.5s)"
                )),
            }
        }
        Unit::PerSecond | Unit::Plain => plain(text.strip_suffix("/s").unwrap_or(text))
            .ok_or_else(|| format!("`{text}` is not a request rate (expected e.g. 100/s)")),
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            self.metric,
            self.condition().describe(self.metric.unit())
        )
    }
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ThresholdVisitor;

        impl Visitor<'_> for ThresholdVisitor {
            type Value = Threshold;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a threshold like `success_rate >= 99%`")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Threshold::parse(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(ThresholdVisitor)
    }
}

impl JsonSchema for Threshold {
    fn schema_name() -> Cow<'static, str> {
        "Threshold".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names = BuiltinMetric::NAMES.join("|");
        json_schema!({
            "description": "`<metric> <op> <value>` on a built-in metric, e.g. `success_rate >= 99%`, `latency_p99 <= 200ms` or `error_rate <= baseline + 0.5%`.",
            "type": "string",
            "pattern": format!("^\\s*({names})\\s*(<=|>=|==|!=|<|>)\\s*\\S.*$"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> (BuiltinMetric, ConditionOp, Operand) {
        let t = Threshold::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        (t.metric, t.op, t.rhs)
    }

    #[test]
    fn reads_the_seeds_defaults_in_base_units() {
        use BuiltinMetric::*;
        use ConditionOp::*;
        assert_eq!(
            parsed("success_rate >= 99%"),
            (SuccessRate, Ge, Operand::Value(0.99))
        );
        assert_eq!(
            parsed("latency_p99 <= 200ms"),
            (Latency { permille: 990 }, Le, Operand::Value(0.2))
        );
        assert_eq!(
            parsed("error_rate<=1%"),
            (ErrorRate, Le, Operand::Value(0.01))
        );
        assert_eq!(parsed("cpu <= 80%"), (Cpu, Le, Operand::Value(0.8)));
        assert_eq!(
            parsed("request_rate > 10/s"),
            (RequestRate, Gt, Operand::Value(10.0))
        );
        assert_eq!(
            parsed("latency_p95 < 1.5s"),
            (Latency { permille: 950 }, Lt, Operand::Value(1.5))
        );
    }

    #[test]
    fn reads_comparisons_with_the_baseline() {
        assert_eq!(
            parsed("error_rate <= baseline + 0.5%").2,
            Operand::BaselinePlus(0.005)
        );
        assert_eq!(
            parsed("success_rate >= baseline - 1%").2,
            Operand::BaselinePlus(-0.01)
        );
        assert_eq!(
            parsed("latency_p99 <= baseline * 1.2").2,
            Operand::BaselineTimes(1.2)
        );
        assert_eq!(
            parsed("latency_p99 <= baseline").2,
            Operand::BaselinePlus(0.0)
        );
    }

    #[test]
    fn names_relative_thresholds_apart_from_absolute_ones() {
        assert_eq!(
            Threshold::parse("error_rate <= 1%").map(|t| t.name()),
            Ok("error_rate".into())
        );
        assert_eq!(
            Threshold::parse("error_rate <= baseline + 0.5%").map(|t| t.name()),
            Ok("error_rate_vs_baseline".into())
        );
    }

    #[test]
    fn says_what_was_expected() {
        for (text, message) in [
            (
                "sucess_rate >= 99%",
                "unknown metric `sucess_rate`; did you mean `success_rate`? (expected one of success_rate, error_rate, latency_p50, latency_p75, latency_p90, latency_p95, latency_p99, latency_p999, request_rate, cpu, memory)",
            ),
            (
                "success_rate >= 99",
                "`99` for success_rate has no unit (expected a percentage like 99%)",
            ),
            (
                "latency_p99 <= 200",
                "`200` for latency_p99 has no unit (expected a duration like 200ms or 1.5s)",
            ),
            (
                "success_rate => 99%",
                "unknown operator `=>` (expected one of <, <=, >, >=, ==, !=)",
            ),
            (
                "success_rate 99%",
                "`success_rate 99%` has no comparison (expected `<metric> <op> <value>`, e.g. `success_rate >= 99%`, with one of <, <=, >, >=, ==, !=)",
            ),
            (
                "success_rate >=",
                "`success_rate >=` has no value (expected `<metric> <op> <value>`, e.g. `success_rate >= 99%`)",
            ),
            (
                "success_rate >= 120%",
                "`120%` for success_rate is over 100% (expected 0–100%)",
            ),
            (
                "latency_p99 <= baseline * 20%",
                "`20%` is not a factor (expected a plain positive number like 1.2)",
            ),
            (
                "latency_p99 <= -5ms",
                "`-5ms` is not a latency (expected e.g. 200ms or 1.5s)",
            ),
            (
                ">= 99%",
                "`>= 99%` is not a threshold (expected `<metric> <op> <value>`, e.g. `success_rate >= 99%`)",
            ),
        ] {
            assert_eq!(Threshold::parse(text), Err(message.to_owned()), "{text}");
        }
    }

    #[test]
    fn displays_in_the_metrics_unit() {
        let t = Threshold::parse("latency_p99 <= 200ms").map(|t| t.to_string());
        assert_eq!(t, Ok("latency_p99 <= 200ms".into()));
    }
}
