//! The JSON Schema of `bellwether.yaml`, generated from the file model's types.

use schemars::Schema;
use schemars::generate::SchemaSettings;

use crate::model::ProjectFile;

/// The JSON Schema of `bellwether.yaml` (draft 2020-12), pretty-printed, for editors and for
/// `bellwether schema`.
pub fn schema() -> String {
    // Serializing a `serde_json::Value`-backed schema cannot fail; fall back to `{}` (which
    // accepts everything) rather than panic if that ever changes.
    let mut text = serde_json::to_string_pretty(&generate()).unwrap_or_else(|_| "{}".to_owned());
    text.push('\n');
    text
}

pub(crate) fn generate() -> Schema {
    SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<ProjectFile>()
}
