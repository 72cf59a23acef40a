//! Printing data as `-o json` or `-o yaml`; tables are each command's own.

use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};

use clap::ValueEnum;
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `-o table` is for people; `-o json` and `-o yaml` are stable, for scripts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Table,
    Json,
    Yaml,
}

/// Writes `text` to stdout, ignoring a reader that went away: what a server prints of itself
/// (`up`, `router`, `demo-service`) must not stop it, since it outlives whoever read that.
pub(crate) fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Prints `value` in a machine format. Returns `false` for `table`, which the caller renders.
pub(crate) fn print_data<T: Serialize>(format: Format, value: &T) -> anyhow::Result<bool> {
    match format {
        Format::Table => Ok(false),
        Format::Json => {
            println!("{}", serde_json::to_string_pretty(value)?);
            Ok(true)
        }
        Format::Yaml => {
            print!("{}", serde_saphyr::to_string(value)?);
            Ok(true)
        }
    }
}

/// [`print_data`] for what the control plane and the data directory hold, in the units every
/// machine output uses: a weight as a percentage (`"weight": 12.5`; stored and served in basis
/// points) and an instant as RFC 3339 (`"at": "2026-12-07T01:02:03.456Z"`; stored and served
/// in milliseconds since the epoch, a field `started_ms` becoming `started`).
pub(crate) fn print_records<T: Serialize>(format: Format, value: &T) -> anyhow::Result<bool> {
    if format == Format::Table {
        return Ok(false);
    }
    print_data(format, &records(value)?)
}

/// `value` as [`print_records`] prints it, its fields in the order they were written.
pub(crate) fn records<T: Serialize>(value: &T) -> anyhow::Result<Tree> {
    let mut tree: Tree = serde_json::from_str(&serde_json::to_string(value)?)?;
    readable(&mut tree);
    Ok(tree)
}

/// A JSON document that keeps its fields in the order they were written, which
/// `serde_json::Value` does not (it sorts them).
#[derive(Debug, PartialEq)]
pub(crate) enum Tree {
    Object(Vec<(String, Tree)>),
    Array(Vec<Tree>),
    Leaf(Value),
}

impl Serialize for Tree {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Tree::Object(fields) => {
                let mut map = serializer.serialize_map(Some(fields.len()))?;
                for (key, field) in fields {
                    map.serialize_entry(key, field)?;
                }
                map.end()
            }
            Tree::Array(items) => items.serialize(serializer),
            Tree::Leaf(value) => value.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Tree, E> {
        Ok(Tree::Leaf(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Tree, E> {
        Ok(Tree::Leaf(Value::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Tree, E> {
        Ok(Tree::Leaf(Value::from(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Tree, E> {
        Ok(Tree::Leaf(Value::from(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Tree, E> {
        Ok(Tree::Leaf(Value::from(v)))
    }

    fn visit_unit<E>(self) -> Result<Tree, E> {
        Ok(Tree::Leaf(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Tree::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        let mut fields = Vec::new();
        while let Some(entry) = map.next_entry()? {
            fields.push(entry);
        }
        Ok(Tree::Object(fields))
    }
}

/// Fields holding a weight in basis points.
const WEIGHTS: &[&str] = &["weight", "target_weight"];
/// Fields holding an instant in epoch milliseconds, kept by name.
const INSTANTS: &[&str] = &[
    "at",
    "updated_at",
    "created_at",
    "committed_at",
    "start",
    "end",
];
/// Fields holding an instant in epoch milliseconds, named with `_ms`, which is dropped.
const INSTANTS_MS: &[&str] = &[
    "at_ms",
    "started_ms",
    "finished_ms",
    "since_ms",
    "decided_ms",
    "queued_ms",
    "updated_ms",
    "created_at_ms",
    "expires_at_ms",
    "revoked_at_ms",
];

fn readable(tree: &mut Tree) {
    match tree {
        Tree::Array(items) => items.iter_mut().for_each(readable),
        Tree::Object(fields) => {
            for (key, field) in fields {
                let name = key.as_str();
                if WEIGHTS.contains(&name) {
                    percent(field);
                } else if name == "weights" {
                    // `[[revision, basis points], ...]`
                    if let Tree::Array(pairs) = field {
                        for pair in pairs {
                            if let Tree::Array(pair) = pair
                                && let Some(weight) = pair.get_mut(1)
                            {
                                percent(weight);
                            }
                        }
                    }
                } else if INSTANTS.contains(&name) {
                    instant_of(field);
                } else if INSTANTS_MS.contains(&name) {
                    *key = name.trim_end_matches("_ms").to_owned();
                    instant_of(field);
                } else {
                    readable(field);
                }
            }
        }
        Tree::Leaf(_) => {}
    }
}

fn percent(field: &mut Tree) {
    if let Tree::Leaf(value) = field
        && let Some(bp) = value.as_u64()
    {
        *value = Value::from(bp as f64 / 100.0);
    }
}

fn instant_of(field: &mut Tree) {
    if let Tree::Leaf(value) = field
        && let Some(ms) = value.as_u64()
    {
        *value = Value::String(instant(ms));
    }
}

/// An instant in epoch milliseconds as RFC 3339, to the millisecond, in UTC.
pub(crate) fn instant(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn weights_read_as_percentages_and_instants_as_rfc3339_in_the_order_written() {
        let value = json!({
            "target_weight": 1250,
            "revisions": [{"weight": 10000, "created_at": 1_000}],
            "weights": [[1, 9000], [2, 1000]],
            "started_ms": 1_765_000_000_123_u64,
            "finished_ms": null,
            "window_ms": 30000,
            "at": 0,
        });
        let text = serde_json::to_string(&super::records(&value).unwrap()).unwrap();
        let expected = json!({
            "target_weight": 12.5,
            "revisions": [{"weight": 100.0, "created_at": "1970-01-01T00:00:01.000Z"}],
            "weights": [[1, 90.0], [2, 10.0]],
            "started": "2025-12-06T05:46:40.123Z",
            "finished": null,
            "window_ms": 30000,
            "at": "1970-01-01T00:00:00.000Z",
        });
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            expected
        );

        #[derive(serde::Serialize)]
        struct Written {
            name: &'static str,
            at: u64,
            analyses: Vec<u8>,
        }
        let written = Written {
            name: "web",
            at: 0,
            analyses: vec![],
        };
        let text = serde_json::to_string(&super::records(&written).unwrap()).unwrap();
        assert_eq!(
            text,
            r#"{"name":"web","at":"1970-01-01T00:00:00.000Z","analyses":[]}"#
        );
    }
}
