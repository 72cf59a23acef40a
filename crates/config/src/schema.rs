//! The JSON Schema of `bellwether.yaml`, generated from the file model's types.

use schemars::generate::SchemaSettings;
use schemars::transform::Transform;
use schemars::{Schema, json_schema};

use crate::model::ProjectFile;

/// The JSON Schema of `bellwether.yaml` (draft 2020-12), pretty-printed, for editors and for
/// `bellwether schema`.
pub fn schema() -> String {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let schema = generator.into_root_schema_for::<ProjectFile>();
    // Serializing a `serde_json::Value`-backed schema cannot fail; fall back to `{}` (which
    // accepts everything) rather than panic if that ever changes.
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_else(|_| "{}".to_owned());
    text.push('\n');
    text
}

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
