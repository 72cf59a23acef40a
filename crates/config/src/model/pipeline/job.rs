//! A job: its place in the DAG, conditions, matrix, environment and steps.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::{ConcurrencyForm, FlagForm, Names, PipelineStepConfig};
use crate::span::{Entries, Pos, Spanned};
use crate::values::{DurationValue, Whole};

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PipelineJobConfig {
    /// A display name; may use `matrix`. Default: the job's id, with the matrix values.
    pub name: Option<Spanned<String>>,
    /// Accepted so that GitHub workflows paste in: jobs run on this machine, and `bellwether
    /// run` says so.
    #[schemars(with = "serde_json::Value")]
    pub runs_on: Option<Spanned<serde_json::Value>>,
    /// Jobs that must finish first, by id.
    pub needs: Option<Spanned<Names>>,
    /// Run only when this expression holds; `success()` (every needed job succeeded) is
    /// implied unless it calls a status function itself.
    #[serde(rename = "if")]
    pub condition: Option<Spanned<String>>,
    /// Environment variables for the job's steps.
    #[serde(default)]
    pub env: Entries<String>,
    /// How long one attempt of the job may take, e.g. `30m`.
    pub timeout: Option<Spanned<DurationValue>>,
    /// GitHub's spelling of `timeout`, in minutes.
    pub timeout_minutes: Option<Spanned<Whole<u32>>>,
    /// Run the job again when it fails: `retry: 3` or `{max-attempts: 3, on-exit-codes: [75]}`.
    pub retry: Option<Spanned<RetryForm>>,
    /// A failure of this job neither fails the run nor skips the jobs that need it.
    pub continue_on_error: Option<Spanned<FlagForm>>,
    /// `matrix`, `fail-fast` and `max-parallel`.
    pub strategy: Option<Spanned<MatrixStrategyConfig>>,
    /// Values for the jobs that need this one, e.g. `version: ${{ steps.meta.outputs.version }}`.
    #[serde(default)]
    pub outputs: Entries<String>,
    /// The declared environment the job deploys to; its protection rules apply.
    pub environment: Option<Spanned<EnvironmentForm>>,
    /// Jobs in the same group run one at a time.
    pub concurrency: Option<Spanned<ConcurrencyForm>>,
    /// Defaults for the job's `run` steps.
    pub defaults: Option<Spanned<DefaultsConfig>>,
    /// The steps, in order.
    #[serde(default)]
    pub steps: Vec<Spanned<PipelineStepConfig>>,
    /// The `GITHUB_TOKEN`'s scopes on GitHub; accepted and ignored.
    #[schemars(with = "serde_json::Value")]
    pub permissions: Option<Spanned<serde_json::Value>>,
    /// Not supported: service containers. Recognised so that the error can say what to do.
    #[schemars(with = "serde_json::Value")]
    pub services: Option<Spanned<serde_json::Value>>,
    /// Not supported: jobs run on this machine, not in a container.
    #[schemars(with = "serde_json::Value")]
    pub container: Option<Spanned<serde_json::Value>>,
    /// Not supported: reusable workflows. Recognised so that the error can say what to do.
    pub uses: Option<Spanned<String>>,
    /// The inputs of a reusable workflow (`uses`).
    #[schemars(with = "serde_json::Value")]
    pub with: Option<Spanned<serde_json::Value>>,
    /// The secrets of a reusable workflow (`uses`).
    #[schemars(with = "serde_json::Value")]
    pub secrets: Option<Spanned<serde_json::Value>>,
}

/// `defaults: {run: {shell, working-directory}}`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultsConfig {
    pub run: Option<Spanned<RunDefaultsConfig>>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RunDefaultsConfig {
    pub shell: Option<Spanned<String>>,
    pub working_directory: Option<Spanned<String>>,
}

/// `strategy:`, as in GitHub Actions.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MatrixStrategyConfig {
    /// Axes of values (`os: [ubuntu, debian]`) with `include` and `exclude`, or an
    /// expression like `${{ fromJSON(needs.plan.outputs.matrix) }}`.
    pub matrix: Option<Spanned<MatrixForm>>,
    /// Cancel the other combinations when one fails. Default: true.
    pub fail_fast: Option<bool>,
    /// How many combinations run at once. Default: all.
    pub max_parallel: Option<Spanned<Whole<u32>>>,
}

/// A matrix as a mapping of axes, or as an expression evaluated when the job is ready.
#[derive(Clone, Debug)]
pub enum MatrixForm {
    Map(Entries<serde_json::Value>),
    Expr(String),
}

impl<'de> Deserialize<'de> for MatrixForm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MatrixVisitor;

        impl<'de> Visitor<'de> for MatrixVisitor {
            type Value = MatrixForm;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of axes to lists of values, or an expression")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MatrixForm::Expr(v.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Entries::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(MatrixForm::Map)
            }
        }

        deserializer.deserialize_any(MatrixVisitor)
    }
}

impl JsonSchema for MatrixForm {
    fn schema_name() -> Cow<'static, str> {
        "Matrix".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                {
                    "type": "object",
                    "properties": {
                        "include": { "type": "array", "items": { "type": "object" } },
                        "exclude": { "type": "array", "items": { "type": "object" } }
                    },
                    "additionalProperties": { "type": "array" }
                },
                { "type": "string", "description": "An expression like `${{ fromJSON(needs.plan.outputs.matrix) }}`." }
            ]
        })
    }
}

/// `retry: 3` or `retry: {max-attempts: 3, on-exit-codes: [75]}`.
#[derive(Clone, Debug, Default)]
pub struct RetryForm {
    pub max_attempts: Option<Spanned<Whole<u32>>>,
    pub on_exit_codes: Vec<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RetryMap {
    max_attempts: Option<Spanned<Whole<u32>>>,
    #[serde(default)]
    on_exit_codes: Vec<Spanned<i64>>,
}

impl<'de> Deserialize<'de> for RetryForm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RetryVisitor;

        impl<'de> Visitor<'de> for RetryVisitor {
            type Value = RetryForm;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of attempts or {max-attempts: 3, on-exit-codes: [75]}")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                let n = u32::try_from(v).map_err(|_| {
                    E::custom(format!("{v} attempts is too many (expected at most 10)"))
                })?;
                Ok(RetryForm {
                    max_attempts: Some(Spanned::new(Whole(n), Pos::UNKNOWN)),
                    on_exit_codes: Vec::new(),
                })
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::custom(format!(
                        "{v} attempts is negative (expected 1 to 10)"
                    ))),
                }
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let m = RetryMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RetryForm {
                    max_attempts: m.max_attempts,
                    on_exit_codes: m.on_exit_codes,
                })
            }
        }

        deserializer.deserialize_any(RetryVisitor)
    }
}

impl JsonSchema for RetryForm {
    fn schema_name() -> Cow<'static, str> {
        "Retry".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                { "type": "integer", "minimum": 1, "maximum": 10 },
                {
                    "type": "object",
                    "properties": {
                        "max-attempts": { "type": "integer", "minimum": 1, "maximum": 10, "description": "Attempts in all, the first included." },
                        "on-exit-codes": { "type": "array", "items": { "type": "integer", "minimum": 1, "maximum": 255 }, "description": "Retry only when the failing step exits with one of these. Default: any failure." }
                    },
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// `environment: production` or `environment: {name: production, url: …}`.
#[derive(Clone, Debug, Default)]
pub struct EnvironmentForm {
    pub name: Option<Spanned<String>>,
    pub url: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvironmentMap {
    name: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
}

impl<'de> Deserialize<'de> for EnvironmentForm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EnvironmentVisitor;

        impl<'de> Visitor<'de> for EnvironmentVisitor {
            type Value = EnvironmentForm;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an environment name or {name: …, url: …}")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(EnvironmentForm {
                    name: Some(Spanned::new(v.to_owned(), Pos::UNKNOWN)),
                    url: None,
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let m = EnvironmentMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(EnvironmentForm {
                    name: m.name,
                    url: m.url,
                })
            }
        }

        deserializer.deserialize_any(EnvironmentVisitor)
    }
}

impl JsonSchema for EnvironmentForm {
    fn schema_name() -> Cow<'static, str> {
        "JobEnvironment".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                { "type": "string" },
                {
                    "type": "object",
                    "properties": { "name": { "type": "string" }, "url": { "type": "string" } },
                    "required": ["name"],
                    "additionalProperties": false
                }
            ]
        })
    }
}
