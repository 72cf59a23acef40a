//! Every file in the repository's `examples/` loads without an error or a warning, and the
//! seeds' canaries lower to exactly the steps they describe.

use std::path::PathBuf;
use std::time::Duration;

use bellwether_config::load;
use bellwether_core::spec::{CanaryStep, ServiceSpec, Strategy, Weight};

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn service(file: &str, name: &str) -> ServiceSpec {
    let path = examples_dir().join(file);
    let source =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let loaded = load(file, &source).unwrap_or_else(|d| panic!("{d}"));
    loaded
        .project
        .services
        .get(name)
        .cloned()
        .unwrap_or_else(|| panic!("{file} has no service {name}"))
}

/// `setWeight` and `pause` steps as (percent, minutes), for comparing with the seeds.
fn canary_plan(spec: &ServiceSpec) -> Vec<(&'static str, u64)> {
    let Strategy::Canary(canary) = &spec.strategy else {
        panic!("{} is not a canary", spec.name)
    };
    canary
        .steps
        .iter()
        .map(|step| match step {
            CanaryStep::SetWeight(w) => ("weight", u64::from(w.basis_points() / 100)),
            CanaryStep::Pause(Some(d)) => ("pause", d.as_secs() / 60),
            other => panic!("unexpected step {other:?}"),
        })
        .collect()
}

#[test]
fn every_example_loads_cleanly() {
    let mut checked = 0;
    let entries = std::fs::read_dir(examples_dir()).expect("examples/ exists");
    for entry in entries {
        let path = entry.expect("readable directory").path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let source = std::fs::read_to_string(&path).expect("readable example");
        match load(&name, &source) {
            Ok(loaded) => assert!(loaded.warnings.is_empty(), "{}", loaded.warnings),
            Err(diagnostics) => panic!("{diagnostics}"),
        }
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} examples found");
}

#[test]
fn seed_000_canary_goes_10_25_50_75_with_2_5_10_5_minute_pauses() {
    let plan = canary_plan(&service("canary.yaml", "api-service"));
    let expected = [
        ("weight", 10),
        ("pause", 2),
        ("weight", 25),
        ("pause", 5),
        ("weight", 50),
        ("pause", 10),
        ("weight", 75),
        ("pause", 5),
    ];
    assert_eq!(plan, expected);
}

#[test]
fn seed_003_canary_goes_5_20_50_100_every_10_minutes() {
    let plan = canary_plan(&service("canary-ecommerce.yaml", "storefront"));
    let expected = [
        ("weight", 5),
        ("pause", 10),
        ("weight", 20),
        ("pause", 10),
        ("weight", 50),
        ("pause", 10),
        ("weight", 100),
    ];
    assert_eq!(plan, expected);
}

#[test]
fn seed_002_canary_goes_5_25_50_100() {
    let plan = canary_plan(&service("canary-website.yaml", "website"));
    let weights: Vec<u64> = plan
        .iter()
        .filter(|(k, _)| *k == "weight")
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(weights, [5, 25, 50, 100]);
}

#[test]
fn seed_000_defaults_are_judged_by_the_builtin_router_every_second() {
    let spec = service("canary.yaml", "api-service");
    let names: Vec<&str> = spec.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        ["success_rate", "latency_p99", "error_rate", "cpu", "memory"]
    );
    assert!(
        spec.metrics
            .iter()
            .all(|m| m.interval == Duration::from_secs(1))
    );
    let Strategy::Canary(canary) = &spec.strategy else {
        panic!("not a canary")
    };
    let background = canary
        .background_analysis
        .as_ref()
        .expect("background analysis by default");
    assert!(background.analysis.metrics.is_empty(), "all metrics");
    assert_eq!(background.starting_step, 0);
    assert_eq!(
        Weight::from_percent(10).ok(),
        match canary.steps.first() {
            Some(CanaryStep::SetWeight(w)) => Some(*w),
            _ => None,
        }
    );
}

#[test]
fn the_judge_example_asks_for_its_judge_at_25_and_75_percent() {
    let spec = service("judge.yaml", "api-service");
    let judge = spec.judge.as_ref().expect("a judge");
    assert_eq!((judge.interval, judge.count), (Duration::from_secs(10), 12));
    let Strategy::Canary(canary) = &spec.strategy else {
        panic!("not a canary")
    };
    let judged: Vec<(usize, &[String])> = canary
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, step)| match step {
            CanaryStep::Analysis(a) if a.judge => Some((i, a.metrics.as_slice())),
            _ => None,
        })
        .collect();
    assert_eq!(judged, [(3, &[][..]), (7, &["error_rate".to_owned()][..])]);
}
