//! Durations: `250ms`, `30s`, `5m`, `1h`, `1h30m`, `1d`, or a bare number of seconds.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use bellwether_core::time::human_duration;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserialize, Deserializer, Visitor};

const EXPECTED: &str = "expected e.g. 250ms, 30s, 5m, 1h or 1h30m";

/// A duration as written in the file, in milliseconds. Negative values are kept so that
/// validation can point at them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DurationValue {
    millis: i64,
}

impl DurationValue {
    pub fn from_millis(millis: i64) -> Self {
        Self { millis }
    }

    pub fn millis(self) -> i64 {
        self.millis
    }

    /// The duration, unless it is negative.
    pub fn to_std(self) -> Option<Duration> {
        u64::try_from(self.millis).ok().map(Duration::from_millis)
    }

    /// Parses `1h30m`-style text; a bare number is seconds, as in Argo Rollouts.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not a duration ({EXPECTED})");
        let t = text.trim();
        let (negative, body) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        // `inf` and `NaN` parse as floats but are no duration.
        let seconds = body.parse::<f64>().ok().filter(|s| s.is_finite());
        let millis = if let Some(secs) = seconds {
            to_millis(secs * 1000.0).ok_or_else(|| too_long(text))?
        } else {
            parse_units(body)
                .ok_or_else(bad)?
                .ok_or_else(|| too_long(text))?
        };
        Ok(Self {
            millis: if negative { -millis } else { millis },
        })
    }

    fn from_seconds_f64<E: de::Error>(secs: f64, shown: &dyn fmt::Display) -> Result<Self, E> {
        to_millis(secs * 1000.0)
            .map(Self::from_millis)
            .ok_or_else(|| E::custom(too_long(&shown.to_string())))
    }
}

/// Sums `<number><unit>` parts; `None` if the text is not of that shape, `Some(None)` if the
/// total does not fit.
fn parse_units(body: &str) -> Option<Option<i64>> {
    if body.is_empty() {
        return None;
    }
    let mut total = 0.0_f64;
    let mut rest = body;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(digits);
        let unit_len = tail
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let value: f64 = number.parse().ok()?;
        let scale = match unit {
            "ms" => 1.0,
            "s" => 1_000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            _ => return None,
        };
        total += value * scale;
        rest = tail;
    }
    Some(to_millis(total))
}

fn to_millis(ms: f64) -> Option<i64> {
    // Durations past about 292 million years do not fit; anything near that is a typo.
    (ms.is_finite() && ms.abs() < 9.0e15).then(|| ms.round() as i64)
}

fn too_long(text: &str) -> String {
    format!("duration `{text}` is far too long ({EXPECTED})")
}

impl fmt::Display for DurationValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.millis < 0 {
            f.write_str("-")?;
        }
        f.write_str(&human_duration(Duration::from_millis(
            self.millis.unsigned_abs(),
        )))
    }
}

impl<'de> Deserialize<'de> for DurationValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;

        impl Visitor<'_> for DurationVisitor {
            type Value = DurationValue;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration like 250ms, 30s, 5m or 1h")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                DurationValue::parse(v).map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                DurationValue::from_seconds_f64(v as f64, &v)
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                DurationValue::from_seconds_f64(v as f64, &v)
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                DurationValue::from_seconds_f64(v, &v)
            }
        }

        deserializer.deserialize_any(DurationVisitor)
    }
}

impl JsonSchema for DurationValue {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: `250ms`, `30s`, `5m`, `1h`, `1h30m` or `1d`; a bare number is seconds.",
            "anyOf": [
                { "type": "string", "pattern": "^([0-9]+(\\.[0-9]+)?(ms|s|m|h|d))+$" },
                { "type": "number", "minimum": 0 }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_ways_people_write_durations() {
        for (text, millis) in [
            ("250ms", 250),
            ("30s", 30_000),
            ("5m", 300_000),
            ("1h", 3_600_000),
            ("1h30m", 5_400_000),
            ("1d", 86_400_000),
            ("1.5s", 1_500),
            ("600", 600_000),
            ("0", 0),
            ("-5m", -300_000),
            (" 2m ", 120_000),
        ] {
            assert_eq!(
                DurationValue::parse(text).map(DurationValue::millis),
                Ok(millis),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for text in [
            "",
            "inf",
            "NaN",
            "5 minutes",
            "m",
            "5x",
            "1h-5m",
            "--5s",
            "1..5s",
            "ms5",
        ] {
            assert!(DurationValue::parse(text).is_err(), "{text}");
        }
        assert_eq!(
            DurationValue::parse("5 minutes"),
            Err("`5 minutes` is not a duration (expected e.g. 250ms, 30s, 5m, 1h or 1h30m)".into())
        );
        assert!(DurationValue::parse("99999999999999999999d").is_err());
    }

    #[test]
    fn displays_as_written() {
        assert_eq!(DurationValue::from_millis(5_400_000).to_string(), "1h30m");
        assert_eq!(DurationValue::from_millis(-300_000).to_string(), "-5m");
        assert_eq!(DurationValue::from_millis(250).to_string(), "250ms");
    }
}
