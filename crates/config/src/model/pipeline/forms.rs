//! Values written in more than one shape: a name or a list of names, a boolean or an
//! expression, a concurrency group as a string or a mapping.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::span::{Pos, Spanned};

/// One name or a list of them: `needs: build` or `needs: [build, test]`.
///
/// A lone name has no position of its own here; lowering uses the position of the whole.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Names(pub Vec<Spanned<String>>);

impl<'de> Deserialize<'de> for Names {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NamesVisitor;

        impl<'de> Visitor<'de> for NamesVisitor {
            type Value = Names;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a name or a list of names")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Names(vec![Spanned::new(v.to_owned(), Pos::UNKNOWN)]))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = seq.next_element::<Spanned<String>>()? {
                    names.push(name);
                }
                Ok(Names(names))
            }
        }

        deserializer.deserialize_any(NamesVisitor)
    }
}

impl JsonSchema for Names {
    fn schema_name() -> Cow<'static, str> {
        "Names".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                { "type": "string" },
                { "type": "array", "items": { "type": "string" } }
            ]
        })
    }
}

/// `true`, `false`, or an expression like `${{ matrix.experimental }}`.
#[derive(Clone, Debug, PartialEq)]
pub enum FlagForm {
    Bool(bool),
    Expr(String),
}

impl<'de> Deserialize<'de> for FlagForm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FlagVisitor;

        impl Visitor<'_> for FlagVisitor {
            type Value = FlagForm;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false or an expression like ${{ matrix.experimental }}")
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(FlagForm::Bool(v))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(FlagForm::Expr(v.to_owned()))
            }
        }

        deserializer.deserialize_any(FlagVisitor)
    }
}

impl JsonSchema for FlagForm {
    fn schema_name() -> Cow<'static, str> {
        "Flag".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "true, false, or an expression like `${{ matrix.experimental }}`.",
            "anyOf": [ { "type": "boolean" }, { "type": "string" } ]
        })
    }
}

/// `concurrency: deploy-${{ github.ref }}` or `{group, cancel-in-progress}`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConcurrencyForm {
    /// The group; its position is the whole value's when written as a string.
    pub group: Option<Spanned<String>>,
    pub cancel_in_progress: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ConcurrencyMap {
    group: Option<Spanned<String>>,
    #[serde(default)]
    cancel_in_progress: bool,
}

impl<'de> Deserialize<'de> for ConcurrencyForm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ConcurrencyVisitor;

        impl<'de> Visitor<'de> for ConcurrencyVisitor {
            type Value = ConcurrencyForm;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a group name or {group: …, cancel-in-progress: true}")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ConcurrencyForm {
                    group: Some(Spanned::new(v.to_owned(), Pos::UNKNOWN)),
                    cancel_in_progress: false,
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let m = ConcurrencyMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(ConcurrencyForm {
                    group: m.group,
                    cancel_in_progress: m.cancel_in_progress,
                })
            }
        }

        deserializer.deserialize_any(ConcurrencyVisitor)
    }
}

impl JsonSchema for ConcurrencyForm {
    fn schema_name() -> Cow<'static, str> {
        "Concurrency".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Runs or jobs in the same group wait for each other (or, with `cancel-in-progress`, cancel the one in progress).",
            "anyOf": [
                { "type": "string" },
                {
                    "type": "object",
                    "properties": {
                        "group": { "type": "string" },
                        "cancel-in-progress": { "type": "boolean" }
                    },
                    "required": ["group"],
                    "additionalProperties": false
                }
            ]
        })
    }
}
