//! Replica counts or percentages for `maxSurge` and `maxUnavailable`: `1` or `25%`.

use std::borrow::Cow;
use std::fmt;

use bellwether_core::spec::Scale;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserialize, Deserializer, Visitor};

const EXPECTED: &str = "expected a count like 1 or a percentage like 25%";

/// A count or a whole percentage of the replicas, as in Kubernetes: a bare number is a count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScaleValue(pub Scale);

impl ScaleValue {
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let (number, percent) = match t.strip_suffix('%') {
            Some(n) => (n.trim(), true),
            None => (t, false),
        };
        let n: u32 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a count or a percentage ({EXPECTED})"))?;
        Ok(Self(if percent {
            Scale::Percent(n)
        } else {
            Scale::Count(n)
        }))
    }
}

impl<'de> Deserialize<'de> for ScaleValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScaleVisitor;

        impl Visitor<'_> for ScaleVisitor {
            type Value = ScaleValue;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a count like 1 or a percentage like 25%")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                ScaleValue::parse(v).map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                u32::try_from(v)
                    .map(|n| ScaleValue(Scale::Count(n)))
                    .map_err(|_| E::custom(format!("{v} is far too many replicas ({EXPECTED})")))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Err(E::custom(format!("{v} is negative ({EXPECTED})")))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Err(E::custom(format!("{v} is not a whole number ({EXPECTED})")))
            }
        }

        deserializer.deserialize_any(ScaleVisitor)
    }
}

impl JsonSchema for ScaleValue {
    fn schema_name() -> Cow<'static, str> {
        "CountOrPercent".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A number of replicas (`1`) or a percentage of the desired replicas (`25%`).",
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": "^[0-9]+%$" }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_number_is_a_count_and_a_percent_sign_makes_a_percentage() {
        assert_eq!(ScaleValue::parse("25%"), Ok(ScaleValue(Scale::Percent(25))));
        assert_eq!(ScaleValue::parse("2"), Ok(ScaleValue(Scale::Count(2))));
        assert_eq!(
            ScaleValue::parse("2.5%"),
            Err("`2.5%` is not a count or a percentage (expected a count like 1 or a percentage like 25%)".into())
        );
    }
}
