//! GitHub Actions workflow files: the keys they add, each built-in action's inputs and every
//! refusal, with their exact messages. Each case is a small workflow file (or a
//! `bellwether.yaml` naming one) and what loading it gives.

use std::path::Path;

use bellwether_pipeline_core::spec::StepAction;
use bellwether_pipeline_core::toolchain::Toolchain;
use insta::assert_snapshot;

fn check(source: &str) -> String {
    let source = source.strip_prefix('\n').unwrap_or(source);
    match bellwether_config::load_workflow(".github/workflows/ci.yml", source) {
        Ok(w) if w.warnings.is_empty() => "ok".to_owned(),
        Ok(w) => format!("ok\n{}", w.warnings),
        Err(diagnostics) => diagnostics.to_string(),
    }
}

fn steps(source: &str) -> Vec<StepAction> {
    let source = source.strip_prefix('\n').unwrap_or(source);
    let w = bellwether_config::load_workflow(".github/workflows/ci.yml", source)
        .unwrap_or_else(|d| panic!("{d}"));
    w.pipeline.jobs[0]
        .steps
        .iter()
        .map(|s| s.action.clone())
        .collect()
}

#[test]
fn a_workflow_is_one_pipeline_named_by_its_name_or_file() {
    let source = "name: Build and Test\nrun-name: Deploy by @${{ github.actor }}\non: [push]\npermissions:\n  contents: read\nconcurrency: ci-${{ github.ref }}\nenv: {CI: 'true'}\ndefaults: {run: {shell: bash}}\njobs:\n  test:\n    runs-on: [self-hosted, linux]\n    permissions: {id-token: write}\n    environment: staging\n    steps: [{run: make}]\n  lint:\n    runs-on: ubuntu-latest\n    steps: [{run: make lint}]\n";
    let w = bellwether_config::load_workflow(".github/workflows/ci.yml", source)
        .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(w.pipeline.name, "Build-and-Test");
    assert!(w.warnings.is_empty(), "{}", w.warnings);
    assert_eq!(
        w.runs_on,
        [
            ("test".to_owned(), "self-hosted, linux".to_owned()),
            ("lint".to_owned(), "ubuntu-latest".to_owned())
        ]
    );
    assert_eq!(w.environments, ["staging"]);
    let unnamed = bellwether_config::load_workflow(
        ".github/workflows/release.yml",
        "on: push\njobs: {a: {steps: [{run: 'true'}]}}\n",
    )
    .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(unnamed.pipeline.name, "release");
}

#[test]
fn each_built_in_action_becomes_its_step() {
    let actions = steps(
        r#"
on: push
jobs:
  build:
    strategy: {matrix: {node: [18, 20]}}
    steps:
      - uses: actions/checkout@v4
        with: {fetch-depth: 0, ref: "${{ github.sha }}", submodules: true}
      - uses: actions/setup-node@v4
        with: {node-version: "${{ matrix.node }}", cache: npm}
      - uses: actions/setup-python@v5
        with: {python-version: '3.11'}
      - uses: actions/setup-go@v5
      - uses: actions/setup-java@v4
        with: {distribution: temurin, java-version: 17}
      - id: deps
        uses: actions/cache@v4
        with:
          key: deps-${{ hashFiles('package-lock.json') }}
          path: |
            node_modules
            .cache/tool
          restore-keys: |
            deps-
      - if: steps.deps.outputs.cache-hit != 'true'
        run: npm ci
      - uses: actions/upload-artifact@v4
        with:
          name: dist-${{ matrix.node }}
          path: dist/
          if-no-files-found: error
          retention-days: 5
"#,
    );
    let summary: Vec<String> = actions
        .iter()
        .map(|a| match a {
            StepAction::Checkout => "checkout".to_owned(),
            StepAction::Setup { tool, version } => format!(
                "setup {tool} {}",
                version.as_ref().map_or("(any)", |v| v.source())
            ),
            StepAction::Cache(c) => format!(
                "cache {} {:?} restore {:?}",
                c.key.source(),
                c.paths,
                c.restore_keys
                    .iter()
                    .map(|k| k.source())
                    .collect::<Vec<_>>()
            ),
            StepAction::Upload { name, paths, .. } => format!(
                "upload {} {:?}",
                name.source(),
                paths.iter().map(|p| p.source()).collect::<Vec<_>>()
            ),
            StepAction::Run { .. } => "run".to_owned(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_snapshot!(summary.join("\n"), @r#"
    checkout
    setup node ${{ matrix.node }}
    setup python 3.11
    setup go (any)
    setup java 17
    cache deps-${{ hashFiles('package-lock.json') }} ["node_modules", ".cache/tool"] restore ["deps-"]
    run
    upload dist-${{ matrix.node }} ["dist/"]
    "#);
    assert!(matches!(
        actions[1],
        StepAction::Setup {
            tool: Toolchain::Node,
            ..
        }
    ));
}

#[test]
fn downloads_name_what_needed_jobs_upload() {
    let actions = bellwether_config::load_workflow(
        "ci.yml",
        r#"
on: push
jobs:
  build:
    steps:
      - run: make
      - uses: actions/upload-artifact@v4
        with: {name: dist, path: dist}
  test:
    needs: build
    steps:
      - uses: actions/download-artifact@v4
        with: {name: dist, path: out}
"#,
    )
    .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(
        actions.pipeline.jobs[1].steps[0].action,
        StepAction::Download {
            names: vec!["dist".to_owned()],
            path: Some("out".to_owned())
        }
    );
    assert_snapshot!(check(r#"
on: push
jobs:
  build:
    steps:
      - uses: actions/upload-artifact@v4
        with: {name: dist, path: dist}
  test:
    needs: build
    steps:
      - uses: actions/download-artifact@v4
        with: {name: dsit}
      - uses: actions/download-artifact@v4
"#), @"
    .github/workflows/ci.yml:11:22: no job that `test` needs uploads artifact `dsit`; did you mean `dist`? (expected one of dist)
    .github/workflows/ci.yml:12:15: step `#2` downloads every artifact, and here a download names what it fetches (expected `with: {name: …}`, one step per artifact)
    ");
}

#[test]
fn inputs_each_action_does_not_take_are_refused() {
    assert_snapshot!(check(r#"
on: push
jobs:
  build:
    strategy: {matrix: {os: [a, b]}}
    steps:
      - uses: actions/checkout@v4
        with: {fetch-depht: 1}
      - uses: actions/cache@v4
        with: {path: node_modules}
      - uses: actions/cache@v4
        with: {key: k, path: ~/.npm}
      - uses: actions/setup-node@v4
        with: {node-version-file: .nvmrc}
      - uses: actions/setup-python@v5
        with: {python-versions: '3.11'}
      - uses: actions/upload-artifact@v4
        with: {path: dist, if-no-files-found: fail}
      - uses: actions/upload-artifact@v4
        with: {name: report, path: dist}
      - uses: actions/upload-artifact@v4
      - uses: actions/setup-go@v5
        with: {go-version: [1.21, 1.22]}
"#), @"
    .github/workflows/ci.yml:7:16: unknown input `fetch-depht` of actions/checkout; did you mean `fetch-depth`? (expected one of repository, ref, token, ssh-key, ssh-known-hosts, ssh-strict, ssh-user, persist-credentials, path, clean, filter, sparse-checkout, sparse-checkout-cone-mode, fetch-depth, fetch-tags, show-progress, lfs, submodules, set-safe-directory, github-server-url)
    .github/workflows/ci.yml:8:15: step `#2` uses actions/cache without `key` (expected `with: {key: …}`)
    .github/workflows/ci.yml:13:35: `node-version-file` is not read here (expected the version written in `node-version`, e.g. `node-version: 20`)
    .github/workflows/ci.yml:15:16: unknown input `python-versions` of actions/setup-python; did you mean `python-version`? (expected one of python-version, cache, cache-dependency-path, architecture, check-latest, token, allow-prereleases, update-environment, pip-install)
    .github/workflows/ci.yml:17:47: if-no-files-found `fail` is not one of warn, error, ignore
    .github/workflows/ci.yml:19:22: every leg of job `build`'s matrix uploads artifact `report`, and an artifact is uploaded once per run (expected a name per leg, e.g. `name: report-${{ matrix.os }}`)
    .github/workflows/ci.yml:20:15: step `#8` uses actions/upload-artifact without `path` (expected `with: {path: …}`)
    .github/workflows/ci.yml:22:16: input `go-version` is a list or mapping (expected a string; several lines for several values)
    ");
}

#[test]
fn checkout_of_another_ref_or_repository_is_refused() {
    assert_snapshot!(check(r#"
on: push
jobs:
  build:
    steps:
      - uses: actions/checkout@v4
        with:
          repository: octo/other
          ref: release/v2
          path: sub
      - uses: actions/checkout@v4
        with: {repository: "${{ github.repository }}", ref: "${{ github.head_ref }}", path: .}
      - run: make
"#), @"
    .github/workflows/ci.yml:7:23: step `#1` checks out repository `octo/other`, and the workspace holds this repository only (expected a `run:` step with `git clone`, or `repository` left out)
    .github/workflows/ci.yml:8:16: step `#1` checks out `release/v2`, and the workspace holds the run's commit (expected `ref` left out; to build another commit, `bellwether run --checkout REV`)
    .github/workflows/ci.yml:9:17: step `#1` checks out into `sub`, and the checkout is the workspace itself (expected `path` left out, and paths relative to the workspace)
    ");
}

#[test]
fn other_actions_and_what_runs_elsewhere_are_refused_in_one_pass() {
    assert_snapshot!(check(r#"
name: CI
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    container: node:20
    services:
      postgres:
        image: postgres:16
    steps:
      - uses: docker/build-push-action@v5
      - uses: ./.github/actions/setup
      - uses: actions/github-script@v7
        with: {script: "1"}
      - run: make
        with: {x: 1}
  shared:
    uses: org/repo/.github/workflows/build.yml@v1
    with: {target: x}
    secrets: inherit
  local:
    uses: ./.github/workflows/lint.yml
  plain:
    secrets: {token: x}
    steps: [{run: 'true'}]
"#), @"
    .github/workflows/ci.yml:6:16: job `test` has `container:`, and jobs run on this machine, not in a container (expected it left out, with the tools installed on this host, or a `run:` step that calls `docker run`)
    .github/workflows/ci.yml:8:7: job `test` has `services:`, and jobs run on this machine without service containers (expected the service started by a `run:` step, e.g. `docker run -d -p 5432:5432 postgres:16`, or one already running on this host)
    .github/workflows/ci.yml:11:15: step `#1` uses `docker/build-push-action@v5`, which does not run here (expected what it does as a `run:` step; built in are actions/checkout, actions/cache, actions/upload-artifact, actions/download-artifact and actions/setup-node, -python, -go and -java)
    .github/workflows/ci.yml:12:15: step `#2` uses `./.github/actions/setup`, which does not run here (expected the action's steps written out as `run:` steps in this job)
    .github/workflows/ci.yml:13:15: step `#3` uses `actions/github-script@v7`, which does not run here (expected what it does as a `run:` step; built in are actions/checkout, actions/cache, actions/upload-artifact, actions/download-artifact and actions/setup-node, -python, -go and -java)
    .github/workflows/ci.yml:16:15: step `#4` has `with`, which belongs to `uses` steps (expected `env` for a `run` step)
    .github/workflows/ci.yml:18:11: job `shared` uses `org/repo/.github/workflows/build.yml@v1`, a reusable workflow of another repository, which is not fetched from here (expected its jobs copied into this workflow, or the workflow file added to this repository and called as `uses: ./.github/workflows/FILE.yml`)
    .github/workflows/ci.yml:22:11: job `local` calls `./.github/workflows/lint.yml`: cannot read .github/workflows/lint.yml: files are not read here
    .github/workflows/ci.yml:24:14: job `plain` has `secrets`, which belongs to jobs that call a reusable workflow with `uses` (expected `env` for the job's steps)
    ");
}

#[test]
fn bellwether_yaml_runs_a_workflow_file_and_reports_in_it() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let workflows = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).expect("workflows dir");
    std::fs::write(
        workflows.join("ci.yml"),
        "name: CI\non: {push: {branches: [main]}}\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: make test\n",
    )
    .expect("write");
    std::fs::write(
        workflows.join("bad.yml"),
        "on: push\njobs:\n  test:\n    steps:\n      - uses: actions/stale@v9\n",
    )
    .expect("write");
    let project = dir.path().join("bellwether.yaml");
    let name = project.display().to_string();
    let read = |p: &Path| std::fs::read_to_string(p);
    let loaded = bellwether_config::load_with(
        &name,
        "pipelines:\n  ci: {workflow: .github/workflows/ci.yml}\n",
        &read,
    )
    .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(loaded.pipelines[0].name, "ci");
    assert_eq!(
        loaded.pipelines[0].jobs[0].steps[0].action,
        StepAction::Checkout
    );
    assert_eq!(loaded.pipelines[0].triggers.len(), 1);

    let errors = bellwether_config::load_with(
        &name,
        "pipelines:\n  ci:\n    workflow: .github/workflows/bad.yml\n    on: push\n  gone: {workflow: .github/workflows/missing.yml}\n",
        &read,
    )
    .unwrap_err()
    .to_string()
    .replace(&dir.path().display().to_string(), "DIR");
    assert_snapshot!(errors, @"
    DIR/bellwether.yaml:3:15: pipeline `ci` runs workflow file `.github/workflows/bad.yml` and also has `on` (expected `on` written in the workflow file)
    DIR/bellwether.yaml:5:20: cannot read workflow file DIR/.github/workflows/missing.yml: No such file or directory (os error 2)
    DIR/.github/workflows/bad.yml:5:15: step `#1` uses `actions/stale@v9`, which does not run here (expected what it does as a `run:` step; built in are actions/checkout, actions/cache, actions/upload-artifact, actions/download-artifact and actions/setup-node, -python, -go and -java)
    ");
    let unread =
        bellwether_config::load("bellwether.yaml", "pipelines:\n  ci: {workflow: ci.yml}\n")
            .unwrap_err()
            .to_string();
    assert_snapshot!(unread, @"bellwether.yaml:2:18: cannot read workflow file ci.yml: files are not read here");
}

#[test]
fn a_workflow_file_is_told_from_a_project_file() {
    assert!(bellwether_config::is_workflow("on: push\njobs:\n  a: {}\n"));
    assert!(bellwether_config::is_workflow("jobs: # the jobs\n"));
    assert!(!bellwether_config::is_workflow(
        "pipelines:\n  ci:\n    jobs:\n"
    ));
}

#[test]
fn every_corpus_workflow_loads_without_a_warning() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/workflows/.github/workflows");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("the corpus exists") {
        let path = entry.expect("readable directory").path();
        let source = std::fs::read_to_string(&path).expect("readable workflow");
        assert!(
            bellwether_config::is_workflow(&source),
            "{}",
            path.display()
        );
        let w = bellwether_config::load_workflow(&path.display().to_string(), &source)
            .unwrap_or_else(|d| panic!("{d}"));
        assert!(w.warnings.is_empty(), "{}", w.warnings);
        checked += 1;
    }
    assert!(
        checked >= 3,
        "only {checked} workflows in {}",
        dir.display()
    );
}

#[test]
fn every_unknown_key_of_a_workflow_file_is_reported_at_once() {
    assert_snapshot!(check(r#"
name: CI
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    timeout-minute: 5
    steps:
      - run: make
        workdir: src
  lint:
    step: []
"#), @"
    .github/workflows/ci.yml:6:5: unknown key `timeout-minute`; did you mean `timeout-minutes`? (expected one of name, runs-on, needs, if, env, timeout, timeout-minutes, retry, continue-on-error, strategy, outputs, environment, concurrency, defaults, steps, permissions, services, container, uses, with, secrets)
    .github/workflows/ci.yml:9:9: unknown key `workdir` (expected one of artifacts, cache, check, continue-on-error, deploy, env, id, if, load, name, run, shell, target, timeout, timeout-minutes, uses, verify, with, working-directory)
    .github/workflows/ci.yml:11:5: unknown key `step`; did you mean `steps`? (expected one of concurrency, container, continue-on-error, defaults, env, environment, if, name, needs, outputs, permissions, retry, runs-on, secrets, services, steps, strategy, timeout, timeout-minutes, uses, with)
    ");
}

/// A workflow file read on its own does not know its fellow workflows, so the ones its
/// `workflow_run` follows are taken as written (seed 004's "deploy after CI passes").
#[test]
fn a_workflow_file_may_follow_workflows_it_cannot_see() {
    assert_snapshot!(check(r#"
name: Deploy
on:
  workflow_run: {workflows: [CI], types: [completed], branches: [main]}
jobs:
  deploy:
    if: ${{ github.event.workflow_run.conclusion == 'success' }}
    runs-on: ubuntu-latest
    steps:
      - run: echo deploying ${{ github.event.workflow_run.head_sha }}
"#), @"ok");
}
