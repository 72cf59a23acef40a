//! `bellwether --server URL runs` reads the control plane's run history through its API and
//! prints it as `bellwether runs` prints the data directory's: the same table, the same
//! `-o json`, the same logs, for the same history of a real `bellwether up` on SQLite, a job
//! kept by `rerun --failed` included. The API refuses a hostile list query with a clear 400,
//! and a CLI without a token is told how to get one.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::{BIN, COMMAND, ControlPlane, Outcome, bellwether, eventually, json, run_pipeline};

/// A matrix job whose legs write a step summary, then a job that fails.
const PROJECT: &str = r#"pipelines:
  build:
    on: { manual: {} }
    jobs:
      compile:
        strategy: { matrix: { os: [linux, mac] } }
        steps:
          - run: echo compiled on ${{ matrix.os }}
          - run: echo '### built on ${{ matrix.os }}' >> "$GITHUB_STEP_SUMMARY"
      check:
        needs: [compile]
        steps:
          - run: echo checking; exit 3
"#;

/// A run's status as the control plane's API tells it, once it has one.
fn status(plane: &ControlPlane, number: u64) -> Option<String> {
    let (code, _, body) = plane.get_as(&plane.token, &format!("/v1/runs/{number}"));
    let run: Value = serde_json::from_str(&body).ok()?;
    (code == 200).then(|| run["status"].as_str().map(str::to_owned))?
}

/// A table with each `12s ago` as `_ ago`: the two forms print a moment apart.
fn timeless(text: &str) -> String {
    text.split_inclusive(' ')
        .map(|word| {
            let number = word.trim_end_matches(|c: char| "smhd ".contains(c));
            let unit = &word[number.len()..];
            if !number.is_empty()
                && number.chars().all(|c| c.is_ascii_digit())
                && ["s ", "m ", "h ", "d "].contains(&unit)
            {
                "_ ".to_owned()
            } else {
                word.to_owned()
            }
        })
        .collect()
}

#[test]
fn runs_through_the_api_print_as_the_data_directory_does() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bellwether.yaml");
    std::fs::write(&file, PROJECT).unwrap();
    let plane = ControlPlane::start(&file);
    for number in [1, 2] {
        assert_eq!(plane.run(&["dispatch", "build"]).code, 0);
        eventually(&plane, "the run fails", COMMAND, || {
            (status(&plane, number)? == "failure").then_some(())
        });
    }
    let file = file.to_str().unwrap();
    let local = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["-f", file]);
        bellwether(&all, &[])
    };
    let remote = |args: &[&str]| plane.run(args);
    let same = |args: &[&str]| -> (Outcome, Outcome) {
        let (here, there) = (local(args), remote(args));
        assert_eq!(here.code, 0, "{args:?} from the data directory: {here:?}");
        assert_eq!(there.code, 0, "{args:?} through the API: {there:?}");
        (here, there)
    };

    let (here, there) = same(&["runs", "-o", "json"]);
    assert_eq!(json(&there), json(&here));
    let numbers: Vec<u64> = json(&there)
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["number"].as_u64())
        .collect();
    assert_eq!(numbers, [2, 1]);
    let (here, there) = same(&["runs"]);
    assert_eq!(timeless(&there.stdout), timeless(&here.stdout));
    assert!(there.stdout.starts_with("RUN "), "{there:?}");

    let (here, there) = same(&["runs", "1", "-o", "yaml"]);
    assert_eq!(there.stdout, here.stdout);
    let run = json(&remote(&["runs", "1", "-o", "json"]));
    assert_eq!(run["jobs"][0]["instances"].as_array().unwrap().len(), 2);
    assert_eq!(run["jobs"][1]["needs"], serde_json::json!(["compile"]));
    let summaries = run["step_summaries"].as_array().unwrap();
    assert!(
        summaries
            .iter()
            .any(|s| s["markdown"].as_str().unwrap().contains("### built on mac")),
        "{run:#}"
    );
    let (here, there) = same(&["runs", "1"]);
    assert_eq!(timeless(&there.stdout), timeless(&here.stdout));
    assert!(
        there.stdout.contains("summary of compile (mac):"),
        "{there:?}"
    );

    let (here, there) = same(&["runs", "1", "--logs"]);
    assert_eq!(there.stdout, here.stdout);
    assert!(there.stdout.contains("compiled on linux"), "{there:?}");
    assert!(there.stdout.contains("checking"), "{there:?}");
    let (here, there) = same(&["runs", "2", "--logs", "--job", "check"]);
    assert_eq!(there.stdout, here.stdout);
    assert!(!there.stdout.contains("compiled"), "{there:?}");

    // The list's query: a pipeline and a limit.
    let newest = json(&remote(&[
        "runs",
        "--pipeline",
        "build",
        "--limit",
        "1",
        "-o",
        "json",
    ]));
    assert_eq!(newest.as_array().unwrap().len(), 1, "{newest:#}");
    assert_eq!(newest[0]["number"], 2, "{newest:#}");
    let none = json(&remote(&["runs", "--pipeline", "deploy", "-o", "json"]));
    assert_eq!(none, serde_json::json!([]));
    let missing = remote(&["runs", "9"]);
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(missing.stderr.contains("error: no run 9"), "{missing:?}");
}

/// A job that succeeds, then one that fails until `fixed` exists.
const FLAKY: &str = r#"pipelines:
  ship:
    on: { manual: {} }
    jobs:
      build:
        steps:
          - run: echo built it
      deploy:
        needs: [build]
        steps:
          - run: test -f FIXED && echo deployed it
"#;

/// A run of `bellwether run` whose second attempt kept its first job, served by `up` on the
/// same data directory: the kept job is shown, and its log read, from the attempt it comes
/// from, through the API as from the directory.
#[test]
fn a_job_kept_from_an_earlier_attempt_reads_the_same_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bellwether.yaml");
    let fixed = dir.path().join("fixed");
    std::fs::write(&file, FLAKY.replace("FIXED", fixed.to_str().unwrap())).unwrap();
    let data = dir.path().join("data");
    assert_eq!(run_pipeline(&file, "ship", &data).code, 1);
    std::fs::write(&fixed, "").unwrap();
    let (file_arg, data_arg) = (file.to_str().unwrap(), data.to_str().unwrap());
    let local_form = ["-f", file_arg, "--data-dir", data_arg];
    let mut rerun = vec!["rerun", "1", "--failed", "--plain"];
    rerun.extend(local_form);
    let again = bellwether(&rerun, &[]);
    assert_eq!(again.code, 0, "{again:?}");
    let plane = ControlPlane::start_with(&file, &["--data-dir", data_arg]);

    for args in [
        &["runs", "1", "-o", "json"][..],
        &["runs", "1", "--logs"],
        &["runs", "1", "--logs", "--job", "build"],
    ] {
        let mut local = args.to_vec();
        local.extend(local_form);
        let (here, there) = (bellwether(&local, &[]), plane.run(args));
        assert_eq!(here.code, 0, "{args:?} from the data directory: {here:?}");
        assert_eq!(there.code, 0, "{args:?} through the API: {there:?}");
        assert_eq!(there.stdout, here.stdout, "{args:?}");
    }
    let run = json(&plane.run(&["runs", "1", "-o", "json"]));
    assert_eq!(run["attempt"], 2, "{run:#}");
    assert_eq!(run["jobs"][0]["reused_from"], 1, "{run:#}");
    assert_eq!(
        run["jobs"][0]["instances"][0]["status"], "success",
        "{run:#}"
    );
    let kept = plane.run(&["runs", "1", "--logs", "--job", "build"]);
    assert!(
        kept.stdout
            .contains("== build · success (attempt 1, kept from run attempt 1)"),
        "{kept:?}"
    );
    assert!(kept.stdout.contains("built it"), "{kept:?}");
    let shown = plane.run(&["runs", "1"]);
    assert!(
        shown
            .stdout
            .contains("✓ build  success: kept from attempt 1"),
        "{shown:?}"
    );
}

#[test]
fn the_list_refuses_a_hostile_query_and_a_missing_token() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bellwether.yaml");
    std::fs::write(&file, PROJECT).unwrap();
    let plane = ControlPlane::start(&file);

    let too_many = plane.run(&["runs", "--limit", "5000"]);
    assert_eq!(too_many.code, 1, "{too_many:?}");
    assert!(
        too_many
            .stderr
            .contains("`limit` is how many runs to list, from 1 to 1000: `5000`"),
        "{too_many:?}"
    );
    for (query, expected) in [
        ("limit=0", "`limit` is how many runs to list"),
        ("limit=ten", "invalid query"),
        ("limit=99999999999", "invalid query"),
        (
            "pipeline=",
            "`pipeline` is the name of one of the project's pipelines",
        ),
        (
            "pipeline=%0a",
            "`pipeline` is the name of one of the project's pipelines",
        ),
        ("path=/etc", "invalid query"),
    ] {
        let (code, _, body) = plane.get_as(&plane.token, &format!("/v1/runs?{query}"));
        assert_eq!(code, 400, "{query}: {body}");
        let error: Value = serde_json::from_str(&body).unwrap();
        assert!(
            error["error"].as_str().unwrap().contains(expected),
            "{query}: {body}"
        );
    }

    // No token anywhere: not in the environment, no saved credentials, no admin token in the
    // directory the command runs in.
    let elsewhere = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(["--server", &plane.server, "runs"])
        .current_dir(elsewhere.path())
        .env_remove("BELLWETHER_TOKEN")
        .env_remove("BELLWETHER_SERVER")
        .env("HOME", elsewhere.path())
        .env("XDG_CONFIG_HOME", elsewhere.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error: not authenticated"), "{stderr}");
    assert!(stderr.contains("set $BELLWETHER_TOKEN"), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(!Path::new(&elsewhere.path().join(".bellwether")).exists());
}
