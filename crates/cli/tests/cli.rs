//! The binary as users run it: output and exit codes of each command, as snapshots.

use std::path::Path;
use std::process::Command;

/// Runs `bellwether` from the repository root; returns exit code, stdout and stderr.
fn bellwether(args: &[&str]) -> (i32, String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(env!("CARGO_BIN_EXE_bellwether"))
        .args(args)
        .current_dir(root)
        .output()
        .expect("the binary runs");
    let text = |b: Vec<u8>| String::from_utf8(b).expect("utf-8 output");
    (
        out.status.code().unwrap_or(-1),
        text(out.stdout),
        text(out.stderr),
    )
}

#[test]
fn validate_accepts_every_example() {
    let examples: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples"))
            .unwrap()
            .map(|e| format!("examples/{}", e.unwrap().file_name().to_string_lossy()))
            .filter(|p| p.ends_with(".yaml"))
            .collect();
    assert!(examples.len() >= 6, "{examples:?}");
    let mut args = vec!["validate", "--strict"];
    args.extend(examples.iter().map(String::as_str));
    let (code, stdout, stderr) = bellwether(&args);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        stdout.lines().filter(|l| l.contains(": valid: ")).count(),
        examples.len(),
        "{stdout}"
    );
}

#[test]
fn validate_shows_every_error_at_its_line_and_column() {
    let (code, stdout, _) = bellwether(&["validate", "crates/cli/tests/data/bad.yaml"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(stdout, @"
    error: crates/cli/tests/data/bad.yaml:9:20: pause -5m is negative (expected a duration like 30s, 5m or 1h)
      |
    9 |           - pause: -5m
      |                    ^

    error: crates/cli/tests/data/bad.yaml:10:24: setWeight 10% after 25% at line 8: weights must not go down within a canary (expected 25% or more)
       |
    10 |           - setWeight: 10
       |                        ^

    error: crates/cli/tests/data/bad.yaml:11:24: weight 120% is over 100% (expected 0–100%)
       |
    11 |           - setWeight: 120
       |                        ^

    error: crates/cli/tests/data/bad.yaml:12:35: unknown metric `latency_p95` (expected one of success_rate)
       |
    12 |           - analysis: { metrics: [latency_p95] }
       |                                   ^

    error: crates/cli/tests/data/bad.yaml:15:20: unknown environment `prod` (expected one of production)
       |
    15 |     environments: [prod]
       |                    ^

    crates/cli/tests/data/bad.yaml: invalid: 5 errors
    ");
}

#[test]
fn validate_reports_as_json() {
    let (code, stdout, _) = bellwether(&[
        "validate",
        "-o",
        "json",
        "-f",
        "crates/cli/tests/data/bad.yaml",
    ]);
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["diagnostics"].as_array().unwrap().len(), 5);
    assert_eq!(report["diagnostics"][0]["line"], 9);
    assert_eq!(report["diagnostics"][0]["column"], 20);
}

#[test]
fn validate_names_a_missing_file() {
    let (code, _, stderr) = bellwether(&["validate", "no-such.yaml"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(stderr, @"error: cannot read no-such.yaml: No such file or directory (os error 2)");
}

#[test]
fn simulate_plays_the_seed_canary() {
    let (code, stdout, _) = bellwether(&["simulate", "-f", "examples/canary.yaml"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!(stdout, @"
    simulated canary rollout of api-service (revision 1 -> 2)
          0s  canary rollout of revision 2 (v2) started
          0s    -> start background analysis of revision 2 against revision 1
          0s  step 1: set weight 10%
          0s    -> scale revision 2 to 1
          2s    -> route r1=90% r2=10%
          2s  revision 2 now receives 10% of traffic
          2s  step 1 completed
          2s  step 2: pause 2m
        2m2s  step 2 completed
        2m2s  step 3: set weight 25%
        2m2s    -> route r1=75% r2=25%
        2m2s  revision 2 now receives 25% of traffic
        2m2s  step 3 completed
        2m2s  step 4: pause 5m
        7m2s  step 4 completed
        7m2s  step 5: set weight 50%
        7m2s    -> scale revision 2 to 2
        7m4s    -> route r1=50% r2=50%
        7m4s  revision 2 now receives 50% of traffic
        7m4s  step 5 completed
        7m4s  step 6: pause 10m
       17m4s  step 6 completed
       17m4s  step 7: set weight 75%
       17m4s    -> scale revision 2 to 3
       17m6s    -> route r1=25% r2=75%
       17m6s  revision 2 now receives 75% of traffic
       17m6s  step 7 completed
       17m6s  step 8: pause 5m
       22m6s  step 8 completed
       22m6s    -> conclude background analysis
       22m6s  background analysis: Successful: simulated Successful
       22m6s    -> route r2=100%
       22m6s    -> mark revision 2 (v2) stable
       22m6s  revision 2 (v2) promoted to stable
      22m36s    -> scale revision 1 to 0
      22m36s  revision 1 scaled to zero
    outcome: Healthy (decided after 22m6s): revision 2 (v2) is stable and serves all traffic
    ");
}

#[test]
fn simulate_shows_the_rollback_of_a_failing_canary() {
    let (code, stdout, _) = bellwether(&[
        "simulate",
        "-f",
        "examples/canary.yaml",
        "--fail",
        "--analysis-time",
        "5s",
    ]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(stdout, @"
    simulated canary rollout of api-service (revision 1 -> 2)
          0s  canary rollout of revision 2 (v2) started
          0s    -> start background analysis of revision 2 against revision 1
          0s  step 1: set weight 10%
          0s    -> scale revision 2 to 1
          2s    -> route r1=90% r2=10%
          2s  revision 2 now receives 10% of traffic
          2s  step 1 completed
          2s  step 2: pause 2m
          5s  background analysis: Failed: simulated Failed
          5s    -> route r1=100%
          5s  aborted: background analysis failed: simulated Failed
         35s    -> scale revision 2 to 0
         35s  revision 2 scaled to zero
    outcome: Degraded (decided after 5s): background analysis failed: simulated Failed
    ");
}

#[test]
fn simulate_stops_at_a_pause_until_promoted() {
    let (code, stdout, _) = bellwether(&[
        "simulate",
        "-f",
        "crates/cli/tests/data/manual.yaml",
        "-o",
        "json",
    ]);
    let sim: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (code, sim["outcome"].as_str()),
        (3, Some("Paused")),
        "{stdout}"
    );
}

#[test]
fn simulate_asks_which_service_and_names_the_choices() {
    let (code, _, stderr) = bellwether(&["simulate", "-f", "examples/canary.yaml", "nope"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(stderr, @"error: no service `nope` (expected one of api-service)");
}

#[test]
fn schema_is_the_committed_copy() {
    let (code, stdout, _) = bellwether(&["schema"]);
    assert_eq!(code, 0);
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/bellwether.schema.json"),
    )
    .unwrap();
    assert_eq!(stdout.trim_end(), committed.trim_end());
}

#[test]
fn usage_errors_exit_with_2() {
    let (code, _, stderr) = bellwether(&["deploy-everything"]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn completions_are_generated_for_each_shell() {
    let bin = env!("CARGO_BIN_EXE_bellwether");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (code, stdout, _) = bellwether(&["completions", shell]);
        assert_eq!(code, 0, "{shell}");
        // The script asks this binary, wherever it is, what to complete.
        assert!(stdout.contains("BELLWETHER_COMPLETE"), "{shell}: {stdout}");
        assert!(stdout.contains(bin), "{shell}: {stdout}");
    }
    let asked = Command::new(bin)
        .args(["--", "bellwether", "sim"])
        .env("BELLWETHER_COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "1")
        .output()
        .unwrap();
    assert!(asked.status.success(), "{asked:?}");
    assert_eq!(String::from_utf8_lossy(&asked.stdout), "simulate");
}

#[test]
fn simulate_times_a_counted_analysis_by_its_measurements() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bellwether.yaml");
    std::fs::write(
        &file,
        r#"services:
  api:
    run: { command: [./api] }
    strategy:
      canary:
        steps: [ {setWeight: 50}, {analysis: {metrics: [errors]}} ]
    analysis:
      metrics:
        - name: errors
          threshold: error_rate <= 1%
          interval: 1m
          count: 5
"#,
    )
    .unwrap();
    let (code, stdout, stderr) = bellwether(&["simulate", "-f", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    // Measured at 0, 1, 2, 3 and 4 minutes into the step: the verdict comes with the fifth.
    let verdict = stdout
        .lines()
        .find(|l| l.contains("analysis") && l.contains(": Successful"))
        .unwrap_or_else(|| panic!("no verdict in {stdout}"));
    assert_eq!(verdict.split_whitespace().next(), Some("4m2s"), "{stdout}");
}
