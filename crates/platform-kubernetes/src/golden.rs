//! The golden manifests: the objects the platform writes, as committed under `golden/`, so a
//! change to what is written shows in review, and `scripts/validate-manifests.sh` checks each
//! against its schema. `UPDATE_GOLDEN=1` rewrites them.

use serde_json::Value;

/// Fails when `golden/<file>` is not `object` as YAML; rewrites it first under `UPDATE_GOLDEN`.
pub(crate) fn check(file: &str, object: &Value) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("golden");
    let yaml = serde_saphyr::to_string(object).expect("an object serializes");
    let path = dir.join(file);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(&dir).expect("golden/ is made");
        std::fs::write(&path, &yaml).expect("the golden manifest is written");
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        golden == yaml,
        "{} is not what is written; rewrite it with\n  UPDATE_GOLDEN=1 cargo test -p bellwether-platform-kubernetes --lib golden\n{yaml}",
        path.display()
    );
}
