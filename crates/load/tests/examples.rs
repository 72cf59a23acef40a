//! The load files in `examples/load/` are valid, so what the docs show runs.

use std::path::Path;

#[test]
fn every_example_load_file_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/load");
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let read_csv =
            |name: &str| std::fs::read_to_string(dir.join(name)).map_err(|e| e.to_string());
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let plan =
            bellwether_load::load(&name, &source, &read_csv).unwrap_or_else(|e| panic!("{e}"));
        assert!(!plan.thresholds.is_empty(), "{name} shows thresholds");
        checked.push(name);
    }
    checked.sort();
    assert_eq!(
        checked,
        ["basic.yaml", "load.yaml", "spike.yaml", "stress.yaml"]
    );
}
