//! `bellwether load` as users run it: the real binary against `bellwether demo-service` on an
//! ephemeral loopback port; exit 99 when a threshold fails, k6's JSON lines and summary
//! export, and bad files refused with their line and column.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::{BIN, bellwether, wait_bounded};

/// A demo service that fails every second request, killed when the test ends.
struct Demo {
    child: Child,
    addr: String,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn demo() -> Demo {
    let mut child = Command::new(BIN)
        .arg("demo-service")
        .envs([
            ("PORT", "0"),
            ("DEMO_ERROR_RATE", "0.5"),
            ("DEMO_FAILURES", "even"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines.next().expect("it prints its address").expect("utf-8");
        if let Some((_, addr)) = line.split_once("listening on ") {
            break addr.trim().to_owned();
        }
    };
    Demo { child, addr }
}

/// A load file of 40 requests at 40/s against `addr`, with `thresholds`.
fn load_file(dir: &std::path::Path, addr: &str, thresholds: &str) -> std::path::PathBuf {
    let path = dir.join("load.yaml");
    std::fs::write(
        &path,
        format!(
            "scenarios:
  steady: {{executor: constant-arrival-rate, rate: 40, duration: 1s, preAllocatedVUs: 4}}
requests:
  - name: item
    url: 'http://{addr}/items/{{{{id}}}}'
    csv: ids.csv
    checks: {{status: 200}}
thresholds:
{thresholds}"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("ids.csv"), "id\n1\n2\n3\n").unwrap();
    path
}

#[test]
fn a_failed_threshold_exits_99_and_passing_ones_exit_0() {
    let demo = demo();
    let dir = tempfile::tempdir().unwrap();
    let failing = load_file(
        dir.path(),
        &demo.addr,
        "  http_req_failed: ['rate<0.01']\n  http_reqs: ['count>=40']\n",
    );
    let out = bellwether(&["load", failing.to_str().unwrap()], &[]);
    assert_eq!(out.code, 99, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("   ✗ http_req_failed 'rate<0.01' rate=50.00%"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("   ✓ http_reqs 'count>=40' count=40"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("     ✗ item: status is 200\n      ↳  50% — ✓ 20 / ✗ 20"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains("error: thresholds failed: http_req_failed 'rate<0.01'"),
        "{}",
        out.stderr
    );

    let passing = load_file(dir.path(), &demo.addr, "  http_req_failed: ['rate<=0.5']\n");
    let out = bellwether(&["load", passing.to_str().unwrap()], &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("   ✓ http_req_failed 'rate<=0.5' rate=50.00%"),
        "{}",
        out.stdout
    );
}

#[test]
fn out_json_has_a_line_per_sample_and_the_summary_export_agrees() {
    let demo = demo();
    let dir = tempfile::tempdir().unwrap();
    let file = load_file(
        dir.path(),
        &demo.addr,
        "  'http_req_duration{name:item}': ['p(95)<5000']\n",
    );
    let lines = dir.path().join("samples.jsonl");
    let export = dir.path().join("summary.json");
    let out = bellwether(
        &[
            "load",
            file.to_str().unwrap(),
            &format!("--out=json={}", lines.display()),
            "--summary-export",
            export.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let points: Vec<serde_json::Value> = std::fs::read_to_string(&lines)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .filter(|v: &serde_json::Value| v["type"] == "Point")
        .collect();
    let of = |metric: &str| {
        points
            .iter()
            .filter(|p| p["metric"] == metric)
            .collect::<Vec<_>>()
    };
    assert_eq!(of("http_reqs").len(), 40);
    assert_eq!(of("http_req_duration").len(), 40);
    assert_eq!(of("checks").len(), 40);
    // One row per iteration in turn: over 40 iterations, rows 1, 2, 3 are used 14, 13, 13
    // times (lines come in the order answers do, which may differ).
    let count = |id: u32| {
        of("http_reqs")
            .iter()
            .filter(|p| p["data"]["tags"]["url"] == format!("http://{}/items/{id}", demo.addr))
            .count()
    };
    assert_eq!((count(1), count(2), count(3)), (14, 13, 13));
    let failed: f64 = of("http_req_failed")
        .iter()
        .map(|p| p["data"]["value"].as_f64().unwrap())
        .sum();
    assert_eq!(failed, 20.0);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    let metrics = &summary["metrics"];
    assert_eq!(metrics["http_reqs"]["values"]["count"], 40);
    assert_eq!(metrics["http_req_failed"]["values"]["rate"], 0.5);
    assert_eq!(
        metrics["http_req_duration{name:item}"]["thresholds"]["p(95)<5000"]["ok"],
        true
    );
    assert_eq!(summary["root_group"]["checks"][0]["passes"], 20);
}

#[test]
fn a_bad_file_exits_2_naming_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "scenarios:\n  s: {executor: constant-vus, duration: 1s}\nrequests:\n  - url: http://127.0.0.1:1/\n    sleeep: 1s\n",
    )
    .unwrap();
    let out = bellwether(&["load", file.to_str().unwrap()], &[]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr.trim(),
        format!(
            "error: {}:5:5: unknown key `sleeep` (expected one of name, method, url, headers, body, variants, csv, sleep, timeout, checks)",
            file.display()
        )
    );
    assert_eq!(out.stdout, "", "nothing runs");

    // From standard input, the file is `-`.
    let mut child = Command::new(BIN)
        .args(["load", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"scenarios:\n  s: {executor: constant-vus, duration: 1s}\nrequests: []\nthresholds:\n  http_req_duration: ['p(95)<']\n")
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let status = wait_bounded(&mut child, Duration::from_secs(60)).expect("it ends");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut text).unwrap();
    assert_eq!(status.code(), Some(2));
    assert_eq!(
        text,
        "error: -:3:11: no requests (expected at least one)\nerror: -:5:23: `p(95)<` has no number after `<` (expected e.g. p(95)<200)\n"
    );
}

#[test]
fn load_steps_in_a_pipeline_fail_when_a_threshold_does() {
    let service = support::demo("v1", &[]);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://{}/", service.addrs[0]);
    let test = |threshold: &str| {
        format!(
            "scenarios: {{smoke: {{executor: constant-vus, vus: 2, duration: 300ms}}}}\nrequests: [{{url: \"{url}\"}}]\nthresholds: {{http_reqs: ['{threshold}']}}\n"
        )
    };
    std::fs::create_dir_all(dir.path().join("tests")).unwrap();
    std::fs::write(dir.path().join("tests/ok.yaml"), test("count>10")).unwrap();
    std::fs::write(dir.path().join("tests/heavy.yaml"), test("count>100000000")).unwrap();
    let file = dir.path().join("bellwether.yaml");
    std::fs::write(
        &file,
        r#"
pipelines:
  perf:
    on: {manual: {}}
    jobs:
      smoke:
        steps:
          - id: smoke
            load: tests/ok.yaml
          - run: echo "passed=${{ steps.smoke.outputs.thresholds-passed }}"
      heavy:
        needs: smoke
        steps:
          - load: tests/heavy.yaml
"#,
    )
    .unwrap();
    let ran = support::run_pipeline(&file, "perf", &dir.path().join("data"));
    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains("passed=true"), "{}", ran.stdout);
    assert!(
        ran.stdout
            .contains("thresholds failed: http_reqs 'count>100000000'"),
        "{}",
        ran.stdout
    );
}
