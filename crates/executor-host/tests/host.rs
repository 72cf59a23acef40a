//! The host executor for real: processes, files, timeouts, caches and artifacts.

mod support;

use std::time::{Duration, Instant};

use bellwether_pipeline_core::run::Conclusion;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_env_and_path_flow_between_steps_and_jobs() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let out = support::run(r#"
pipelines:
  ci:
    jobs:
      build:
        outputs: {notes: "${{ steps.meta.outputs.notes }}", version: "${{ steps.meta.outputs.version }}"}
        steps:
          - id: meta
            run: |
              echo "version=1.2.3" >> "$GITHUB_OUTPUT"
              { echo "notes<<EOF"; echo "line one"; echo "line two"; echo "EOF"; } >> "$BELLWETHER_OUTPUT"
              echo "STAGE=built" >> "$GITHUB_ENV"
              mkdir -p tools && printf '#!/bin/sh\necho tool ran\n' > tools/mytool && chmod +x tools/mytool
              echo "$PWD/tools" >> "$GITHUB_PATH"
          - run: |
              echo "stage=$STAGE"
              mytool
      report:
        needs: build
        steps:
          - run: |
              echo "version ${{ needs.build.outputs.version }}"
              echo "${{ needs.build.outputs.notes }}" | tail -n 1
"#, dir.path(), &[]).await;
    assert_eq!(
        out.conclusion,
        Conclusion::Success,
        "{:?}",
        out.recorder.notes()
    );
    let lines = out.recorder.lines();
    for expected in ["stage=built", "tool ran", "version 1.2.3", "line two"] {
        assert!(
            lines.iter().any(|l| l == expected),
            "{expected} missing from {lines:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_see_a_clean_environment() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let out = support::run(
        r#"
pipelines:
  ci:
    env: {FROM_PIPELINE: yes}
    jobs:
      env:
        steps:
          - run: env | cut -d= -f1 | sort
"#,
        dir.path(),
        &[],
    )
    .await;
    assert_eq!(out.conclusion, Conclusion::Success);
    let allowed = [
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LC_ALL",
        "LC_CTYPE",
        "TZ",
        "TERM",
        "TMPDIR",
        "CI",
        "FROM_PIPELINE",
        "RUNNER_OS",
        "RUNNER_TEMP",
        "PWD",
        "SHLVL",
        "OLDPWD",
        "_",
    ];
    let unexpected: Vec<String> = out
        .recorder
        .lines()
        .into_iter()
        .filter(|name| {
            !allowed.contains(&name.as_str())
                && !name.starts_with("GITHUB_")
                && !name.starts_with("BELLWETHER_")
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "leaked from the caller: {unexpected:?}"
    );
}

/// Whether process `pid` is gone (or a zombie waiting for a reaper that is not us).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

async fn wait_until_gone(pid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if gone(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let pids = dir.path().join("work/pids");
    let started = Instant::now();
    let out = support::run(
        r#"
pipelines:
  ci:
    jobs:
      hang:
        steps:
          - timeout: 1s
            run: |
              sleep 1000 &
              echo $! > pids
              trap '' TERM
              sleep 1000
"#,
        dir.path(),
        &[],
    )
    .await;
    assert_eq!(out.conclusion, Conclusion::Failure);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    let pid: i32 = std::fs::read_to_string(&pids)
        .expect("the pid file")
        .trim()
        .parse()
        .expect("a pid");
    assert!(
        wait_until_gone(pid).await,
        "the background sleep {pid} survived the timeout"
    );
    assert!(
        out.recorder.notes().iter().any(|n| n.contains("timed out")),
        "{:?}",
        out.recorder.notes()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_processes_die_with_their_step() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let started = Instant::now();
    let out = support::run(
        r#"
pipelines:
  ci:
    jobs:
      leak:
        steps:
          - run: |
              sleep 1000 &
              echo $! > pids
              echo started
"#,
        dir.path(),
        &[],
    )
    .await;
    assert_eq!(out.conclusion, Conclusion::Success);
    assert!(started.elapsed() < Duration::from_secs(20));
    let pid: i32 = std::fs::read_to_string(dir.path().join("work/pids"))
        .expect("pid file")
        .trim()
        .parse()
        .expect("a pid");
    assert!(
        wait_until_gone(pid).await,
        "the background sleep {pid} outlived its step"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_retries_and_continue_on_error() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let out = support::run(
        r#"
pipelines:
  ci:
    jobs:
      flaky:
        retry: {max-attempts: 3, on-exit-codes: [75]}
        steps:
          - run: |
              n=$(cat count 2>/dev/null || echo 0); n=$((n + 1)); echo $n > count
              echo "attempt $n"
              [ "$n" -ge 2 ] || exit 75
      tolerated:
        steps:
          - continue-on-error: true
            run: exit 3
          - shell: sh
            run: echo "after a tolerated failure"
          - shell: python
            run: print("python says hi")
"#,
        dir.path(),
        &[],
    )
    .await;
    assert_eq!(
        out.conclusion,
        Conclusion::Success,
        "{:?}",
        out.recorder.notes()
    );
    let lines = out.recorder.lines();
    for expected in ["attempt 1", "attempt 2", "after a tolerated failure"] {
        assert!(
            lines.iter().any(|l| l == expected),
            "{expected} missing from {lines:?}"
        );
    }
    let has_python = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok();
    assert_eq!(lines.iter().any(|l| l == "python says hi"), has_python);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caches_and_artifacts_carry_files_between_jobs_and_runs() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let yaml = r#"
pipelines:
  ci:
    jobs:
      build:
        steps:
          - id: deps
            cache: {key: "deps-${{ hashFiles('lock.txt') }}", paths: [deps]}
          - run: |
              echo "cache hit: ${{ steps.deps.outputs.cache-hit }}"
              [ -f deps/installed ] || { mkdir -p deps; echo once > deps/installed; echo installed; }
              mkdir -p dist && echo "app v1" > dist/app.txt
          - artifacts: {upload: [dist], name: web}
      test:
        needs: build
        steps:
          - run: rm -rf dist
          - artifacts: {download: [web], path: fetched}
          - run: cat fetched/dist/app.txt
"#;
    std::fs::create_dir_all(dir.path().join("work")).expect("mkdir");
    std::fs::write(dir.path().join("work/lock.txt"), "v1").expect("write");
    let first = support::run(yaml, dir.path(), &[]).await;
    assert_eq!(
        first.conclusion,
        Conclusion::Success,
        "{:?}",
        first.recorder.notes()
    );
    let lines = first.recorder.lines();
    assert!(
        lines.contains(&"cache hit: false".to_owned()) && lines.contains(&"installed".to_owned()),
        "{lines:?}"
    );
    assert!(lines.contains(&"app v1".to_owned()), "{lines:?}");
    // A second run in a fresh workspace restores the cache; artifacts are per run.
    std::fs::remove_dir_all(dir.path().join("work/deps")).expect("clean");
    std::fs::remove_dir_all(dir.path().join("data/run")).expect("a new run");
    let second = support::run(yaml, dir.path(), &[]).await;
    assert_eq!(
        second.conclusion,
        Conclusion::Success,
        "{:?}",
        second.recorder.notes()
    );
    let lines = second.recorder.lines();
    assert!(
        lines.contains(&"cache hit: true".to_owned()) && !lines.contains(&"installed".to_owned()),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_steps_are_labelled_stand_ins() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let out = support::run(
        r#"
services:
  api: {run: {command: [./api]}}
pipelines:
  ci:
    jobs:
      ship:
        steps:
          - id: d
            deploy: {service: api, revision: v7}
          - run: echo "deployed ${{ steps.d.outputs.revision }}"
"#,
        dir.path(),
        &[],
    )
    .await;
    assert_eq!(out.conclusion, Conclusion::Success);
    assert!(
        out.recorder
            .lines()
            .iter()
            .any(|l| l.starts_with("STAND-IN: no control plane given")
                && l.contains("no rollout of service `api` to revision `v7`")),
        "{:?}",
        out.recorder.lines()
    );
    assert!(out.recorder.lines().contains(&"deployed v7".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_run_may_not_load_test_nor_deploy() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let out = support::run_untrusted(
        r#"
services:
  api: {run: {command: [./api]}}
pipelines:
  ci:
    jobs:
      perf:
        steps:
          - load: tests/load.yaml
      ship:
        steps:
          - deploy: {service: api}
"#,
        dir.path(),
    )
    .await;
    assert_eq!(out.conclusion, Conclusion::Failure);
    let refused = "a run from an untrusted source cannot deploy, load-test, nor use the shared cache or artifact stores";
    let notes = out.recorder.notes();
    assert_eq!(
        notes.iter().filter(|n| n.contains(refused)).count(),
        2,
        "{notes:#?}"
    );
}
