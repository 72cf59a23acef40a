//! Printing data as `-o json` or `-o yaml`; tables are each command's own.

use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};

use clap::ValueEnum;
use serde::Serialize;
use serde_json::{Map, Value};

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

/// `value` as [`print_records`] prints it.
pub(crate) fn records<T: Serialize>(value: &T) -> anyhow::Result<Value> {
    let mut value = serde_json::to_value(value)?;
    readable(&mut value);
    Ok(value)
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

fn readable(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(readable),
        Value::Object(fields) => {
            let mut out = Map::new();
            for (key, mut field) in std::mem::take(fields) {
                let name = key.as_str();
                if WEIGHTS.contains(&name) {
                    field = percent(&field);
                } else if name == "weights" {
                    // `[[revision, basis points], ...]`
                    if let Value::Array(pairs) = &mut field {
                        for pair in pairs {
                            if let Some(weight) = pair.get_mut(1) {
                                *weight = percent(weight);
                            }
                        }
                    }
                } else if INSTANTS.contains(&name) {
                    field = instant_of(&field);
                } else if INSTANTS_MS.contains(&name) {
                    let renamed = name.trim_end_matches("_ms").to_owned();
                    out.insert(renamed, instant_of(&field));
                    continue;
                } else {
                    readable(&mut field);
                }
                out.insert(key, field);
            }
            *fields = out;
        }
        _ => {}
    }
}

fn percent(basis_points: &Value) -> Value {
    match basis_points.as_u64() {
        Some(bp) => serde_json::json!(bp as f64 / 100.0),
        None => basis_points.clone(),
    }
}

fn instant_of(ms: &Value) -> Value {
    match ms.as_u64() {
        Some(ms) => Value::String(instant(ms)),
        None => ms.clone(),
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
    fn weights_read_as_percentages_and_instants_as_rfc3339() {
        let mut value = json!({
            "target_weight": 1250,
            "revisions": [{"weight": 10000, "created_at": 1_000}],
            "weights": [[1, 9000], [2, 1000]],
            "started_ms": 1_765_000_000_123_u64,
            "finished_ms": null,
            "window_ms": 30000,
            "at": 0,
        });
        super::readable(&mut value);
        assert_eq!(
            value,
            json!({
                "target_weight": 12.5,
                "revisions": [{"weight": 100.0, "created_at": "1970-01-01T00:00:01.000Z"}],
                "weights": [[1, 90.0], [2, 10.0]],
                "started": "2025-12-06T05:46:40.123Z",
                "finished": null,
                "window_ms": 30000,
                "at": "1970-01-01T00:00:00.000Z",
            })
        );
    }
}
