//! Metric providers: Prometheus, web (JSON over HTTP) and job checks. The built-in provider
//! needs no declaration.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::Command;
use crate::span::Spanned;
use crate::values::DurationValue;

/// A metric provider: exactly one of `prometheus`, `web` or `job`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct ProviderConfig {
    pub prometheus: Option<Spanned<PrometheusConfig>>,
    pub web: Option<Spanned<WebConfig>>,
    pub job: Option<Spanned<JobConfig>>,
}

/// PromQL over Prometheus' HTTP API; each metric gives its `query`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PrometheusConfig {
    /// Base URL, e.g. `http://127.0.0.1:9090`.
    pub address: Spanned<String>,
    /// Headers sent with every query, e.g. `Authorization`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// How long a query may take. Default: 5s.
    pub timeout: Option<Spanned<DurationValue>>,
}

/// An HTTP request whose JSON answer holds the value.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebConfig {
    pub url: Spanned<String>,
    /// Default: GET.
    pub method: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
    /// Where the value is in the JSON answer, e.g. `$.data.errorRate`. Default: the whole answer.
    pub json_path: Option<Spanned<String>>,
    /// How long the request may take. Default: 5s.
    pub timeout: Option<Spanned<DurationValue>>,
}

/// A command whose exit status is the verdict: 0 passes, anything else fails (unless the
/// metric writes its own conditions over `result`, the status). It is told where to reach the
/// revisions: `BELLWETHER_ADDRESS`, `BELLWETHER_CANARY_ADDRESS`, `BELLWETHER_STABLE_ADDRESS`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JobConfig {
    pub command: Spanned<Command>,
    /// How long the command may run. Default: 1m.
    pub timeout: Option<Spanned<DurationValue>>,
}

/// A metric's provider: a name (`builtin` or one from `providers`) or an inline provider.
#[derive(Clone, Debug)]
pub enum ProviderRef {
    Named(String),
    Inline(Box<ProviderConfig>),
}

impl<'de> Deserialize<'de> for ProviderRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ProviderRefVisitor;

        impl<'de> Visitor<'de> for ProviderRefVisitor {
            type Value = ProviderRef;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a provider's name or a provider like {prometheus: {address: …}}")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ProviderRef::Named(v.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                ProviderConfig::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|p| ProviderRef::Inline(Box::new(p)))
            }
        }

        deserializer.deserialize_any(ProviderRefVisitor)
    }
}

impl JsonSchema for ProviderRef {
    fn schema_name() -> Cow<'static, str> {
        "ProviderRef".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                { "type": "string", "description": "`builtin` or the name of a provider from `providers`." },
                generator.subschema_for::<ProviderConfig>()
            ]
        })
    }
}
