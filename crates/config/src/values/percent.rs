//! Percentages: `25`, `25%` or `0.5%`, for traffic weights.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A percentage as written; the range is checked by validation, which knows what it is for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Percent(pub f64);

impl Percent {
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let number = t.strip_suffix('%').unwrap_or(t).trim();
        number
            .parse::<f64>()
            .ok()
            .filter(|p| p.is_finite())
            .map(Percent)
            .ok_or_else(|| format!("`{text}` is not a percentage (expected e.g. 25, 25% or 0.5%)"))
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `{}` on f64 prints 25 as "25" and 0.5 as "0.5", as people write them.
        write!(f, "{}%", self.0)
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PercentVisitor;

        impl Visitor<'_> for PercentVisitor {
            type Value = Percent;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a percentage like 25, 25% or 0.5%")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Percent::parse(v).map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Percent(v as f64))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Percent(v as f64))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Percent(v))
            }
        }

        deserializer.deserialize_any(PercentVisitor)
    }
}

impl JsonSchema for Percent {
    fn schema_name() -> Cow<'static, str> {
        "Percent".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A percentage: `25`, `25%` or `0.5%` (down to 0.01%).",
            "anyOf": [
                { "type": "string", "pattern": "^[0-9]+(\\.[0-9]{1,2})?%?$" },
                { "type": "number", "minimum": 0, "maximum": 100 }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_or_without_the_sign() {
        for (text, value) in [
            ("25", 25.0),
            ("25%", 25.0),
            ("0.5%", 0.5),
            (" 12.25 % ", 12.25),
            ("-5", -5.0),
        ] {
            assert_eq!(Percent::parse(text), Ok(Percent(value)), "{text}");
        }
        assert_eq!(
            Percent::parse("ten"),
            Err("`ten` is not a percentage (expected e.g. 25, 25% or 0.5%)".into())
        );
        assert!(Percent::parse("inf%").is_err());
        assert_eq!(Percent(0.5).to_string(), "0.5%");
        assert_eq!(Percent(120.0).to_string(), "120%");
    }
}
