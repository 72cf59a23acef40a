//! `checks:` and `verify:`: checks of a running service, and suites of them.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use crate::span::{Entries, Spanned};
use crate::values::{DurationValue, Percent, Whole};

/// One check: an HTTP request (`url`) and what its answer must show, or a TCP connection
/// (`tcp`), with or without TLS. E.g. `{url: /healthz, status: 200, maxTime: 2s}`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CheckConfig {
    /// What to request: an `http://` or `https://` URL, or a path (`/healthz`) taken against
    /// the address under test (the revision in a rollout, `--target` on the command line).
    pub url: Option<Spanned<String>>,
    /// Instead of `url`: `host:port` to connect to (a TLS handshake too with `tls`).
    pub tcp: Option<Spanned<String>>,
    /// Default: GET.
    pub method: Option<Spanned<String>>,
    /// Request headers.
    #[serde(default)]
    pub headers: Entries<String>,
    /// Request body.
    pub body: Option<String>,
    /// The statuses that pass: `200`, `2xx`, or a list such as `[200, 204]`. Default: 2xx.
    pub status: Option<Spanned<StatusForm>>,
    /// Text the body must contain.
    pub body_contains: Option<Spanned<String>>,
    /// A regular expression that must match somewhere in the body.
    pub body_regex: Option<Spanned<String>>,
    /// Values the JSON body must hold, by JSON path: `{"$.status": ok, "$.replicas": 3}`.
    #[serde(default)]
    pub json_path: Entries<serde_json::Value>,
    /// Response headers that must be present, with this value unless it is empty:
    /// `{content-type: application/json, x-version: ""}`.
    #[serde(default)]
    pub response_headers: Entries<String>,
    /// An attempt slower than this fails. Default: 10s.
    pub max_time: Option<Spanned<DurationValue>>,
    /// Attempts after a failed one before the check fails. Default: 0.
    pub retries: Option<Spanned<Whole<u32>>>,
    /// The wait between attempts. Default: 1s.
    pub backoff: Option<Spanned<DurationValue>>,
    /// For `https://` URLs and `tcp` checks: `{minDays: 14, ca: certs/ca.pem}`.
    pub tls: Option<Spanned<TlsConfig>>,
}

/// How a TLS connection is checked.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TlsConfig {
    /// The server's certificate must stay valid at least this many more days.
    pub min_days: Option<Spanned<Whole<u32>>>,
    /// A PEM file of the certificates to trust instead of the system's.
    pub ca: Option<Spanned<String>>,
    /// Accept any certificate (its expiry is still checked). Default: false.
    #[serde(default)]
    pub insecure: bool,
    /// The name the certificate must be valid for, when not the host connected to.
    pub server_name: Option<Spanned<String>>,
}

/// A suite of checks run in rounds, e.g.
/// `{checks: [health, api], duration: 5m, interval: 10s, minSuccessRate: 95%, timeout: 10m}`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VerifyConfig {
    /// The checks, by their names in `checks:`.
    pub checks: Vec<Spanned<String>>,
    /// How long rounds go on. Default: 0s, one round.
    pub duration: Option<Spanned<DurationValue>>,
    /// The time between rounds. Default: 10s.
    pub interval: Option<Spanned<DurationValue>>,
    /// The share of all attempts that must pass; the suite fails as soon as it no longer can.
    /// Default: 100%.
    pub min_success_rate: Option<Spanned<Percent>>,
    /// The most the suite may take. Default: its duration and 1m.
    pub timeout: Option<Spanned<DurationValue>>,
}

/// One status, a class, or a list of them, as written.
#[derive(Clone, Debug, Default)]
pub struct StatusForm(pub Vec<String>);

impl<'de> Deserialize<'de> for StatusForm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StatusVisitor;

        impl<'de> Visitor<'de> for StatusVisitor {
            type Value = StatusForm;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a status like 200 or 2xx, or a list of them")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(StatusForm(vec![v.to_string()]))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(StatusForm(vec![v.to_string()]))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StatusForm(vec![v.to_owned()]))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut all = Vec::new();
                while let Some(one) = seq.next_element::<StatusForm>()? {
                    all.extend(one.0);
                }
                Ok(StatusForm(all))
            }
        }

        deserializer.deserialize_any(StatusVisitor)
    }
}

impl JsonSchema for StatusForm {
    fn schema_name() -> Cow<'static, str> {
        "Status".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let one = json_schema!({
            "anyOf": [
                { "type": "integer", "minimum": 100, "maximum": 599 },
                { "type": "string", "pattern": "^[1-5]([0-9]{2}|xx|XX)$" }
            ]
        });
        json_schema!({
            "anyOf": [one, { "type": "array", "items": one }]
        })
    }
}
