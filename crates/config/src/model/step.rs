//! Canary steps, in Argo Rollouts' spelling: `setWeight` (or `weight`), `pause`, `analysis`,
//! `setHeaderRoute`, `setCanaryScale`, `setMirrorRoute`; and `verify`, a suite of checks against
//! the canary.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::AnalysisRefConfig;
use super::alias::Alias;
use crate::span::{Pos, Spanned};
use crate::suggest::did_you_mean;
use crate::values::{DurationValue, Percent, Whole};

const STEP_KINDS: &[&str] = &[
    "setWeight",
    "weight",
    "pause",
    "analysis",
    "setHeaderRoute",
    "setCanaryScale",
    "setMirrorRoute",
    "verify",
];

/// One canary step: a mapping with exactly one key.
#[derive(Clone, Debug)]
pub enum CanaryStepConfig {
    /// `setWeight: 10` (or `weight: 10`): send this share of traffic to the canary.
    SetWeight(Spanned<Percent>),
    /// `pause: 2m`, `pause: {duration: 10m}`, or `pause: {}` to wait until promoted.
    Pause(Spanned<PauseConfig>),
    /// `analysis: {metrics: [error_rate]}`: run an analysis and wait for its verdict.
    Analysis(Spanned<AnalysisRefConfig>),
    /// `setHeaderRoute: {header: x-canary, exact: "1"}`: route matching requests to the canary.
    SetHeaderRoute(Spanned<HeaderRouteConfig>),
    /// `setCanaryScale: {replicas: 2}`, `{weight: 25}` or `{matchTrafficWeight: true}`: size the
    /// canary apart from its weight.
    SetCanaryScale(Spanned<CanaryScaleConfig>),
    /// `setMirrorRoute: {name: mirror, percentage: 20}`: copy a share of requests to the canary,
    /// its answers discarded; with only `name`, remove the mirror.
    SetMirrorRoute(Spanned<MirrorRouteConfig>),
    /// `verify: smoke`: run a suite from `verify:` against the canary's replicas and wait for
    /// it to pass; a failure rolls back.
    Verify(Spanned<String>),
}

/// A pause: for a duration, or until promoted when there is none.
#[derive(Clone, Debug, Default)]
pub struct PauseConfig {
    /// Written as `pause: 2m`, the duration's position is the step's; it is then unknown here.
    pub duration: Option<Spanned<DurationValue>>,
}

/// A header route; with no `header`, it removes the route set by an earlier step.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(transform = Alias { name: "header", alias: "name" })]
pub struct HeaderRouteConfig {
    /// The request header to match (`name` is accepted too).
    #[serde(alias = "name")]
    pub header: Option<Spanned<String>>,
    /// Match the header's value exactly.
    pub exact: Option<Spanned<String>>,
    /// Match values that start with this.
    pub prefix: Option<Spanned<String>>,
    /// Match values against this regular expression.
    pub regex: Option<Spanned<String>>,
}

/// The canary's size: exactly one of `replicas`, `weight` or `matchTrafficWeight`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CanaryScaleConfig {
    /// This many canary replicas, whatever its traffic weight.
    pub replicas: Option<Spanned<Whole<u32>>>,
    /// This share of the service's `replicas`.
    pub weight: Option<Spanned<Percent>>,
    /// `true`: back to as many replicas as the traffic weight needs (the default).
    pub match_traffic_weight: Option<Spanned<bool>>,
}

/// A mirror of a share of requests to the canary.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MirrorRouteConfig {
    /// The route's name; a step with only the name removes the mirror.
    pub name: Option<Spanned<String>>,
    /// The share of requests copied to the canary.
    pub percentage: Option<Spanned<Percent>>,
    /// Not supported: the built-in router mirrors a share of all requests.
    #[serde(rename = "match")]
    pub matches: Option<Spanned<serde_json::Value>>,
}

impl<'de> Deserialize<'de> for CanaryStepConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StepVisitor;

        impl<'de> Visitor<'de> for StepVisitor {
            type Value = CanaryStepConfig;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a step like `setWeight: 10` or `pause: 2m`")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "a step is a key and a value, found just `{v}` (expected e.g. `setWeight: 10` or `pause: 2m`)"
                )))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let Some(kind) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(format!(
                        "empty step (expected one of {})",
                        STEP_KINDS.join(", ")
                    )));
                };
                let step = match kind.as_str() {
                    "setWeight" | "weight" => CanaryStepConfig::SetWeight(map.next_value()?),
                    "pause" => CanaryStepConfig::Pause(map.next_value()?),
                    "analysis" => CanaryStepConfig::Analysis(map.next_value()?),
                    "setHeaderRoute" => CanaryStepConfig::SetHeaderRoute(map.next_value()?),
                    "setCanaryScale" => CanaryStepConfig::SetCanaryScale(map.next_value()?),
                    "setMirrorRoute" => CanaryStepConfig::SetMirrorRoute(map.next_value()?),
                    "verify" => CanaryStepConfig::Verify(map.next_value()?),
                    _ => {
                        return Err(de::Error::custom(format!(
                            "unknown step `{kind}`{} (expected one of {})",
                            did_you_mean(&kind, STEP_KINDS.iter().copied()),
                            STEP_KINDS.join(", ")
                        )));
                    }
                };
                if let Some(other) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "a step has one key, found `{kind}` and `{other}` (expected each on its own list item, e.g. `- {kind}: …` then `- {other}: …`)"
                    )));
                }
                Ok(step)
            }
        }

        deserializer.deserialize_any(StepVisitor)
    }
}

impl JsonSchema for CanaryStepConfig {
    fn schema_name() -> Cow<'static, str> {
        "CanaryStep".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let one_key = |key: &str, description: &str, value: Schema| {
            json_schema!({
                "type": "object",
                "description": description,
                "properties": { key: value },
                "required": [key],
                "additionalProperties": false
            })
        };
        let weight = generator.subschema_for::<Percent>();
        let pause = generator.subschema_for::<PauseConfig>();
        let analysis = generator.subschema_for::<AnalysisRefConfig>();
        let route = generator.subschema_for::<HeaderRouteConfig>();
        let suite = generator.subschema_for::<String>();
        let scale = generator.subschema_for::<CanaryScaleConfig>();
        let mirror = generator.subschema_for::<MirrorRouteConfig>();
        json_schema!({
            "description": "One step of a canary: a mapping with exactly one key.",
            "oneOf": [
                one_key("setWeight", "Send this share of traffic to the canary.", weight.clone()),
                one_key("weight", "Same as `setWeight`.", weight),
                one_key("pause", "Wait for a duration, or until promoted.", pause),
                one_key("analysis", "Run an analysis and wait for its verdict.", analysis),
                one_key("setHeaderRoute", "Route requests with a matching header to the canary.", route),
                one_key("setCanaryScale", "Size the canary apart from its traffic weight.", scale),
                one_key("setMirrorRoute", "Copy a share of requests to the canary, its answers discarded; with only `name`, remove the mirror.", mirror),
                one_key("verify", "Run a suite of checks from `verify:` against the canary; a failure rolls back.", suite)
            ]
        })
    }
}

impl<'de> Deserialize<'de> for PauseConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct PauseMap {
            duration: Option<Spanned<DurationValue>>,
        }

        struct PauseVisitor;

        impl PauseVisitor {
            fn short<E: de::Error>(d: Result<DurationValue, E>) -> Result<PauseConfig, E> {
                Ok(PauseConfig {
                    duration: Some(Spanned::new(d?, Pos::UNKNOWN)),
                })
            }
        }

        impl<'de> Visitor<'de> for PauseVisitor {
            type Value = PauseConfig;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration like 2m, {duration: 10m}, or {} to wait until promoted")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Self::short(DurationValue::parse(v).map_err(E::custom))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Self::short(DurationValue::deserialize(de::value::U64Deserializer::new(
                    v,
                )))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Self::short(DurationValue::deserialize(de::value::I64Deserializer::new(
                    v,
                )))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Self::short(DurationValue::deserialize(de::value::F64Deserializer::new(
                    v,
                )))
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(PauseConfig::default())
            }

            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(PauseConfig::default())
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let m = PauseMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(PauseConfig {
                    duration: m.duration,
                })
            }
        }

        deserializer.deserialize_any(PauseVisitor)
    }
}

impl JsonSchema for PauseConfig {
    fn schema_name() -> Cow<'static, str> {
        "Pause".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let duration = generator.subschema_for::<DurationValue>();
        json_schema!({
            "description": "`pause: 2m`, `pause: 600` (seconds), `pause: {duration: 10m}`, or `pause: {}` to wait until promoted.",
            "anyOf": [
                duration.clone(),
                {
                    "type": "object",
                    "properties": { "duration": duration },
                    "additionalProperties": false
                },
                { "type": "null" }
            ]
        })
    }
}
