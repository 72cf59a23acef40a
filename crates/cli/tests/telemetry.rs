//! The control plane's own telemetry, end to end: `bellwether up` scraped at `/metrics` after a
//! canary deploy judged by an analysis and a pipeline run; every query of the Grafana dashboard
//! in `deploy/grafana/` asks for metrics that scrape exports; and its log, as JSON lines and
//! filtered by `RUST_LOG`.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use support::{BIN, COMMAND, ControlPlane};

/// A canary at 25% paused until promoted, with a background analysis that decides at its
/// first measurement (a job that exits 0), and a pipeline to dispatch.
fn project(dir: &Path) -> PathBuf {
    let file = dir.join("bellwether.yaml");
    let yaml = format!(
        r#"services:
  web:
    replicas: 1
    run:
      command: ["{BIN}", "demo-service"]
      env: {{ DEMO_VERSION: v1 }}
    health: /health
    strategy:
      canary:
        steps:
          - setWeight: 25
          - pause: {{}}
    analysis:
      metrics:
        - name: smoke
          provider: {{ job: {{ command: ["true"] }} }}
          interval: 200ms
          count: 1
          failureCondition: result != 0
pipelines:
  build:
    on:
      manual: {{}}
    jobs:
      test:
        steps:
          - run: "true"
"#
    );
    std::fs::write(&file, yaml).unwrap();
    // Runs check out a commit of the project's repository.
    support::git(dir, &["init", "-q", "-b", "main"]);
    support::git(dir, &["add", "bellwether.yaml"]);
    support::git(dir, &["commit", "-q", "-m", "project"]);
    file
}

/// What a viewer's scrape shows once the canary is paused, its analysis has its verdict and
/// the pipeline's run has ended; one control plane for every test that reads it.
fn scraped() -> &'static str {
    static SCRAPED: OnceLock<String> = OnceLock::new();
    SCRAPED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let plane = ControlPlane::start(&project(dir.path()));
        let made = plane.run(&["token", "create", "prometheus", "--role", "viewer"]);
        assert_eq!(made.code, 0, "{made:?}");
        let viewer = made.stdout.trim().to_owned();

        let (status, _, body) = plane.get_as("", "/metrics");
        assert_eq!(status, 401, "{body}");

        assert_eq!(plane.run(&["deploy", "web", "--version", "v1"]).code, 0);
        plane.expect_status("web", 0);
        let deploy = plane.run(&["deploy", "web", "--version", "v2"]);
        assert_eq!(deploy.code, 0, "{deploy:?}");
        plane.expect_status("web", 3);
        let dispatched = plane.run(&["dispatch", "build"]);
        assert_eq!(dispatched.code, 0, "{dispatched:?}");

        // The verdict and the run's end are counted as they happen, not at a scrape: wait for
        // both to be counted.
        scrape_until(
            &plane,
            &viewer,
            &[
                r#"bellwether_analysis_verdicts_total{service="web",verdict="successful"} 1"#,
                r#"bellwether_pipeline_runs_total{pipeline="build",conclusion="success"} 1"#,
            ],
        )
    })
}

/// Scrapes `/metrics` as `token` until it has every one of `lines`; the last scrape.
fn scrape_until(plane: &ControlPlane, token: &str, lines: &[&str]) -> String {
    let deadline = Instant::now() + COMMAND;
    loop {
        let (status, content_type, body) = plane.get_as(token, "/metrics");
        assert_eq!(status, 200, "{body}");
        assert!(content_type.starts_with("application/openmetrics-text"));
        if lines.iter().all(|line| body.lines().any(|l| l == *line)) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "not counted within {COMMAND:?}:\n{body}\n{:#?}",
            plane.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The value of the sample named exactly `series` (name and labels as exported).
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .parse()
        .unwrap()
}

#[test]
fn a_scrape_after_a_canary_shows_its_phase_step_weights_verdicts_runs_store_commits_and_dora() {
    let text = scraped();
    for (series, expected) in [
        (
            r#"bellwether_rollout_phase{service="web",phase="Paused"}"#,
            1.0,
        ),
        (
            r#"bellwether_rollout_phase{service="web",phase="Progressing"}"#,
            0.0,
        ),
        (r#"bellwether_rollout_step{service="web"}"#, 2.0),
        (r#"bellwether_rollout_steps{service="web"}"#, 2.0),
        (
            r#"bellwether_rollout_weight_ratio{service="web",revision="r1",role="stable"}"#,
            0.75,
        ),
        (
            r#"bellwether_rollout_weight_ratio{service="web",revision="r2",role="canary"}"#,
            0.25,
        ),
        (
            r#"bellwether_analysis_measurements_total{service="web",metric="smoke",verdict="successful"}"#,
            1.0,
        ),
        (
            r#"bellwether_pipeline_job_duration_seconds_count{pipeline="build",job="test"}"#,
            1.0,
        ),
        (
            r#"bellwether_pipeline_runs_in_progress{status="queued"}"#,
            0.0,
        ),
        (
            r#"bellwether_pipeline_runs_in_progress{status="running"}"#,
            0.0,
        ),
        // The first deploy was promoted; the canary has not ended.
        (
            r#"bellwether_dora_deployments{service="web",environment=""}"#,
            1.0,
        ),
        (
            r#"bellwether_dora_change_failure_ratio{service="web",environment=""}"#,
            0.0,
        ),
    ] {
        assert_eq!(value(text, series), expected, "{series} in\n{text}");
    }
    // Five rollout events and the finished analysis run were committed, each one timed.
    let commits = value(text, "bellwether_store_commit_duration_seconds_count");
    assert!(commits >= 6.0, "{text}");
    assert_eq!(
        value(
            text,
            r#"bellwether_store_commit_duration_seconds_bucket{le="+Inf"}"#
        ),
        commits
    );
    assert!(value(text, "bellwether_store_commit_duration_seconds_sum") > 0.0);
}

#[test]
fn every_query_of_the_grafana_dashboard_reads_metrics_the_control_plane_exports() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/grafana/bellwether.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let mut queries = Vec::new();
    collect_queries(&dashboard, &mut queries);
    assert!(queries.len() >= 10, "{queries:#?}");

    let exported: BTreeSet<&str> = scraped()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    for query in &queries {
        let names = metric_names(query);
        assert!(!names.is_empty(), "`{query}` reads no bellwether metric");
        for name in names {
            assert!(
                exported.contains(name.as_str()),
                "`{query}` reads {name}, which the control plane does not export: {exported:#?}"
            );
        }
    }
}

/// Every PromQL query in a Grafana dashboard: the panels' `expr`s and the variables' queries.
fn collect_queries(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("expr" | "definition", serde_json::Value::String(q)) => out.push(q.clone()),
                    _ => collect_queries(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_queries(v, out)),
        _ => {}
    }
}

/// The metric names a PromQL query reads: its identifiers that start with `bellwether_`,
/// outside string literals (label values, Grafana variables).
fn metric_names(query: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut chars = query.chars().peekable();
    let mut word = String::new();
    while let Some(c) = chars.next() {
        if c == '"' || c == '\'' {
            while let Some(inner) = chars.next() {
                match inner {
                    '\\' => {
                        chars.next();
                    }
                    _ if inner == c => break,
                    _ => {}
                }
            }
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
            continue;
        }
        if word.starts_with("bellwether_") {
            names.insert(std::mem::take(&mut word));
        }
        word.clear();
    }
    if word.starts_with("bellwether_") {
        names.insert(word);
    }
    names
}

#[test]
fn the_log_is_one_json_object_per_line_with_the_events_fields_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start_with(&project(dir.path()), &["--log-format", "json"]);
    let token = plane.token.clone();
    assert_eq!(plane.run(&["deploy", "web", "--version", "v1"]).code, 0);
    plane.expect_status("web", 0);
    let log = plane.stop();

    let lines: Vec<serde_json::Value> = log
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}\n{log:#?}"));
            assert!(v.is_object() && v["level"].is_string(), "{l}");
            v
        })
        .collect();
    assert!(
        lines.iter().any(|v| v["level"] == "INFO"
            && v["service"] == "web"
            && v["kind"] == "replicas_ready"
            && v["phase"] == "Healthy"
            && v["message"] == "revision 1 (v1) promoted to stable"),
        "{log:#?}"
    );
    assert!(
        lines.iter().any(|v| v["message"] == "shutting down"),
        "{log:#?}"
    );
    assert!(log.iter().all(|l| !l.contains(&token)), "{log:#?}");
}

#[test]
fn rust_log_filters_the_log_by_level_and_target() {
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start_env(
        &project(dir.path()),
        &[],
        &[("RUST_LOG", "warn,bellwether_triggers=info")],
    );
    assert_eq!(plane.run(&["deploy", "web", "--version", "v1"]).code, 0);
    plane.expect_status("web", 0);
    assert_eq!(plane.run(&["dispatch", "build"]).code, 0);
    let token = plane.token.clone();
    scrape_until(
        &plane,
        &token,
        &[r#"bellwether_pipeline_runs_total{pipeline="build",conclusion="success"} 1"#],
    );
    let log = plane.stop();
    // The triggers' lines are let through at `info`; the control plane's events and its
    // `shutting down` (`info` too, from `up`) are not.
    assert!(
        log.iter()
            .any(|l| l.contains(" INFO ") && l.contains("run 1 (build): success")),
        "{log:#?}"
    );
    assert!(
        log.iter()
            .all(|l| !l.contains("kind=") && !l.contains("shutting down")),
        "{log:#?}"
    );
}
