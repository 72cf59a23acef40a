//! A load file as written: serde types in k6's spellings, each value that a rule may point at
//! kept with its position, unknown keys refused. `plan` checks and lowers it.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_saphyr::{Error, Location, MessageFormatter, Spanned, UserMessageFormatter};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoadFile {
    pub(crate) scenarios: Option<Spanned<Entries<Spanned<ScenarioFile>>>>,
    pub(crate) requests: Option<Spanned<Vec<Spanned<RequestFile>>>>,
    #[serde(default)]
    pub(crate) thresholds: Entries<Spanned<Vec<Spanned<ThresholdFile>>>>,
}

/// A scenario with every executor's keys; `plan` refuses the ones its executor does not take.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ScenarioFile {
    pub(crate) executor: Spanned<String>,
    pub(crate) vus: Option<Spanned<u32>>,
    pub(crate) duration: Option<Spanned<String>>,
    pub(crate) stages: Option<Spanned<Vec<Spanned<StageFile>>>>,
    #[serde(rename = "startVUs")]
    pub(crate) start_vus: Option<Spanned<u32>>,
    pub(crate) rate: Option<Spanned<f64>>,
    pub(crate) time_unit: Option<Spanned<String>>,
    pub(crate) start_rate: Option<Spanned<f64>>,
    #[serde(rename = "preAllocatedVUs")]
    pub(crate) pre_allocated_vus: Option<Spanned<u32>>,
    #[serde(rename = "maxVUs")]
    pub(crate) max_vus: Option<Spanned<u32>>,
    pub(crate) graceful_stop: Option<Spanned<String>>,
    pub(crate) start_time: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StageFile {
    pub(crate) duration: Spanned<String>,
    pub(crate) target: Spanned<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RequestFile {
    pub(crate) name: Option<Spanned<String>>,
    pub(crate) method: Option<Spanned<String>>,
    pub(crate) url: Spanned<String>,
    #[serde(default)]
    pub(crate) headers: Entries<Spanned<String>>,
    pub(crate) body: Option<Spanned<String>>,
    pub(crate) variants: Option<Spanned<Vec<BTreeMap<String, String>>>>,
    pub(crate) csv: Option<Spanned<String>>,
    pub(crate) sleep: Option<Spanned<String>>,
    pub(crate) timeout: Option<Spanned<String>>,
    pub(crate) checks: Option<ChecksFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ChecksFile {
    pub(crate) status: Option<Spanned<u16>>,
    pub(crate) body_contains: Option<Spanned<String>>,
    pub(crate) max_duration: Option<Spanned<String>>,
}

/// A threshold: `'p(95)<200'`, or k6's object form.
#[derive(Debug)]
pub(crate) struct ThresholdFile {
    pub(crate) threshold: Spanned<String>,
    pub(crate) abort_on_fail: bool,
    pub(crate) delay_abort_eval: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ThresholdObject {
    threshold: Spanned<String>,
    #[serde(default)]
    abort_on_fail: bool,
    delay_abort_eval: Option<Spanned<String>>,
}

impl<'de> Deserialize<'de> for ThresholdFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Either;
        impl<'de> Visitor<'de> for Either {
            type Value = ThresholdFile;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a threshold like 'p(95)<200' or {threshold, abortOnFail, delayAbortEval}",
                )
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<ThresholdFile, E> {
                Ok(ThresholdFile {
                    threshold: Spanned::new(text.to_owned(), Location::UNKNOWN, Location::UNKNOWN),
                    abort_on_fail: false,
                    delay_abort_eval: None,
                })
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<ThresholdFile, M::Error> {
                let object =
                    ThresholdObject::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(ThresholdFile {
                    threshold: object.threshold,
                    abort_on_fail: object.abort_on_fail,
                    delay_abort_eval: object.delay_abort_eval,
                })
            }
        }
        deserializer.deserialize_any(Either)
    }
}

/// A mapping in the file's order, each key with its position.
#[derive(Debug)]
pub(crate) struct Entries<V>(pub(crate) Vec<(Spanned<String>, V)>);

impl<V> Default for Entries<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Collect<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Collect<V> {
            type Value = Entries<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Entries<V>, M::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    entries.push((key, map.next_value()?));
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(Collect(PhantomData))
    }
}

/// Parses `source`; on failure, the first syntax or type error's position and message.
pub(crate) fn parse(source: &str) -> Result<LoadFile, (Location, String)> {
    let options = serde_saphyr::options! { with_snippet: false };
    serde_saphyr::from_str_with_options::<LoadFile>(source, options)
        .map_err(|e| (e.location().unwrap_or(Location::UNKNOWN), describe(&e)))
}

/// The parser's error in the house style, without its position.
fn describe(error: &Error) -> String {
    let mut error = error;
    while let Error::AliasError { error: inner, .. } = error.without_snippet() {
        error = inner;
    }
    let message = match error.without_snippet() {
        Error::SerdeUnknownField {
            field, expected, ..
        } => format!(
            "unknown key `{field}` (expected {})",
            if expected.is_empty() {
                "no keys here".to_owned()
            } else {
                format!("one of {}", expected.join(", "))
            }
        ),
        Error::SerdeMissingField { field, .. } => format!("missing key `{field}`"),
        Error::SerdeInvalidType {
            unexpected,
            expected,
            ..
        } => format!("expected {expected}, found {unexpected}"),
        Error::Unexpected { expected, .. } => match *expected {
            "mapping start" => "expected a mapping of keys to values here".to_owned(),
            "sequence start" => "expected a list here".to_owned(),
            "string scalar" => "expected a string here".to_owned(),
            other => format!("expected {other}"),
        },
        Error::DuplicateMappingKey { key: Some(key), .. } => {
            format!("duplicate key `{key}` (expected each key once)")
        }
        Error::InvalidScalar { ty: "boolean", .. } => "expected true or false".to_owned(),
        Error::InvalidScalar { ty, .. } => format!("expected a {ty}"),
        Error::Message { msg, .. } => msg.clone(),
        other => UserMessageFormatter.format_message(other).into_owned(),
    };
    // A key or value from the file may hold control characters; a message stays one line.
    let mut printable = String::with_capacity(message.len());
    for c in message.chars() {
        if c.is_control() {
            printable.extend(c.escape_default());
        } else {
            printable.push(c);
        }
    }
    printable
}
