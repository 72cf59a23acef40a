//! Values of the expression language and GitHub Actions' coercion rules between them.
//!
//! The rules are GitHub's, so that pasted conditions mean what they meant there: `==` between
//! different types compares numbers, strings compare ignoring case, `&&` and `||` return an
//! operand rather than a boolean, and `null`, `false`, `0`, `''` and `NaN` are falsy.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

/// A value: the six JSON types, with numbers as `f64` as in GitHub Actions.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Value>),
    Object(BTreeMap<String, Value>),
}

impl Value {
    pub fn string(s: impl Into<String>) -> Self {
        Value::String(s.into())
    }

    /// An object from `(key, value)` pairs.
    pub fn object<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Self {
        Value::Object(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// Whether a condition holding this value passes.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => *n != 0.0 && !n.is_nan(),
            Value::String(s) => !s.is_empty(),
            Value::Array(_) | Value::Object(_) => true,
        }
    }

    /// The number this value coerces to: `null` is 0, booleans 0 or 1, strings are parsed
    /// (empty is 0), and anything unparsable, an array or an object is `NaN`.
    pub fn to_number(&self) -> f64 {
        match self {
            Value::Null => 0.0,
            Value::Bool(b) => f64::from(u8::from(*b)),
            Value::Number(n) => *n,
            Value::String(s) => parse_number(s.trim()).unwrap_or(f64::NAN),
            Value::Array(_) | Value::Object(_) => f64::NAN,
        }
    }

    /// The text this value becomes inside a string: `''` for null, `true`/`false`, numbers
    /// without a needless `.0`, and `Array`/`Object` for containers, as GitHub does.
    pub fn to_text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => format_number(*n),
            Value::String(s) => s.clone(),
            Value::Array(_) => "Array".to_owned(),
            Value::Object(_) => "Object".to_owned(),
        }
    }

    /// `a.b`: a property of an object, matched exactly first and then ignoring case, since
    /// context keys are case-insensitive in GitHub Actions. Anything else has no properties.
    pub fn property(&self, name: &str) -> Option<&Value> {
        let Value::Object(map) = self else {
            return None;
        };
        map.get(name).or_else(|| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
    }

    /// `a[i]`: an array element by number or an object property by string.
    pub fn index(&self, key: &Value) -> Option<&Value> {
        match (self, key) {
            (Value::Array(items), _) => {
                let n = key.to_number();
                if n.is_nan() || n < 0.0 || n.fract() != 0.0 {
                    return None;
                }
                items.get(n as usize)
            }
            (Value::Object(_), _) => self.property(&key.to_text()),
            _ => None,
        }
    }

    /// GitHub's `==`: same-type values compare directly (strings ignoring case), different
    /// types compare as numbers. Arrays and objects equal only themselves, which for values
    /// without identity means equal contents.
    pub fn loose_eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b,
            (Value::String(a), Value::String(b)) => eq_ignore_case(a, b),
            (Value::Array(_), Value::Array(_)) | (Value::Object(_), Value::Object(_)) => {
                self == other
            }
            (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => {
                false
            }
            _ => self.to_number() == other.to_number(),
        }
    }

    /// GitHub's `<` and friends: strings compare ignoring case, everything else as numbers;
    /// `None` when the values are not ordered (a `NaN` is involved).
    pub fn loose_cmp(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::String(a), Value::String(b)) => Some(a.to_lowercase().cmp(&b.to_lowercase())),
            _ => self.to_number().partial_cmp(&other.to_number()),
        }
    }

    /// The value as JSON, for `toJSON` and for passing structured data to other tools.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => number_json(*n),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Object(map) => serde_json::Value::Object(
                map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect(),
            ),
        }
    }

    pub fn from_json(json: &serde_json::Value) -> Self {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => {
                Value::Array(items.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }
}

/// Integers are JSON integers, so that `toJSON(3)` is `3` and not `3.0`.
fn number_json(n: f64) -> serde_json::Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase()
}

/// Parses a number as GitHub does: decimal with optional exponent, or `0x` hexadecimal.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    if text.is_empty() {
        return Some(0.0);
    }
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let magnitude = if let Some(hex) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()? as f64
    } else if body == "Infinity" {
        f64::INFINITY
    } else if body == "NaN" {
        f64::NAN
    } else {
        // Rust also accepts `inf` and `nan` spelt loosely; GitHub does not.
        if !body.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            return None;
        }
        body.parse::<f64>().ok()?
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// `3`, `1.5`, `NaN`, `Infinity`: no `.0` on whole numbers.
pub(crate) fn format_number(n: f64) -> String {
    if n.is_nan() {
        "NaN".to_owned()
    } else if n.is_infinite() {
        if n > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
    } else if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Number(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coercions_follow_github() {
        let cases: &[(Value, f64, &str, bool)] = &[
            (Value::Null, 0.0, "", false),
            (Value::Bool(true), 1.0, "true", true),
            (Value::Number(3.0), 3.0, "3", true),
            (Value::Number(1.5), 1.5, "1.5", true),
            (Value::string(" 0x10 "), 16.0, " 0x10 ", true),
            (Value::string(""), 0.0, "", false),
            (Value::Array(vec![]), f64::NAN, "Array", true),
            (
                Value::object([("a", Value::Null)]),
                f64::NAN,
                "Object",
                true,
            ),
        ];
        for (value, number, text, truthy) in cases {
            let n = value.to_number();
            assert!(n == *number || (n.is_nan() && number.is_nan()), "{value:?}");
            assert_eq!(value.to_text(), *text, "{value:?}");
            assert_eq!(value.is_truthy(), *truthy, "{value:?}");
        }
        assert!(!Value::string("abc").to_number().is_finite());
        assert!(!Value::Number(f64::NAN).is_truthy());
    }

    #[test]
    fn equality_is_loose_and_ignores_case() {
        assert!(Value::string("Main").loose_eq(&Value::string("main")));
        assert!(Value::string("1").loose_eq(&Value::Number(1.0)));
        assert!(Value::Null.loose_eq(&Value::Number(0.0)));
        assert!(Value::Bool(true).loose_eq(&Value::string("1")));
        assert!(!Value::string("a").loose_eq(&Value::Number(f64::NAN)));
        assert!(!Value::Array(vec![]).loose_eq(&Value::Number(0.0)));
        assert_eq!(
            Value::string("B").loose_cmp(&Value::string("a")),
            Some(Ordering::Greater)
        );
        assert_eq!(Value::string("x").loose_cmp(&Value::Number(1.0)), None);
    }

    #[test]
    fn properties_fall_back_to_any_case() {
        let v = Value::object([("Ref", Value::string("main"))]);
        assert_eq!(v.property("ref"), Some(&Value::string("main")));
        assert_eq!(v.property("sha"), None);
        let a = Value::Array(vec![Value::Number(7.0)]);
        assert_eq!(a.index(&Value::Number(0.0)), Some(&Value::Number(7.0)));
        assert_eq!(a.index(&Value::Number(0.5)), None);
        assert_eq!(a.index(&Value::Number(-1.0)), None);
    }
}
