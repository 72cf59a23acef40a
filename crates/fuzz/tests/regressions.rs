//! Every seed and every finding of each fuzz target, replayed through it: `fuzz/seeds/TARGET/`
//! holds the inputs fuzzing starts from, `fuzz/regressions/TARGET/` the inputs that once made
//! a target panic, hang or abort, kept so that it never does again.

use std::path::Path;

#[test]
fn every_seed_and_finding_ends_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut replayed = 0;
    for target in bellwether_fuzz::TARGETS {
        let mut inputs = 0;
        for kind in ["seeds", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(kind).join(target.name)) else {
                continue;
            };
            for entry in entries.flatten() {
                let data = std::fs::read(entry.path()).expect("readable");
                (target.run)(&data);
                inputs += 1;
            }
        }
        assert!(inputs > 0, "fuzz target `{}` has no seed", target.name);
        replayed += inputs;
    }
    assert!(replayed >= bellwether_fuzz::TARGETS.len());
}
