//! A schema transform for the spellings serde accepts besides a field's own.

use schemars::transform::Transform;
use schemars::{Schema, json_schema};

/// Adds a serde `alias` to an object schema, which schemars does not do by itself, so that
/// editors accept every spelling the parser accepts.
pub(crate) struct Alias {
    pub(crate) name: &'static str,
    pub(crate) alias: &'static str,
}

impl Transform for Alias {
    fn transform(&mut self, schema: &mut Schema) {
        let Some(properties) = schema.get_mut("properties").and_then(|p| p.as_object_mut()) else {
            return;
        };
        let Some(canonical) = properties.get(self.name).cloned() else {
            return;
        };
        let mut described = Schema::try_from(canonical).unwrap_or_else(|_| json_schema!({}));
        described.insert(
            "description".to_owned(),
            format!("Same as `{}`.", self.name).into(),
        );
        properties.insert(self.alias.to_owned(), described.into());
    }
}
