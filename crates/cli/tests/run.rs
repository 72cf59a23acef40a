//! `bellwether run` as users run it: the seeds' example pipelines end to end, trigger filters
//! applied for real, exit codes, and what is printed.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    /// The final tree's line for a job or instance by its display name: `✓ unit tests (api)`.
    fn job(&self, name: &str) -> Option<String> {
        // The final tree follows its title line, `… · success in 1.2s`.
        let lines: Vec<&str> = self.stdout.lines().collect();
        let title = lines.iter().rposition(|l| {
            [" · success in ", " · failure in ", " · cancelled in "]
                .iter()
                .any(|c| l.contains(c))
        })?;
        lines[title + 1..]
            .iter()
            .take_while(|l| l.starts_with("  "))
            .find_map(|l| {
                let (icon, rest) = l.trim().split_once(' ')?;
                let after = rest.trim_start().strip_prefix(name)?;
                (after.is_empty() || after.starts_with(' ')).then(|| format!("{icon} {name}"))
            })
    }
}

/// Runs `bellwether run ARGS` from the repository root with a throwaway data directory.
fn run(args: &[&str], env: &[(&str, &str)]) -> Ran {
    let data = tempfile::tempdir().expect("a temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_bellwether"))
        .arg("run")
        .args(args)
        .arg("--plain")
        .arg("--data-dir")
        .arg(data.path())
        .envs(env.iter().copied())
        .current_dir(root())
        .output()
        .expect("the binary runs");
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: text(out.stdout),
        stderr: text(out.stderr),
    }
}

fn jobs(ran: &Ran, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| ran.job(n).unwrap_or_else(|| format!("? {n}")))
        .collect()
}

const SEED_000: &str = "examples/pipelines/seed-000-media-platform.yaml";
const SEED_001: &str = "examples/pipelines/seed-001-django-ecs.yaml";
const SEED_003: &str = "examples/pipelines/seed-003-gitflow.yaml";
/// Seed 000 ignores pushes that change only `docs/**`: its runs name a changed path, so they do
/// not depend on what this repository's latest commit touched.
const APP_CHANGE: &str = "app/api/server.js";

#[test]
fn seed_000_goes_from_tests_to_a_production_canary() {
    let ran = run(
        &[
            "ci-cd",
            "-f",
            SEED_000,
            "--branch",
            "main",
            "--path-changed",
            APP_CHANGE,
            "--approve",
            "production",
        ],
        &[],
    );
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(
        jobs(
            &ran,
            &[
                "unit tests (api)",
                "unit tests (media)",
                "unit tests (worker)",
                "integration tests",
                "security scan",
                "build and push images",
                "load test",
                "deploy to staging",
                "production canary",
                "rollback"
            ]
        ),
        [
            "✓ unit tests (api)",
            "✓ unit tests (media)",
            "✓ unit tests (worker)",
            "✓ integration tests",
            "✓ security scan",
            "✓ build and push images",
            "✓ load test",
            "✓ deploy to staging",
            "✓ production canary",
            "– rollback"
        ]
    );
    assert!(
        ran.stdout
            .contains("STAND-IN: no control plane given (`--server URL` or BELLWETHER_SERVER), so no rollout of service `api-service`"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("api -> worker: ok (1200)"),
        "{}",
        ran.stdout
    );
}

#[test]
fn seed_000_on_develop_stops_at_staging() {
    let ran = run(
        &[
            "ci-cd",
            "-f",
            SEED_000,
            "--branch",
            "develop",
            "--path-changed",
            APP_CHANGE,
        ],
        &[],
    );
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(
        jobs(
            &ran,
            &["deploy to staging", "production canary", "rollback"]
        ),
        ["✓ deploy to staging", "– production canary", "– rollback"]
    );
}

#[test]
fn seed_000_production_without_approval_fails_and_rolls_back() {
    let ran = run(
        &[
            "ci-cd",
            "-f",
            SEED_000,
            "--branch",
            "main",
            "--path-changed",
            APP_CHANGE,
            "--approval-timeout",
            "1s",
        ],
        &[],
    );
    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(
        jobs(&ran, &["production canary", "rollback"]),
        ["✗ production canary", "✓ rollback"]
    );
    assert!(
        ran.stdout.contains(
            "environment `production`: no decision within 1s (it needs 1 approval (not by"
        ),
        "{}",
        ran.stdout
    );
}

#[test]
fn seed_001_ci_masks_the_slack_webhook() {
    let hook = "https://hooks.slack.example/T000/B000/s3cr3t";
    let ran = run(
        &[
            "ci",
            "-f",
            SEED_001,
            "--branch",
            "main",
            "--secret",
            "SLACK_WEBHOOK",
        ],
        &[("SLACK_WEBHOOK", hook)],
    );
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(
        jobs(
            &ran,
            &[
                "security-scan",
                "test api-gateway",
                "test product-service",
                "build-images",
                "infrastructure-validation",
                "integration-tests",
                "notify"
            ]
        ),
        [
            "✓ security-scan",
            "✓ test api-gateway",
            "✓ test product-service",
            "✓ build-images",
            "✓ infrastructure-validation",
            "✓ integration-tests",
            "✓ notify"
        ]
    );
    assert!(!ran.stdout.contains("s3cr3t"), "{}", ran.stdout);
    assert!(
        ran.stdout.contains("would post the summary to ***"),
        "{}",
        ran.stdout
    );
}

#[test]
fn seed_001_cd_staging_runs_on_develop_only() {
    let ran = run(&["cd-staging", "-f", SEED_001, "--branch", "develop"], &[]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(
        jobs(&ran, &["pre-deployment", "smoke-tests"]),
        ["✓ pre-deployment", "✓ smoke-tests"]
    );
    let ran = run(&["cd-staging", "-f", SEED_001, "--branch", "main"], &[]);
    assert_eq!(ran.code, 0);
    insta::assert_snapshot!(ran.stdout.trim(), @"
    cd-staging: not run: this push on branch `main` matches none of its triggers:
      - branch `main` matches none of develop
    ");
}

#[test]
fn seed_001_cd_production_needs_its_approval() {
    let ran = run(
        &[
            "cd-production",
            "-f",
            SEED_001,
            "--branch",
            "main",
            "--approve",
            "production",
        ],
        &[],
    );
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(
        jobs(
            &ran,
            &[
                "database-migration",
                "deploy user-service",
                "verification",
                "rollback-setup"
            ]
        ),
        [
            "✓ database-migration",
            "✓ deploy user-service",
            "✓ verification",
            "✓ rollback-setup"
        ]
    );
}

#[test]
fn seed_001_rollback_is_manual_and_confirmed() {
    let confirmed = [
        "rollback",
        "-f",
        SEED_001,
        "--branch",
        "main",
        "--approve",
        "production",
        "--input",
        "deployment_id=r-41",
        "--input",
        "reason=bad release",
        "--input",
        "confirm=ROLLBACK",
    ];
    let ran = run(&confirmed, &[]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert!(
        ran.stdout.contains("rolling back to r-41: bad release"),
        "{}",
        ran.stdout
    );
    let ran = run(
        &[
            "rollback",
            "-f",
            SEED_001,
            "--branch",
            "main",
            "--input",
            "deployment_id=r-41",
            "--input",
            "reason=oops",
        ],
        &[],
    );
    assert_eq!(ran.code, 1);
    assert_eq!(
        jobs(&ran, &["validation", "execution"]),
        ["✗ validation", "– execution"]
    );
    let ran = run(&["rollback", "-f", SEED_001, "--branch", "main"], &[]);
    assert_eq!(ran.code, 1);
    insta::assert_snapshot!(ran.stderr.trim(), @"
    error: rollback: input `deployment_id` is required (expected --input deployment_id=<string>)
    error: rollback: input `reason` is required (expected --input reason=<string>)
    ");
}

#[test]
fn seed_003_each_branch_deploys_to_its_environment() {
    let table = [
        ("feature/login", None, "deploy-development"),
        ("develop", None, "deploy-testing"),
        ("release/2.0", Some("staging"), "deploy-staging"),
        ("main", Some("production"), "deploy-production"),
    ];
    let all = [
        "deploy-development",
        "deploy-testing",
        "deploy-staging",
        "deploy-production",
    ];
    for (branch, approve, deployed) in table {
        let mut args = vec!["deliver", "-f", SEED_003, "--branch", branch];
        if let Some(env) = approve {
            args.extend(["--approve", env]);
        }
        let ran = run(&args, &[]);
        assert_eq!(ran.code, 0, "{branch}: {}{}", ran.stdout, ran.stderr);
        let expected: Vec<String> = all
            .iter()
            .map(|j| format!("{} {j}", if *j == deployed { "✓" } else { "–" }))
            .collect();
        assert_eq!(jobs(&ran, &all), expected, "{branch}");
    }
    let ran = run(
        &["deliver", "-f", SEED_003, "--branch", "experiment/x"],
        &[],
    );
    assert_eq!(ran.code, 0);
    assert!(
        ran.stdout.contains(
            "deliver: not run: this push on branch `experiment/x` matches none of its triggers"
        ),
        "{}",
        ran.stdout
    );
}

#[test]
fn seed_003_validates_pull_requests_into_develop() {
    let ran = run(
        &[
            "code-validation",
            "-f",
            SEED_003,
            "--event",
            "pull_request",
            "--branch",
            "feature/login",
            "--base",
            "develop",
        ],
        &[],
    );
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(jobs(&ran, &["validate"]), ["✓ validate"]);
    let ran = run(
        &[
            "code-validation",
            "-f",
            SEED_003,
            "--event",
            "pull_request",
            "--branch",
            "feature/login",
            "--base",
            "experimental",
        ],
        &[],
    );
    assert!(
        ran.stdout
            .contains("target branch `experimental` matches none of develop, main, release/*"),
        "{}",
        ran.stdout
    );
}

#[test]
fn a_failing_step_fails_the_run_and_its_output_is_shown() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("bellwether.yaml");
    std::fs::write(&file, "pipelines:\n  ci:\n    jobs:\n      broken:\n        steps:\n          - run: echo about to fail; exit 3\n      after:\n        needs: broken\n        steps: [{run: echo never}]\n").expect("write");
    let ran = run(&["ci", "-f", &file.display().to_string()], &[]);
    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    assert!(
        ran.stdout.contains("[broken] about to fail"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout
            .contains("step `Run echo about to fail; exit 3` failed: exit code 3"),
        "{}",
        ran.stdout
    );
    assert_eq!(jobs(&ran, &["broken", "after"]), ["✗ broken", "– after"]);
}

#[test]
fn an_invalid_file_is_reported_at_its_line_and_column() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("bellwether.yaml");
    std::fs::write(&file, "pipelines:\n  ci:\n    jobs:\n      a: {needs: b, steps: [{run: x}]}\n      b: {needs: a, steps: [{run: y}]}\n").expect("write");
    let ran = run(&["-f", &file.display().to_string()], &[]);
    assert_eq!(ran.code, 1);
    assert!(
        ran.stderr
            .contains("bellwether.yaml:5:18: needs form a cycle: a -> b -> a"),
        "{}",
        ran.stderr
    );
}
