//! GitHub Actions workflow files run as written: the corpus in `examples/workflows/` (the
//! seeds' shapes) validated and run end to end with `bellwether run --workflow` in a fresh git
//! repository, a `pipelines:` entry naming a workflow file, what is refused and where, the
//! setup actions against the host's toolchains, and step summaries, masked.

mod support;

use std::path::{Path, PathBuf};

use support::{Outcome, bellwether, git, set_secret};

/// A copy of `examples/workflows/` as a repository of its own, committed on `main`.
fn corpus() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let repo = dir.path().join("repo");
    copy(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/workflows"),
        &repo,
    );
    commit(&repo);
    (dir, repo)
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn commit(repo: &Path) {
    std::fs::write(repo.join(".gitignore"), ".bellwether/\nnode_modules/\n").unwrap();
    git(repo, &["init", "--quiet", "--initial-branch=main"]);
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "--quiet", "-m", "first"]);
}

/// A repository holding only `.github/workflows/NAME` with `text`; the file's path.
fn workflow_repo(dir: &Path, name: &str, text: &str) -> PathBuf {
    let repo = dir.join("repo");
    let file = repo.join(".github/workflows").join(name);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, text).unwrap();
    commit(&repo);
    file
}

fn run_workflow(file: &Path, extra: &[&str]) -> Outcome {
    let mut args = vec!["run", "--workflow", file.to_str().unwrap()];
    args.extend(extra);
    args.push("--plain");
    bellwether(&args, &[])
}

/// The final tree's line of a job, `✓ images`, or `?` when it is not there.
fn job(out: &Outcome, name: &str) -> String {
    out.stdout
        .lines()
        .rev()
        .filter(|l| l.starts_with("  "))
        .find_map(|l| {
            let (icon, rest) = l.trim().split_once(' ')?;
            let after = rest.trim_start().strip_prefix(name)?;
            (after.is_empty() || after.starts_with("  ")).then(|| format!("{icon} {name}"))
        })
        .unwrap_or_else(|| format!("? {name}"))
}

fn both(out: &Outcome) -> String {
    format!("{}{}", out.stdout, out.stderr)
}

#[test]
fn the_corpus_validates_and_runs_end_to_end() {
    let (_dir, repo) = corpus();
    let workflows = repo.join(".github/workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&workflows)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 3, "{files:?}");
    for file in &files {
        let checked = bellwether(&["validate", file.to_str().unwrap()], &[]);
        assert_eq!(checked.code, 0, "{}", both(&checked));
        assert!(checked.stdout.contains(": valid"), "{}", checked.stdout);
        assert!(
            checked.stdout.contains("; 1 pipeline: "),
            "{}",
            checked.stdout
        );
    }

    let validation = run_workflow(&workflows.join("code-validation.yml"), &[]);
    assert_eq!(validation.code, 0, "{}", both(&validation));
    assert_eq!(job(&validation, "validate"), "✓ validate");
    assert!(
        validation
            .stdout
            .contains("validate: runs-on: ubuntu-latest → this host ("),
        "{}",
        validation.stdout
    );
    assert!(
        validation
            .stdout
            .contains("which satisfies node-version `>=18`")
    );
    assert!(
        validation
            .stdout
            .contains("the workspace is already a checkout")
    );
    assert!(
        validation.stdout.contains("# pass 3"),
        "{}",
        validation.stdout
    );

    let ci = run_workflow(&workflows.join("ci.yml"), &[]);
    assert_eq!(ci.code, 0, "{}", both(&ci));
    let jobs: Vec<String> = ["test (orders)", "test (billing)", "images", "report"]
        .iter()
        .map(|n| job(&ci, n))
        .collect();
    assert_eq!(
        jobs,
        [
            "✓ test (orders)",
            "✓ test (billing)",
            "✓ images",
            "✓ report"
        ]
    );
    let summaries = ci.stdout.split_once("summary of ").map(|(_, s)| s);
    let summaries = summaries.unwrap_or_else(|| panic!("no summaries: {}", ci.stdout));
    assert!(
        summaries.contains("### orders: 2 tests passed"),
        "{summaries}"
    );
    assert!(
        summaries.contains("### billing: 1 tests passed"),
        "{summaries}"
    );
    let sha = git(&repo, &["rev-parse", "HEAD"]);
    assert!(
        summaries.contains(&format!("images tagged `sha-{}`", &sha[..7])),
        "{summaries}"
    );

    // The second run restores the cache the first saved, and skips the install step.
    let again = run_workflow(&workflows.join("ci.yml"), &["images"]);
    assert_eq!(again.code, 0, "{}", both(&again));
    assert!(
        again.stdout.contains("cache hit: restored `tools-orders-"),
        "{}",
        again.stdout
    );
    assert_eq!(job(&again, "images"), "✓ images");
    assert_eq!(
        job(&again, "report"),
        "? report",
        "only `images` and what it needs"
    );

    let deploy = run_workflow(
        &workflows.join("deploy-production.yml"),
        &[
            "--input",
            "skip_tests=true",
            "--input",
            "deployment_strategy=rolling",
        ],
    );
    assert_eq!(deploy.code, 0, "{}", both(&deploy));
    assert_eq!(job(&deploy, "quality"), "– quality");
    assert_eq!(job(&deploy, "deploy"), "✓ deploy");
    assert!(
        deploy.stdout.contains(&format!("| rolling | {sha} |")),
        "{}",
        deploy.stdout
    );

    // `runs N` shows a run's summaries too.
    let runs = bellwether(
        &[
            "runs",
            "2",
            "-f",
            workflows.join("ci.yml").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(runs.code, 0, "{}", both(&runs));
    assert!(
        runs.stdout.contains("summary of test (billing):"),
        "{}",
        runs.stdout
    );
    // And in its JSON, each job's Markdown under its display name.
    let json = bellwether(
        &[
            "runs",
            "2",
            "-o",
            "json",
            "-f",
            workflows.join("ci.yml").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(json.code, 0, "{}", both(&json));
    let detail: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let summaries = detail["step_summaries"].as_array().unwrap();
    let billing = summaries
        .iter()
        .find(|s| s["job"] == "test (billing)")
        .unwrap_or_else(|| panic!("{}", json.stdout));
    assert!(
        billing["markdown"]
            .as_str()
            .unwrap()
            .contains("### billing: 1 tests passed"),
        "{}",
        json.stdout
    );

    // A rerun of a run limited to some jobs (run 3, `images`) is limited to the same jobs.
    let rerun = bellwether(
        &[
            "rerun",
            "3",
            "-f",
            workflows.join("ci.yml").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(rerun.code, 0, "{}", both(&rerun));
    assert_eq!(job(&rerun, "images"), "✓ images");
    assert_eq!(job(&rerun, "report"), "? report", "{}", rerun.stdout);
}

#[test]
fn a_project_file_runs_a_workflow_file_and_validate_points_into_it() {
    let (_dir, repo) = corpus();
    let project = repo.join("bellwether.yaml");
    std::fs::write(
        &project,
        "pipelines:\n  ci:\n    workflow: .github/workflows/code-validation.yml\n",
    )
    .unwrap();
    let ran = bellwether(
        &["run", "ci", "-f", project.to_str().unwrap(), "--plain"],
        &[],
    );
    assert_eq!(ran.code, 0, "{}", both(&ran));
    assert_eq!(job(&ran, "validate"), "✓ validate");

    std::fs::write(
        repo.join(".github/workflows/broken.yml"),
        "on: push\njobs:\n  lint:\n    steps:\n      - uses: actions/setup-node@v4\n        with: {node-versoin: 20}\n",
    )
    .unwrap();
    std::fs::write(
        &project,
        "pipelines:\n  ci: {workflow: .github/workflows/code-validation.yml}\n  lint: {workflow: .github/workflows/broken.yml}\n",
    )
    .unwrap();
    let checked = bellwether(&["validate", project.to_str().unwrap()], &[]);
    assert_eq!(checked.code, 1, "{}", both(&checked));
    let shown = checked.stdout.replace(&repo.display().to_string(), "REPO");
    assert!(
        shown.contains("error: REPO/.github/workflows/broken.yml:6:16: unknown input `node-versoin` of actions/setup-node; did you mean `node-version`?"),
        "{shown}"
    );
    assert!(
        shown.contains("6 |         with: {node-versoin: 20}"),
        "{shown}"
    );
}

#[test]
fn what_runs_elsewhere_is_refused_in_one_pass_with_what_to_write_instead() {
    let dir = tempfile::tempdir().unwrap();
    let file = workflow_repo(
        dir.path(),
        "pasted.yml",
        r#"name: pasted
on: push
permissions: {contents: read}
jobs:
  test:
    runs-on: ubuntu-latest
    container: node:20
    services:
      redis: {image: redis:7}
    steps:
      - uses: actions/checkout@v4
      - uses: aws-actions/configure-aws-credentials@v4
        with: {role-to-assume: arn:aws:iam::1:role/ci}
  release:
    uses: org/shared/.github/workflows/release.yml@v1
    secrets: inherit
"#,
    );
    let checked = bellwether(&["validate", file.to_str().unwrap()], &[]);
    assert_eq!(checked.code, 1, "{}", both(&checked));
    let errors: Vec<&str> = checked
        .stdout
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    let at: Vec<String> = errors
        .iter()
        .map(|l| {
            let rest = l.split_once("pasted.yml:").map_or("", |(_, r)| r);
            rest.split(' ').next().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(
        at,
        ["7:16:", "9:7:", "12:15:", "15:11:"],
        "{}",
        checked.stdout
    );
    assert!(errors[0].contains("`container:`"));
    assert!(errors[1].contains("`services:`") && errors[1].contains("docker run"));
    assert!(
        errors[2].contains("aws-actions/configure-aws-credentials@v4")
            && errors[2].contains("`run:` step")
    );
    assert!(errors[3].contains("reusable workflow of another repository"));
    assert!(
        checked.stdout.contains("invalid: 4 errors"),
        "{}",
        checked.stdout
    );
}

#[test]
fn a_setup_action_the_host_cannot_satisfy_fails_naming_what_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let file = workflow_repo(
        dir.path(),
        "old.yml",
        "on: push\njobs:\n  build:\n    steps:\n      - uses: actions/setup-node@v4\n        with: {node-version: '1.x'}\n      - run: echo never\n",
    );
    let ran = run_workflow(&file, &[]);
    assert_eq!(ran.code, 1, "{}", both(&ran));
    assert_eq!(job(&ran, "build"), "✗ build");
    assert!(
        ran.stdout
            .contains("node-version `1.x` was asked for, but this host's node is ")
            && ran
                .stdout
                .contains("install Node.js (`node`) in a version matching `1.x`"),
        "{}",
        ran.stdout
    );
    assert!(!ran.stdout.contains("[build] never"));
}

#[test]
fn step_summaries_keep_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let file = workflow_repo(
        dir.path(),
        "summary.yml",
        "on: push\njobs:\n  report:\n    steps:\n      - run: echo \"token is ${{ secrets.API_TOKEN }}\" >> \"$GITHUB_STEP_SUMMARY\"\n",
    );
    let token = "s3cr3t-summary-value";
    set_secret(&file, "API_TOKEN", None, token);
    let ran = run_workflow(&file, &[]);
    assert_eq!(ran.code, 0, "{}", both(&ran));
    assert!(
        ran.stdout.contains("summary of report:\n  token is ***"),
        "{}",
        ran.stdout
    );
    assert!(!both(&ran).contains(token));
    let kept = dir
        .path()
        .join("repo/.bellwether/runs/1/logs/report/summary.md");
    let text = std::fs::read_to_string(&kept).unwrap_or_else(|e| panic!("{}: {e}", kept.display()));
    assert_eq!(text, "token is ***\n");
}

#[test]
fn a_workflow_calls_a_reusable_workflow_of_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    let called = workflow_repo(
        dir.path(),
        "test.yml",
        r#"on:
  workflow_call:
    inputs:
      suite: {type: string, required: true}
      shards: {type: number, default: 2}
      strict: {type: boolean, default: false}
    secrets:
      token: {required: true}
    outputs:
      report: {value: "${{ jobs.unit.outputs.report }}"}
env:
  SUITE: ${{ inputs.suite }}
jobs:
  unit:
    outputs: {report: "${{ steps.run.outputs.report }}"}
    steps:
      - id: run
        run: |
          echo "suite $SUITE in ${{ inputs.shards }} shards, strict ${{ inputs.strict }}, more than 2: ${{ inputs.shards > 2 }}"
          echo "token is ${{ secrets.token }}"
          echo "report=report-of-$SUITE" >> "$GITHUB_OUTPUT"
          echo "$SUITE covered" > coverage.txt
      - uses: actions/upload-artifact@v4
        with: {name: "coverage-${{ inputs.suite }}", path: coverage.txt}
  flaky:
    needs: unit
    if: ${{ inputs.strict }}
    steps:
      - run: exit 1
  cleanup:
    needs: [unit, flaky]
    if: always()
    steps:
      - run: echo "cleanup after ${{ needs.unit.result }}, flaky ${{ needs.flaky.result }}"
"#,
    );
    let workflows = called.parent().unwrap();
    std::fs::write(
        workflows.join("ci.yml"),
        r#"on: push
jobs:
  setup:
    outputs: {suite: "${{ steps.pick.outputs.suite }}"}
    steps:
      - id: pick
        run: echo "suite=smoke" >> "$GITHUB_OUTPUT"
  tests:
    needs: setup
    uses: ./.github/workflows/test.yml
    with:
      suite: ${{ needs.setup.outputs.suite }}
      shards: 3
    secrets:
      token: ${{ secrets.API_TOKEN }}
  strict:
    needs: setup
    uses: ./.github/workflows/test.yml
    with: {suite: strict, strict: true}
    secrets: inherit
  never:
    if: ${{ github.ref_name == 'nowhere' }}
    uses: ./.github/workflows/test.yml
    with: {suite: never}
    secrets: inherit
  report:
    needs: tests
    steps:
      - run: echo "got ${{ needs.tests.outputs.report }} from ${{ needs.tests.result }}"
      - uses: actions/download-artifact@v4
        with: {name: coverage-smoke}
      - run: cat coverage.txt
  notify:
    needs: [strict]
    if: failure()
    steps:
      - run: echo "strict ${{ needs.strict.result }}"
"#,
    )
    .unwrap();
    commit(&dir.path().join("repo"));
    let file = workflows.join("ci.yml");
    let token = "s3cr3t-call-token";
    set_secret(&file, "API_TOKEN", None, token);

    let validated = bellwether(&["validate", file.to_str().unwrap()], &[]);
    assert_eq!(validated.code, 0, "{}", both(&validated));

    let ran = run_workflow(&file, &[]);
    assert_eq!(ran.code, 1, "the strict call fails: {}", both(&ran));
    let out = &ran.stdout;
    assert!(
        out.contains("suite smoke in 3 shards, strict false, more than 2: true"),
        "{out}"
    );
    assert!(out.contains("token is ***"), "{out}");
    assert!(!both(&ran).contains(token));
    assert!(out.contains("got report-of-smoke from success"), "{out}");
    assert!(out.contains("[report] smoke covered"), "{out}");
    assert!(
        out.contains("cleanup after success, flaky skipped"),
        "{out}"
    );
    assert!(
        out.contains("cleanup after success, flaky failure"),
        "{out}"
    );
    assert!(out.contains("strict failure"), "{out}");
    assert_eq!(job(&ran, "tests / unit"), "✓ tests / unit");
    assert_eq!(job(&ran, "strict / flaky"), "✗ strict / flaky");
    assert_eq!(job(&ran, "strict"), "✗ strict");
    // A call whose `if` is false skips the whole workflow, `always()` jobs included.
    assert_eq!(job(&ran, "never / cleanup"), "– never / cleanup");
    assert_eq!(job(&ran, "never"), "– never");
}

#[test]
fn calls_are_checked_against_what_the_called_workflow_declares() {
    let dir = tempfile::tempdir().unwrap();
    let called = workflow_repo(
        dir.path(),
        "test.yml",
        "on:\n  workflow_call:\n    inputs:\n      suite: {type: string, required: true}\n      shards: {type: number}\n    secrets:\n      token: {required: true}\njobs:\n  unit: {steps: [{run: \"echo ${{ inputs.suit }}\"}]}\n",
    );
    let workflows = called.parent().unwrap();
    std::fs::write(
        workflows.join("ci.yml"),
        "on: push\njobs:\n  tests:\n    uses: ./.github/workflows/test.yml\n    with: {suites: a, shards: many}\n  plain:\n    uses: ./.github/workflows/ci.yml\n  missing:\n    uses: ./.github/workflows/nope.yml\n  circle:\n    uses: ./.github/workflows/a.yml\n",
    )
    .unwrap();
    for (name, other) in [("a", "b"), ("b", "a")] {
        std::fs::write(
            workflows.join(format!("{name}.yml")),
            format!(
                "on: workflow_call\njobs:\n  next:\n    uses: ./.github/workflows/{other}.yml\n"
            ),
        )
        .unwrap();
    }
    let file = workflows.join("ci.yml");
    let validated = bellwether(&["validate", file.to_str().unwrap()], &[]);
    assert_eq!(validated.code, 1, "{}", both(&validated));
    let all = both(&validated);
    for expected in [
        "gives `suites`, which the workflow does not declare; did you mean `suite`?",
        "does not give input `suite`, which the workflow requires",
        "`with.shards` of job `tests`: `many` is not a number",
        "does not pass secret `token`, which the workflow requires",
        "test.yml",
        "`inputs.suit`",
        "not a reusable workflow (expected `on: workflow_call` in it)",
        "nope.yml",
        "calls itself (./.github/workflows/a.yml → ./.github/workflows/b.yml → ./.github/workflows/a.yml)",
    ] {
        assert!(all.contains(expected), "{expected}: {all}");
    }
}

#[test]
fn upload_artifact_keeps_files_relative_to_the_paths_common_directory_as_github_does() {
    let dir = tempfile::tempdir().unwrap();
    let file = workflow_repo(
        dir.path(),
        "build.yml",
        r#"on: push
jobs:
  build:
    steps:
      - run: mkdir -p dist/app/css && echo js > dist/app/main.js && echo css > dist/app/css/a.css
      - uses: actions/upload-artifact@v4
        with: {name: web, path: dist/}
  ship:
    needs: build
    steps:
      - uses: actions/download-artifact@v4
        with: {name: web, path: site}
      - run: cat site/app/main.js site/app/css/a.css
"#,
    );
    let ran = run_workflow(&file, &[]);
    assert_eq!(ran.code, 0, "{}", both(&ran));
    assert!(
        ran.stdout.contains("[ship] js\n[ship] css"),
        "{}",
        ran.stdout
    );
}
