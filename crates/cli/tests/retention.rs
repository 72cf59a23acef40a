//! `server.retention` in a real `bellwether up`: with runs kept 3 s and a sweep every half
//! second (`--retention-every`, the test's knob), old finished runs go with their log files
//! and artifacts, while runs going on and the latest run of each pipeline stay, and the data
//! directory shrinks.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{COMMAND, ControlPlane, eventually};

/// Two pipelines: `hold` waits for the file `GO`; `build` writes a log of about 200 kB (and
/// one of its upload step) and uploads an artifact of its own.
const PROJECT: &str = r#"server:
  retention: {runs: 3s}
pipelines:
  hold:
    on: {manual: {}}
    jobs:
      wait:
        steps:
          - run: while [ ! -f GO_FILE ]; do sleep 0.05; done
  build:
    on: {manual: {}}
    jobs:
      make:
        steps:
          - run: head -c 200000 /dev/zero | tr '\0' x; echo; echo "$GITHUB_RUN_NUMBER" > out.txt
          - artifacts: {upload: [out.txt], name: out}
"#;

/// Every run's number and status, by number.
fn runs(plane: &ControlPlane) -> Vec<(u64, String)> {
    let (status, _, body) = plane.get_as(&plane.token, "/v1/runs");
    assert_eq!(status, 200, "{body}");
    let mut runs: Vec<(u64, String)> = serde_json::from_str::<Vec<Value>>(&body)
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["number"].as_u64().unwrap(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    runs.sort();
    runs
}

/// The bytes of the files under `dir`.
fn size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => size(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

fn count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

#[test]
fn old_finished_runs_go_with_their_files_and_the_latest_and_those_going_on_stay() {
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let file = dir.path().join("bellwether.yaml");
    std::fs::write(&file, PROJECT.replace("GO_FILE", go.to_str().unwrap())).unwrap();
    let data = dir.path().join(".bellwether");
    let plane = ControlPlane::start_with(&file, &["--retention-every", "500ms"]);
    for pipeline in ["hold", "hold", "build", "build", "build"] {
        let dispatched = plane.run(&["dispatch", pipeline]);
        assert_eq!(dispatched.code, 0, "{dispatched:?}");
    }
    let running = |n: u64| (n, "running".to_owned());
    let success = |n: u64| (n, "success".to_owned());
    let all_done = vec![running(1), running(2), success(3), success(4), success(5)];
    eventually(&plane, "the builds succeed", COMMAND, || {
        (runs(&plane) == all_done).then_some(())
    });
    let before = size(&data);
    let objects = data.join("artifacts/objects");
    for n in 3..=5 {
        assert!(
            data.join(format!("runs/{n}/logs")).is_dir(),
            "run {n}'s logs"
        );
    }

    // Runs 3 and 4 are finished and not their pipeline's latest: they go, 3 s on.
    let kept = vec![running(1), running(2), success(5)];
    // A sweep removes the rows first, then the files.
    let dirs_gone = || {
        [3, 4]
            .iter()
            .all(|n| !data.join(format!("runs/{n}")).exists())
    };
    eventually(&plane, "runs 3 and 4 removed", COMMAND, || {
        (runs(&plane) == kept && dirs_gone()).then_some(())
    });
    for n in [3, 4] {
        let (status, _, body) = plane.get_as(&plane.token, &format!("/v1/runs/{n}"));
        assert_eq!(status, 404, "run {n}: {body}");
    }
    for n in [1, 2, 5] {
        assert!(
            data.join(format!("runs/{n}")).is_dir(),
            "run {n}'s directory"
        );
    }
    assert!(data.join("runs/5/logs").is_dir(), "the latest run's logs");
    let shown = plane.run(&["runs", "5", "--data-dir", data.to_str().unwrap()]);
    assert!(shown.stdout.contains(" · success "), "{shown:?}");
    eventually(&plane, "run 3 and 4's artifacts removed", COMMAND, || {
        (count(&objects) == 1).then_some(())
    });
    let after = size(&data);
    assert!(
        after + 300_000 < before,
        "the data directory shrank by two logs of 200 kB: {before} → {after} bytes"
    );

    // Once the held runs end, the older of them goes and the latest stays.
    std::fs::write(&go, "").unwrap();
    eventually(&plane, "run 1 removed once it finished", COMMAND, || {
        (runs(&plane) == [success(2), success(5)]).then_some(())
    });
    // Run 1's own sweep: its step wrote nothing, so no log file.
    let said = "retention: removed 1 run, 0 log files, 0 artifacts (0 stored contents), 0 analysis records; ";
    eventually(
        &plane,
        "the sweep that removed run 1 logged",
        COMMAND,
        || plane.log().iter().any(|l| l.contains(said)).then_some(()),
    );
    let log = plane.stop();
    // Runs 3 and 4 may end on either side of a sweep: what the sweeps removed, summed.
    let removed: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("retention: removed"))
        .collect();
    let total = |field: &str| -> u64 {
        removed
            .iter()
            .filter_map(|l| {
                let value = l.split_once(&format!(" {field}="))?.1;
                value.split_whitespace().next()?.parse::<u64>().ok()
            })
            .sum()
    };
    let totals = ["runs", "log_files", "artifacts", "contents"].map(total);
    assert_eq!(totals, [3, 4, 2, 2], "{log:#?}");
}
