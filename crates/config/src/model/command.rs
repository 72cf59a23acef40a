//! A program and its arguments: `["./api", "--flag"]`, or a single word as a string.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

/// Program and arguments as a list, exec-style: no shell parses them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Command(pub Vec<String>);

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CommandVisitor;

        impl<'de> Visitor<'de> for CommandVisitor {
            type Value = Command;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list like [\"./api\", \"--flag\"]")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut words = Vec::new();
                while let Some(word) = seq.next_element::<String>()? {
                    words.push(word);
                }
                Ok(Command(words))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                // Splitting on spaces would guess at quoting; a list says exactly what is meant.
                if v.trim().contains(char::is_whitespace) {
                    let words: Vec<String> =
                        v.split_whitespace().map(|w| format!("{w:?}")).collect();
                    return Err(E::custom(format!(
                        "`{v}` has spaces (expected a list of program and arguments, e.g. [{}])",
                        words.join(", ")
                    )));
                }
                Ok(Command(vec![v.trim().to_owned()]))
            }
        }

        deserializer.deserialize_any(CommandVisitor)
    }
}

impl JsonSchema for Command {
    fn schema_name() -> Cow<'static, str> {
        "Command".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Program and arguments, e.g. `[\"./api\", \"--port-from-env\"]`; a program without arguments may be a string.",
            "anyOf": [
                { "type": "array", "items": { "type": "string" }, "minItems": 1 },
                { "type": "string", "pattern": "^\\S+$" }
            ]
        })
    }
}
