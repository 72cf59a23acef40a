//! Whole numbers (replicas, limits, counts) with messages that say what was expected.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A non-negative whole number of type `T` (`u32` or `u64`).
///
/// The YAML parser's own integer errors say only "invalid u32"; this type says what it found
/// and what it expected instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Whole<T>(pub T);

/// The widths a [`Whole`] comes in.
pub trait WholeWidth: Copy + TryFrom<u64> + fmt::Display {
    const MAX: u64;
}

impl WholeWidth for u32 {
    const MAX: u64 = u32::MAX as u64;
}

impl WholeWidth for u64 {
    const MAX: u64 = u64::MAX;
}

impl<T: WholeWidth> Whole<T> {
    fn from_u64<E: de::Error>(v: u64) -> Result<Self, E> {
        T::try_from(v).map(Whole).map_err(|_| {
            E::custom(format!(
                "{v} is too large (expected a whole number up to {})",
                T::MAX
            ))
        })
    }
}

impl<T: fmt::Display> fmt::Display for Whole<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de, T: WholeWidth> Deserialize<'de> for Whole<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct WholeVisitor<T>(PhantomData<T>);

        impl<T: WholeWidth> Visitor<'_> for WholeVisitor<T> {
            type Value = Whole<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number like 3")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Whole::from_u64(v)
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                match u64::try_from(v) {
                    Ok(v) => Whole::from_u64(v),
                    Err(_) => Err(E::custom(format!(
                        "{v} is negative (expected a whole number, 0 or more)"
                    ))),
                }
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "{v} is not a whole number (expected e.g. 3)"
                )))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                match v.trim().parse::<u64>() {
                    Ok(n) => Whole::from_u64(n),
                    Err(_) => Err(E::custom(format!(
                        "`{v}` is not a whole number (expected e.g. 3)"
                    ))),
                }
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "`{v}` is not a whole number (expected e.g. 3)"
                )))
            }
        }

        deserializer.deserialize_any(WholeVisitor(PhantomData))
    }
}

impl<T: WholeWidth> JsonSchema for Whole<T> {
    fn schema_name() -> Cow<'static, str> {
        "WholeNumber".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let mut schema = json_schema!({ "type": "integer", "minimum": 0 });
        if T::MAX < u64::MAX {
            schema.insert("maximum".to_owned(), T::MAX.into());
        }
        schema
    }
}
