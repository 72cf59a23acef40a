//! No input makes the config crate panic: mangled versions of the examples and arbitrary text
//! all end in a project or in diagnostics.

use std::path::PathBuf;

use proptest::prelude::*;

fn examples() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut sources: Vec<String> = std::fs::read_dir(dir)
        .expect("examples/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    sources.sort();
    sources
}

/// Runs everything a caller can run on a source; any panic fails the test.
fn exercise(source: &str) {
    match bellwether_config::parse("bellwether.yaml", source) {
        Ok(config) => {
            let _ = config.validate().to_string();
            let _ = config.lower();
        }
        Err(diagnostics) => assert!(diagnostics.has_errors(), "a failed parse reports an error"),
    }
}

/// Bytes that change YAML's structure or this crate's scalars.
const INTERESTING: &[u8] = b" \n\t:-{}[],'\"&*!%#|>?0159.-+eEsmh/\\~";

#[test]
fn every_line_removed_or_truncated() {
    for source in examples() {
        let lines: Vec<&str> = source.lines().collect();
        for i in 0..lines.len() {
            let mut without = lines.clone();
            without.remove(i);
            exercise(&without.join("\n"));
            exercise(&lines[..i].join("\n"));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mangled_examples(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(INTERESTING), 0..3u8), 1..12),
    ) {
        let sources = examples();
        let mut bytes = sources[which.index(sources.len())].clone().into_bytes();
        for (at, byte, kind) in edits {
            let i = at.index(bytes.len().max(1));
            match kind {
                0 if i < bytes.len() => bytes[i] = byte,
                1 => bytes.insert(i.min(bytes.len()), byte),
                _ if i < bytes.len() => { bytes.remove(i); }
                _ => {}
            }
        }
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_text(source in "\\PC{0,200}") {
        exercise(&source);
    }
}

#[test]
fn deep_nesting() {
    for depth in [100, 10_000, 200_000] {
        exercise(&format!(
            "pipelines: {}{}",
            "[".repeat(depth),
            "]".repeat(depth)
        ));
        exercise(&format!(
            "pipelines: {}1{}",
            "{a: ".repeat(depth),
            "}".repeat(depth)
        ));
        exercise(&format!("services: {}", "- ".repeat(depth)));
    }
}
