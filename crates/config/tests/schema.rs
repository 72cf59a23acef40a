//! The committed JSON Schema matches the one generated from the file model.

use std::path::PathBuf;

#[test]
fn committed_schema_is_in_sync() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schema/bellwether.schema.json");
    let generated = bellwether_config::schema();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated)
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "schema/bellwether.schema.json is out of date with the file model; regenerate it with\n  UPDATE_SCHEMA=1 cargo test -p bellwether-config --test schema"
    );
}

#[test]
fn schema_is_json_with_the_top_level_sections() {
    let schema: serde_json::Value =
        serde_json::from_str(&bellwether_config::schema()).expect("valid JSON");
    let properties = schema["properties"].as_object().expect("an object schema");
    let keys: Vec<&str> = properties.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "checks",
            "dora",
            "environments",
            "notifications",
            "pipelines",
            "providers",
            "server",
            "services",
            "trust",
            "verify"
        ]
    );
    assert_eq!(schema["additionalProperties"], false);
}
