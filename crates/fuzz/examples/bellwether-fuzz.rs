//! The AFL++ driver: `bellwether-fuzz TARGET` feeds AFL++'s inputs to one target in persistent
//! mode. Built instrumented by `scripts/fuzz.sh`, which runs it under `afl-fuzz`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let name = std::env::args().nth(1).unwrap_or_default();
    let Some(target) = bellwether_fuzz::target(&name) else {
        let names: Vec<&str> = bellwether_fuzz::TARGETS.iter().map(|t| t.name).collect();
        eprintln!(
            "usage: bellwether-fuzz TARGET (one of {})",
            names.join(", ")
        );
        return ExitCode::FAILURE;
    };
    afl::fuzz(true, |data| (target.run)(data));
    ExitCode::SUCCESS
}
