//! Pipelines started by the control plane (`bellwether up`): signed GitHub-format webhooks,
//! git polling, manual dispatch through the API, and a pipeline's concurrency group across
//! runs. Each test has its own git repository, data directory and ephemeral API port.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{COMMAND, ControlPlane, eventually, git, set_secret};

const SECRET: &str = "s3cret shared with the forge";

/// A git repository in `dir/repo` with `bellwether.yaml` holding `pipelines`, committed on
/// `main`; steps append what they saw to `dir/record.txt`.
fn repo(dir: &Path, pipelines: &str) -> PathBuf {
    let repo = dir.join("repo");
    std::fs::create_dir_all(repo.join("src")).unwrap();
    let record = dir.join("record.txt");
    let yaml = format!(
        "pipelines:\n{}",
        pipelines.replace("RECORD", &record.display().to_string())
    );
    std::fs::write(repo.join("bellwether.yaml"), yaml).unwrap();
    std::fs::write(repo.join(".gitignore"), ".bellwether/\n").unwrap();
    std::fs::write(repo.join("src/version.txt"), "1\n").unwrap();
    git(&repo, &["init", "--quiet", "--initial-branch=main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "--quiet", "-m", "first"]);
    repo
}

fn record(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("record.txt"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The name of the admin token `up` made, after whoever started it.
fn admin_name(plane: &ControlPlane) -> String {
    let listed = plane.run(&["token", "list", "-o", "json"]);
    let tokens: Vec<Value> = serde_json::from_str(&listed.stdout).unwrap();
    let admin = tokens.iter().find(|t| t["role"] == "admin").unwrap();
    admin["name"].as_str().unwrap().to_owned()
}

/// The API over HTTP, for the test's side: the admin token on every request but webhooks,
/// which carry only their signature as GitHub's would.
struct Api {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    base: String,
    token: String,
    /// Numbers the deliveries `webhook` sends, each with an id of its own.
    deliveries: std::cell::Cell<u32>,
}

impl Api {
    fn new(plane: &ControlPlane) -> Api {
        Api {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            client: reqwest::Client::builder().timeout(COMMAND).build().unwrap(),
            base: plane.server.clone(),
            token: plane.token.clone(),
            deliveries: std::cell::Cell::new(0),
        }
    }

    fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .body(body.to_owned());
        if !path.starts_with("/v1/webhooks/") {
            request = request
                .bearer_auth(&self.token)
                .header("content-type", "application/json");
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        self.send(request)
    }

    /// A JSON POST presenting `token`.
    fn post_as(&self, token: &str, path: &str, body: &str) -> (u16, Value) {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_owned());
        self.send(request)
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let request = self.client.get(format!("{}{path}", self.base));
        self.send(request.bearer_auth(&self.token))
    }

    fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        self.runtime.block_on(async {
            let response = request.send().await.expect("the API answers");
            let status = response.status().as_u16();
            let body = response.json::<Value>().await.unwrap_or(Value::Null);
            (status, body)
        })
    }

    /// A delivery of `event` with an id of its own.
    fn webhook(&self, event: &str, body: &str, signature: Option<String>) -> (u16, Value) {
        self.deliveries.set(self.deliveries.get() + 1);
        let id = format!("delivery-{}", self.deliveries.get());
        let mut headers = vec![("x-github-event", event), ("x-github-delivery", &id)];
        if let Some(s) = &signature {
            headers.push(("x-hub-signature-256", s.as_str()));
        }
        self.post("/v1/webhooks/github", &headers, body)
    }

    fn runs(&self) -> Vec<Value> {
        let (status, body) = self.get("/v1/runs");
        assert_eq!(status, 200, "{body}");
        body.as_array().cloned().unwrap_or_default()
    }

    /// Waits for run `number` to reach `status`, failing on any other final one.
    fn wait_run(&self, plane: &ControlPlane, number: u64, status: &str) -> Value {
        let deadline = Instant::now() + COMMAND;
        loop {
            let (_, run) = self.get(&format!("/v1/runs/{number}"));
            let now = run["status"].as_str().unwrap_or_default().to_owned();
            if now == status {
                return run;
            }
            let moving = ["running", "queued", "waiting", ""].contains(&now.as_str());
            assert!(
                moving && Instant::now() < deadline,
                "run {number} is {now}, expected {status}: {run:#}\n{:#?}",
                plane.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Waits for polling's first look at the repository, which only records its branches.
fn first_look(plane: &ControlPlane, repo: &Path) {
    let seen = repo.join(".bellwether/triggers/refs.json");
    eventually(plane, "polling's first look", COMMAND, || {
        seen.exists().then_some(())
    });
}

/// The run of commit `sha`, once there is one.
fn run_of(api: &Api, plane: &ControlPlane, sha: &str) -> u64 {
    eventually(plane, &format!("a run of {sha}"), COMMAND, || {
        let runs = api.runs();
        let run = runs.iter().find(|r| r["sha"] == sha)?;
        run["number"].as_u64()
    })
}

fn sign(body: &str) -> String {
    bellwether_triggers::webhook::sign(SECRET.as_bytes(), body.as_bytes())
}

fn started(body: &Value) -> Vec<(u64, String)> {
    body["runs"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|r| {
            (
                r["number"].as_u64().unwrap(),
                r["pipeline"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

const CI: &str = r#"  ci:
    on:
      push:
        branches: [main]
        paths: ["src/**"]
    jobs:
      build:
        steps:
          - run: echo "${{ github.event_name }} ${{ github.ref_name }} $GITHUB_SHA $(cat src/version.txt) by ${{ github.actor }}" >> RECORD
  release:
    on:
      manual:
        inputs:
          version: { required: true }
          dry: { type: boolean, default: false }
    jobs:
      ship:
        steps:
          - run: echo "release ${{ inputs.version }} dry=${{ inputs.dry }} on ${{ github.ref_name }} by ${{ github.actor }}" >> RECORD
"#;

#[test]
fn signed_webhooks_polling_and_dispatch_start_runs_of_the_right_commit() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo(dir.path(), CI);
    let first = git(&repo, &["rev-parse", "HEAD"]);
    let secret = dir.path().join("webhook-secret");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    let plane = ControlPlane::start_with(
        &repo.join("bellwether.yaml"),
        &[
            "--poll",
            "200ms",
            "--webhook-secret-file",
            secret.to_str().unwrap(),
        ],
    );
    let api = Api::new(&plane);

    // Refused before anything is read: unsigned, wrongly signed, signed with another secret.
    let push = json!({
        "ref": "refs/heads/main",
        "after": first,
        "commits": [{"added": [], "modified": ["src/version.txt"], "removed": []}],
        "pusher": {"name": "forge-user"}
    })
    .to_string();
    let (status, body) = api.webhook("push", &push, None);
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (
            401,
            "the delivery is not signed (expected an X-Hub-Signature-256 header: sha256=<hex HMAC of the body>)"
        )
    );
    let other = bellwether_triggers::webhook::sign(b"not the secret", push.as_bytes());
    assert_eq!(api.webhook("push", &push, Some(other)).0, 401);
    let tampered = push.replace("forge-user", "mallory");
    assert_eq!(api.webhook("push", &tampered, Some(sign(&push))).0, 401);
    // Signed but malformed: 400, naming what is wrong.
    let bad = r#"{"ref": "refs/heads/main", "after": "; rm -rf /"}"#;
    let (status, body) = api.webhook("push", bad, Some(sign(bad)));
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("is not a commit id"),
        "{body}"
    );
    let (status, body) = api.webhook("ping", "{}", Some(sign("{}")));
    assert_eq!(status, 200, "{body}");
    assert!(api.runs().is_empty(), "refused deliveries start nothing");

    // A signed push of the first commit runs `ci` on it, once: its redelivery starts nothing.
    let delivered = [
        ("x-github-event", "push"),
        ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
    ];
    let signature = sign(&push);
    let signed = [
        &delivered[..],
        &[("x-hub-signature-256", signature.as_str())],
    ]
    .concat();
    let (status, body) = api.post("/v1/webhooks/github", &signed, &push);
    assert_eq!(status, 202, "{body}");
    assert_eq!(started(&body), [(1, "ci".to_owned())]);
    let (status, body) = api.post("/v1/webhooks/github", &signed, &push);
    assert_eq!((status, started(&body)), (200, vec![]), "{body}");
    assert!(
        body["ignored"].as_str().unwrap().contains("redelivery"),
        "{body}"
    );
    let run = api.wait_run(&plane, 1, "success");
    assert_eq!(run["sha"], first.as_str());
    assert_eq!(run["actor"], "forge-user");
    // A push of many commits is well over 2 MB and still taken.
    let commits: Vec<Value> = (0..2_000)
        .map(|i| json!({"added": [format!("docs/{i}/{}.md", "x".repeat(1_000))], "modified": [], "removed": []}))
        .collect();
    let big = json!({"ref": "refs/heads/main", "after": first, "commits": commits}).to_string();
    assert!(big.len() > 2 * 1024 * 1024);
    let (status, body) = api.webhook("push", &big, Some(sign(&big)));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["skipped"][0]["pipeline"], "ci", "{body}");
    // A push whose paths the filter ignores starts nothing and says why.
    let docs = push.replace("src/version.txt", "docs/readme.md");
    let (status, body) = api.webhook("push", &docs, Some(sign(&docs)));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["skipped"][0]["reasons"][0],
        "no changed path (docs/readme.md) matches src/**"
    );

    // A commit on main is found by polling (once its first look has recorded the branches)
    // and runs `ci` on that commit.
    first_look(&plane, &repo);
    std::fs::write(repo.join("src/version.txt"), "2\n").unwrap();
    git(&repo, &["commit", "--quiet", "-am", "second"]);
    let second = git(&repo, &["rev-parse", "HEAD"]);
    let polled = run_of(&api, &plane, &second);
    api.wait_run(&plane, polled, "success");

    // Dispatch through the API, with typed inputs; bad inputs and names are 4xx.
    let (status, body) = api.post("/v1/pipelines/release/dispatch", &[], "{}");
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("version"),
        "{body}"
    );
    let (status, _) = api.post("/v1/pipelines/nope/dispatch", &[], "{}");
    assert_eq!(status, 404);
    let (status, body) = api.post(
        "/v1/pipelines/release/dispatch",
        &[],
        r#"{"inputs": {"version": "1.2.3", "dry": true}}"#,
    );
    assert_eq!(status, 202, "{body}");
    let (number, _) = started(&body)[0];
    api.wait_run(&plane, number, "success");
    // The same through the CLI, as the token named `cli`: who dispatches is the token's name.
    let made = plane.run(&["token", "create", "cli", "--role", "deployer"]);
    assert_eq!(made.code, 0, "{made:?}");
    let dispatched = plane.run_as(
        made.stdout.trim(),
        &["dispatch", "release", "--input", "version=2.0"],
    );
    assert_eq!(dispatched.code, 0, "{dispatched:?}");
    let number: u64 = dispatched
        .stdout
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no run number in {dispatched:?}"));
    api.wait_run(&plane, number, "success");
    let refused = plane.run(&["dispatch", "release", "--input", "dry=maybe"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("dry"), "{refused:?}");

    assert_eq!(
        record(dir.path()),
        [
            format!("push main {first} 1 by forge-user"),
            format!("push main {second} 2 by Ada"),
            format!("release 1.2.3 dry=true on main by {}", admin_name(&plane)),
            "release 2.0 dry=false on main by cli".to_owned(),
        ]
    );
    // The same history as local runs: `bellwether runs` lists them.
    let listed = support::bellwether(
        &["runs", "-f", repo.join("bellwether.yaml").to_str().unwrap()],
        &[],
    );
    assert_eq!(listed.code, 0, "{listed:?}");
    for pipeline in ["ci", "release"] {
        assert!(listed.stdout.contains(pipeline), "{listed:?}");
    }
}

/// Two pipelines whose one step logs its start, waits for `RECORD.go` and logs its end:
/// `deploy` queues in its group, `hotfix` cancels the run in progress.
fn held_pipelines() -> String {
    let held = r#"jobs:
      ship:
        steps:
          - run: |
              echo "start $BELLWETHER_RUN" >> RECORD
              for i in $(seq 600); do [ -f "RECORD.go" ] && break; sleep 0.05; done
              echo "end $BELLWETHER_RUN" >> RECORD"#;
    format!(
        r#"  deploy:
    on: {{ manual: {{}} }}
    concurrency: {{ group: "production-${{{{ github.ref_name }}}}" }}
    {held}
  hotfix:
    on: {{ manual: {{}} }}
    concurrency: {{ group: hotfix, cancel-in-progress: true }}
    {held}
"#
    )
}

#[test]
fn a_concurrency_group_queues_one_run_and_a_newer_one_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo(dir.path(), &held_pipelines());
    let plane = ControlPlane::start_with(&repo.join("bellwether.yaml"), &[]);
    let api = Api::new(&plane);
    let dispatch = |pipeline: &str| -> u64 {
        let (status, body) = api.post(&format!("/v1/pipelines/{pipeline}/dispatch"), &[], "{}");
        assert_eq!(status, 202, "{body}");
        started(&body)[0].0
    };
    let started_line = |n: u64| {
        let line = format!("start {n}");
        eventually(&plane, &format!("run {n} starts"), COMMAND, || {
            record(dir.path()).contains(&line).then_some(())
        });
    };

    // Queue: the second waits for the first, and a third takes the second's place.
    let first = dispatch("deploy");
    started_line(first);
    let second = dispatch("deploy");
    api.wait_run(&plane, second, "queued");
    let third = dispatch("deploy");
    let replaced = api.wait_run(&plane, second, "cancelled");
    assert_eq!(replaced["jobs"], json!([]), "a replaced run runs no job");
    api.wait_run(&plane, third, "queued");
    std::fs::write(dir.path().join("record.txt.go"), "").unwrap();
    api.wait_run(&plane, first, "success");
    api.wait_run(&plane, third, "success");
    let lines = record(dir.path());
    assert_eq!(
        lines,
        [
            format!("start {first}"),
            format!("end {first}"),
            format!("start {third}"),
            format!("end {third}"),
        ],
        "one run of the group at a time, the replaced one never"
    );
    std::fs::remove_file(dir.path().join("record.txt.go")).unwrap();
    std::fs::remove_file(dir.path().join("record.txt")).unwrap();

    // Cancel in progress: a newer run stops the one going on.
    let old = dispatch("hotfix");
    started_line(old);
    let new = dispatch("hotfix");
    let cancelled = api.wait_run(&plane, old, "cancelled");
    assert_eq!(cancelled["jobs"][0]["conclusion"], "cancelled");
    started_line(new);
    std::fs::write(dir.path().join("record.txt.go"), "").unwrap();
    api.wait_run(&plane, new, "success");
    assert_eq!(
        record(dir.path()),
        [
            format!("start {old}"),
            format!("start {new}"),
            format!("end {new}"),
        ]
    );
}

#[test]
fn a_schedule_fires_at_the_next_minute_on_the_default_branch() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo(
        dir.path(),
        r#"  nightly:
    on:
      schedule:
        - cron: "* * * * *"
    jobs:
      build:
        steps:
          - run: echo "${{ github.event_name }} ${{ github.ref_name }} $GITHUB_SHA by ${{ github.actor }}" >> RECORD
"#,
    );
    let head = git(&repo, &["rev-parse", "HEAD"]);
    let plane = ControlPlane::start_with(&repo.join("bellwether.yaml"), &[]);
    let api = Api::new(&plane);
    // The first minute boundary after the start fires it: at most a minute away.
    let number = eventually(&plane, "a scheduled run", Duration::from_secs(75), || {
        api.runs().first()?["number"].as_u64()
    });
    api.wait_run(&plane, number, "success");
    assert_eq!(
        record(dir.path())[0],
        format!("schedule main {head} by schedule")
    );
}

#[test]
fn a_remote_repository_is_cloned_and_its_pushes_found_by_polling() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo(dir.path(), CI);
    let origin = dir.path().join("origin.git");
    git(
        dir.path(),
        &[
            "clone",
            "--quiet",
            "--bare",
            repo.to_str().unwrap(),
            origin.to_str().unwrap(),
        ],
    );
    let url = format!("file://{}", origin.display());
    git(&repo, &["remote", "add", "origin", &url]);
    let plane = ControlPlane::start_with(
        &repo.join("bellwether.yaml"),
        &["--repo", &url, "--poll", "200ms"],
    );
    let api = Api::new(&plane);
    // The first look clones the remote and only records its branches.
    first_look(&plane, &repo);
    std::fs::write(repo.join("src/version.txt"), "3\n").unwrap();
    git(&repo, &["commit", "--quiet", "-am", "third"]);
    let pushed = git(&repo, &["rev-parse", "HEAD"]);
    git(&repo, &["push", "--quiet", "origin", "main"]);
    let number = run_of(&api, &plane, &pushed);
    api.wait_run(&plane, number, "success");
    assert_eq!(
        record(dir.path()),
        [format!("push main {pushed} 3 by Ada")],
        "the run checked out the pushed commit from the clone"
    );
}

#[test]
fn a_run_of_a_killed_control_plane_is_interrupted_and_rerun_failed_finishes_it() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo(dir.path(), &held_pipelines());
    let file = repo.join("bellwether.yaml");
    let plane = ControlPlane::start_with(&file, &[]);
    let api = Api::new(&plane);
    let (status, body) = api.post("/v1/pipelines/deploy/dispatch", &[], "{}");
    assert_eq!(status, 202, "{body}");
    let number = started(&body)[0].0;
    eventually(&plane, "the step starts", COMMAND, || {
        record(dir.path())
            .contains(&format!("start {number}"))
            .then_some(())
    });
    plane.kill9();
    // The next command that opens the data directory finds the run's lock free.
    let file = file.to_str().unwrap();
    let shown = support::bellwether(
        &["runs", &number.to_string(), "-f", file, "-o", "json"],
        &[],
    );
    assert_eq!(shown.code, 0, "{shown:?}");
    assert_eq!(support::json(&shown)["status"], "interrupted", "{shown:?}");
    std::fs::write(dir.path().join("record.txt.go"), "").unwrap();
    let rerun = support::bellwether(
        &[
            "rerun",
            &number.to_string(),
            "--failed",
            "--plain",
            "-f",
            file,
        ],
        &[],
    );
    assert_eq!(rerun.code, 0, "{rerun:?}");
    let shown = support::bellwether(
        &["runs", &number.to_string(), "-f", file, "-o", "json"],
        &[],
    );
    assert_eq!(support::json(&shown)["status"], "success", "{shown:?}");
}

const GUARDED: &str = r#"environments:
  production: { approvals: 2, reviewers: [alice, ci, "group:sre"], vars: { REGION: eu-west } }
pipelines:
  release:
    on: { manual: {} }
    jobs:
      ship:
        environment: production
        steps:
          - run: echo "shipped by ${{ github.actor }} to ${{ vars.REGION }}" >> RECORD
"#;

#[test]
fn gates_are_reviewed_by_token_identities_under_the_environment_rules() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo(dir.path(), "");
    let recorded = dir.path().join("record.txt");
    std::fs::write(
        repo.join("bellwether.yaml"),
        GUARDED.replace("RECORD", &recorded.display().to_string()),
    )
    .unwrap();
    git(&repo, &["commit", "--quiet", "-am", "guarded"]);
    let plane = ControlPlane::start(&repo.join("bellwether.yaml"));
    let api = Api::new(&plane);
    let token = |name: &str, role: &str, more: &[&str]| {
        let made = plane.run(&[&["token", "create", name, "--role", role], more].concat());
        assert_eq!(made.code, 0, "{made:?}");
        made.stdout.trim().to_owned()
    };
    let ci = token("ci", "admin", &[]);
    let vera = token("vera", "viewer", &[]);
    let carol = token("carol", "approver", &["--group", "dba"]);
    let alice = token("alice", "approver", &[]);
    // bob reviews as a member of the group the environment names.
    let bob = token("bob", "approver", &["--group", "sre", "--group", "oncall"]);
    let listed = plane.run(&["token", "list"]);
    assert!(
        listed
            .stdout
            .lines()
            .any(|l| l.starts_with("bob\t") && l.ends_with("\tgroups oncall, sre")),
        "{listed:?}"
    );

    let dispatched = plane.run_as(&ci, &["dispatch", "release"]);
    assert_eq!(dispatched.code, 0, "{dispatched:?}");
    api.wait_run(&plane, 1, "waiting");

    let answer = |who: &str, extra: &[(&str, &str)]| {
        let mut env = vec![
            ("BELLWETHER_SERVER", plane.server.as_str()),
            ("BELLWETHER_TOKEN", who),
        ];
        env.extend_from_slice(extra);
        support::bellwether(&["approve", "1", "-m", "ok"], &env)
    };
    let refused = |who: &str, why: &str| {
        let outcome = answer(who, &[]);
        assert_eq!(outcome.code, 1, "{outcome:?}");
        assert!(outcome.stderr.contains(why), "{why}: {outcome:?}");
    };
    refused(&vera, "`vera` is a viewer and may not review gates");
    let made = plane.run(&[
        "token", "create", "zed", "--role", "approver", "--env", "staging",
    ]);
    assert_eq!(made.code, 0, "{made:?}");
    refused(
        made.stdout.trim(),
        "`zed` reviews in staging only: name one of them with --env",
    );
    refused(
        &ci,
        "ci triggered run 1, and environment `production` needs approval from someone else",
    );
    refused(
        &carol,
        "environment `production` is reviewed by alice, ci, group:sre only, not carol",
    );
    // Who approves is the token, whatever the environment claims.
    let approved = answer(&alice, &[("BELLWETHER_USER", "bob"), ("USER", "bob")]);
    assert_eq!(approved.code, 0, "{approved:?}");
    assert_eq!(
        approved.stdout.trim(),
        "alice approved environment `production` of run 1"
    );
    refused(
        &alice,
        "alice has already approved environment `production` of run 1",
    );
    assert_eq!(
        api.wait_run(&plane, 1, "waiting")["status"],
        "waiting",
        "one approval of two"
    );

    let second = answer(&bob, &[]);
    assert_eq!(second.code, 0, "{second:?}");
    api.wait_run(&plane, 1, "success");
    assert_eq!(record(dir.path()), ["shipped by ci to eu-west"]);
    let audit = plane.run(&["audit", "-o", "json"]);
    let reviews: Vec<(String, u64)> = audit
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["entry"]["action"] == "review")
        .map(|e| {
            let e = &e["entry"];
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["status"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, u64)> = [
        ("vera", 403),
        ("zed", 403),
        ("ci", 409),
        ("carol", 409),
        ("alice", 200),
        ("alice", 409),
        ("bob", 200),
    ]
    .into_iter()
    .map(|(a, s)| (a.to_owned(), s))
    .collect();
    assert_eq!(reviews, expected);
}

/// `web` goes to production only; production needs one approval.
fn protected_project(dir: &Path) -> PathBuf {
    let bin = support::BIN;
    let yaml = format!(
        r#"environments:
  production: {{ approvals: 1 }}
services:
  web:
    replicas: 1
    environments: [production]
    run:
      command: ["{bin}", "demo-service"]
    readiness: {{ path: /health, interval: 100ms }}
    strategy:
      canary:
        steps:
          - setWeight: 50
pipelines:
  release:
    on: {{ manual: {{ inputs: {{ version: {{ required: true }} }} }} }}
    jobs:
      ship:
        environment: production
        steps:
          - deploy: {{ service: web, revision: "${{{{ inputs.version }}}}" }}
"#
    );
    let repo = repo(dir, "");
    std::fs::write(repo.join("bellwether.yaml"), yaml).unwrap();
    git(&repo, &["commit", "--quiet", "-am", "protected"]);
    repo.join("bellwether.yaml")
}

#[test]
fn a_protected_environment_takes_deploys_only_from_a_pipeline_job_that_passed_its_gate() {
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(&protected_project(dir.path()));
    let api = Api::new(&plane);
    let deployer = plane.run(&["token", "create", "dee", "--role", "deployer"]);
    let deployer = deployer.stdout.trim();

    // Straight to production, even as admin: refused with what to do instead.
    let direct = plane.run(&["deploy", "web", "--version", "v1"]);
    assert_eq!(direct.code, 1, "{direct:?}");
    assert!(
        direct.stderr.contains("environment `production` is protected (1 approval): deploy to it from a pipeline job with `environment: production`"),
        "{direct:?}"
    );
    let elsewhere = plane.run(&[
        "deploy",
        "web",
        "--version",
        "v1",
        "--environment",
        "staging",
    ]);
    assert_eq!(elsewhere.code, 1);
    assert!(
        elsewhere
            .stderr
            .contains("service `web` is deployed to production, not `staging`"),
        "{elsewhere:?}"
    );

    // Through the pipeline: it waits at the gate, an approver opens it, the step deploys.
    let dispatched = plane.run_as(deployer, &["dispatch", "release", "--input", "version=v1"]);
    assert_eq!(dispatched.code, 0, "{dispatched:?}");
    api.wait_run(&plane, 1, "waiting");
    // A deployer who knows the run cannot ride on its gate, open or not.
    let (status, body) = api.post_as(
        deployer,
        "/v1/services/web/deploy",
        r#"{"version": "v9", "run": 1}"#,
    );
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("only this control plane's pipelines"),
        "{body}"
    );
    let approved = plane.run(&["approve", "1"]);
    assert_eq!(approved.code, 0, "{approved:?}");
    api.wait_run(&plane, 1, "success");
    let view = support::json(&plane.run(&["get", "web", "-o", "json"]));
    assert_eq!(view["stable"]["version"], "v1", "{view:#}");
    let (status, body) = api.post_as(
        deployer,
        "/v1/services/web/deploy",
        r#"{"version": "v9", "run": 1}"#,
    );
    assert_eq!(status, 403, "{body}");

    let audit = plane.run(&["audit", "-o", "json"]);
    let deploys: Vec<(String, String, u64)> = audit
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["entry"]["action"] == "deploy")
        .map(|e| {
            let e = &e["entry"];
            let s = |k: &str| e[k].as_str().unwrap_or("-").to_owned();
            (s("actor"), s("environment"), e["status"].as_u64().unwrap())
        })
        .collect();
    let admin = admin_name(&plane);
    let expected: Vec<(String, String, u64)> = [
        (admin.as_str(), "-", 403),
        (admin.as_str(), "-", 400),
        ("dee", "-", 403),
        ("pipelines", "production", 200),
        ("dee", "-", 403),
    ]
    .into_iter()
    .map(|(a, e, s)| (a.to_owned(), e.to_owned(), s))
    .collect();
    assert_eq!(deploys, expected);
    let production = plane.run(&["audit", "--env", "production"]);
    assert_eq!(production.stdout.lines().count(), 1, "{production:?}");
    assert!(
        production
            .stdout
            .contains("pipelines (deployer) deploy web Done 200"),
        "{production:?}"
    );

    // An undo goes back without a gate, but forward only as a deploy would.
    let dispatched = plane.run_as(deployer, &["dispatch", "release", "--input", "version=v2"]);
    assert_eq!(dispatched.code, 0, "{dispatched:?}");
    api.wait_run(&plane, 2, "waiting");
    assert_eq!(plane.run(&["approve", "2"]).code, 0);
    api.wait_run(&plane, 2, "success");
    let stable = || {
        let view = support::json(&plane.run(&["get", "web", "-o", "json"]));
        view["target"]
            .is_null()
            .then(|| view["stable"]["number"].as_u64())
            .flatten()
    };
    assert_eq!(stable(), Some(2));
    let back = plane.run_as(deployer, &["undo", "web"]);
    assert_eq!(back.code, 0, "{back:?}");
    eventually(&plane, "the undo to revision 1", COMMAND, || {
        (stable() == Some(1)).then_some(())
    });
    let forward = plane.run_as(deployer, &["undo", "web", "--to-revision", "2"]);
    assert_eq!(forward.code, 1, "{forward:?}");
    assert!(
        forward.stderr.contains("undo to revision 2 (newer than the stable revision 1) deploys version v2 into `production`, which is protected (1 approval): deploy it from a pipeline job with `environment: production`"),
        "{forward:?}"
    );
    assert_eq!(stable(), Some(1));
}

#[test]
fn a_version_reaches_an_environment_only_after_its_soak_in_another() {
    let dir = tempfile::tempdir().unwrap();
    let service = |name: &str, env: &str| {
        format!(
            r#"  {name}:
    replicas: 1
    environments: [{env}]
    run:
      command: ["{}", "demo-service"]
    readiness: {{ path: /health, interval: 100ms }}
    strategy: {{ canary: {{ steps: [ {{ setWeight: 50 }} ] }} }}
"#,
            support::BIN
        )
    };
    let yaml = format!(
        r#"environments:
  staging: {{ vars: {{ DEMO_VERSION: staged }} }}
  preprod: {{ requires: {{ soak: {{ environment: staging, for: 1s }} }} }}
  production: {{ requires: {{ soak: {{ environment: staging, for: 1h }} }} }}
services:
{}{}{}"#,
        service("web-staging", "staging"),
        service("web-preprod", "preprod"),
        service("web-prod", "production")
    );
    let file = dir.path().join("bellwether.yaml");
    std::fs::write(&file, yaml).unwrap();
    let plane = ControlPlane::start(&file);
    let deploy = |service: &str| plane.run(&["deploy", service, "--version", "v1"]);

    let early = deploy("web-prod");
    assert_eq!(early.code, 1, "{early:?}");
    assert!(
        early.stderr.contains("version v1 is not the stable version of any service in `staging`, and `production` requires 1h there first"),
        "{early:?}"
    );
    // A token scoped to staging deploys there, and nowhere else.
    let made = plane.run(&[
        "token", "create", "stager", "--role", "deployer", "--env", "staging",
    ]);
    assert_eq!(made.code, 0, "{made:?}");
    let stager = made.stdout.trim();
    let outside = plane.run_as(stager, &["deploy", "web-prod", "--version", "v1"]);
    assert_eq!(outside.code, 1, "{outside:?}");
    assert!(
        outside.stderr.contains(
            "`stager` may act in staging only, and service `web-prod` is deployed to production"
        ),
        "{outside:?}"
    );
    let everywhere = plane.run_as(stager, &["rollback", "--all"]);
    assert_eq!(everywhere.code, 1, "{everywhere:?}");
    assert!(
        everywhere.stderr.contains("may act in staging only"),
        "{everywhere:?}"
    );
    let staged = plane.run_as(stager, &["deploy", "web-staging", "--version", "v1"]);
    assert_eq!(staged.code, 0, "{staged:?}");
    plane.expect_status("web-staging", 0);
    // The environment's variables reach the revisions deployed to it.
    let logs = plane.run(&["logs", "web-staging"]);
    assert!(
        logs.stdout.contains("demo-service staged listening"),
        "{logs:?}"
    );
    let soaking = deploy("web-prod");
    assert_eq!(soaking.code, 1, "{soaking:?}");
    assert!(
        soaking
            .stderr
            .contains("version v1 has been stable in `staging` for")
            && soaking.stderr.contains("of the 1h `production` requires")
            && soaking.stderr.contains("to go)"),
        "{soaking:?}"
    );
    // The short soak ends: the deploy goes through once it has.
    eventually(
        &plane,
        "preprod takes v1 after its 1s soak",
        COMMAND,
        || (deploy("web-preprod").code == 0).then_some(()),
    );
}

#[test]
fn replicas_get_the_secrets_of_the_environment_they_were_deployed_to() {
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("seen.txt");
    let file = dir.path().join("bellwether.yaml");
    std::fs::write(
        &file,
        format!(
            r#"environments:
  staging: {{}}
  production: {{}}
services:
  web:
    replicas: 1
    environments: [staging, production]
    run:
      command: [sh, -c, 'printf "%s\n" "$DB_URL" >> {seen}; env > {seen}.env; exec {bin} demo-service']
      secrets: [DB_URL]
    readiness: {{ path: /health, interval: 100ms }}
    strategy: {{ canary: {{ steps: [{{ setWeight: 50 }}] }} }}
"#,
            seen = seen.display(),
            bin = support::BIN
        ),
    )
    .unwrap();
    set_secret(&file, "DB_URL", None, "project-db-7f3a");
    set_secret(&file, "db_url", Some("production"), "production-db-91c2");
    // What the control plane was started with stays its own.
    let plane = ControlPlane::start_env(
        &file,
        &[],
        &[
            ("BELLWETHER_WEBHOOK_SECRET", "webhook-9d1e"),
            ("CLOUD_TOKEN", "cloud-44aa"),
        ],
    );
    let seen_lines = || -> Vec<String> {
        std::fs::read_to_string(&seen)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let deploy = |version: &str, environment: &str| {
        plane.run(&[
            "deploy",
            "web",
            "--version",
            version,
            "--environment",
            environment,
        ])
    };
    let promoted = |version: &str| {
        eventually(&plane, &format!("{version} promoted"), COMMAND, || {
            let view = support::json(&plane.run(&["get", "web", "-o", "json"]));
            (view["target"].is_null() && view["stable"]["version"] == version).then_some(())
        })
    };

    assert_eq!(deploy("v1", "staging").code, 0);
    promoted("v1");
    assert_eq!(seen_lines(), ["project-db-7f3a"]);
    let env = std::fs::read_to_string(dir.path().join("seen.txt.env")).unwrap();
    assert!(env.lines().any(|l| l.starts_with("PATH=")), "{env}");
    assert!(
        !env.contains("webhook-9d1e") && !env.contains("cloud-44aa"),
        "a replica inherited the control plane's environment: {env}"
    );
    assert_eq!(deploy("v2", "production").code, 0);
    promoted("v2");
    assert_eq!(seen_lines(), ["project-db-7f3a", "production-db-91c2"]);

    // A secret set for no environment the deploy goes to: refused before anything starts.
    let removed = plane.run(&["secret", "rm", "DB_URL", "-f", file.to_str().unwrap()]);
    assert_eq!(removed.code, 0, "{removed:?}");
    let refused = deploy("v3", "staging");
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains("service `web`: secret `DB_URL` is set neither for environment `staging` nor for the project (`bellwether secret set DB_URL [--env staging]` sets it)"),
        "{refused:?}"
    );
    assert_eq!(seen_lines().len(), 2);
    // Only names are stored with a revision, never a value.
    let store: Vec<u8> = ["bellwether.db", "bellwether.db-wal"]
        .iter()
        .flat_map(|f| std::fs::read(dir.path().join(".bellwether").join(f)).unwrap_or_default())
        .collect();
    let store = String::from_utf8_lossy(&store);
    assert!(store.contains("DB_URL"));
    assert!(!store.contains("production-db-91c2") && !store.contains("project-db-7f3a"));
}

#[test]
fn a_fork_pull_request_gets_no_secret_waits_for_approval_and_cannot_reach_the_data() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // Readable by others all the way down, so only the data directory's own mode guards it.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let repo = dir.path().join("repo");
    let data = repo.join(".bellwether");
    let file = repo.join("bellwether.yaml");
    let yaml = format!(
        r#"environments:
  production: {{ approvals: 1 }}
trust: {{ reviewers: [alice] }}
pipelines:
  pr:
    on: {{ pull_request: {{}} }}
    jobs:
      test:
        steps:
          - run: |
              echo "branch ${{{{ github.head_ref }}}}"
              echo "token [${{{{ secrets.TOKEN }}}}]"
              echo "user $(id -un)"
              if cat {data}/secrets/key >/dev/null 2>&1; then echo "read the key"; else echo "no key"; fi
              if echo x >> {file} 2>/dev/null; then echo "wrote the project file"; else echo "project file safe"; fi
      ship:
        needs: test
        environment: production
        steps: [{{ run: echo shipped }}]
  hello:
    on: {{ manual: {{}} }}
    jobs:
      say: {{ steps: [{{ run: echo hello }}] }}
"#,
        data = data.display(),
        file = file.display()
    );
    support::committed_project(&repo, &yaml);
    let base = git(&repo, &["rev-parse", "HEAD"]);
    // The fork's commit changes the pipeline: none of that may run.
    git(&repo, &["checkout", "--quiet", "-b", "fork"]);
    std::fs::write(
        &file,
        yaml.replace(
            "      test:",
            "      pwn:\n        steps: [{ run: echo pwned }]\n      test:",
        ),
    )
    .unwrap();
    git(&repo, &["commit", "--quiet", "-am", "a helpful change"]);
    let head = git(&repo, &["rev-parse", "HEAD"]);
    git(&repo, &["checkout", "--quiet", "main"]);
    set_secret(&file, "TOKEN", None, "tok-5ec2e7");
    // One run at a time: a run waiting for its approval must not hold the project's own back.
    let plane = ControlPlane::start_env(
        &file,
        &["--max-runs", "1"],
        &[("BELLWETHER_WEBHOOK_SECRET", SECRET)],
    );
    let api = Api::new(&plane);
    let alice = plane.run(&["token", "create", "alice", "--role", "approver"]);
    assert_eq!(alice.code, 0, "{alice:?}");
    let alice = alice.stdout.trim().to_owned();

    let side = |git_ref: &str, sha: &str, repo: &str| json!({"ref": git_ref, "sha": sha.trim(), "repo": {"full_name": repo}});
    let pull = json!({
        "action": "opened",
        "pull_request": {
            "head": side("evil$(echo${IFS}INJECTED)", &head, "mallory/app"),
            "base": side("main", &base, "acme/app"),
            "author_association": "NONE"
        },
        "sender": {"login": "mallory"}
    })
    .to_string();
    let (status, body) = api.webhook("pull_request", &pull, Some(sign(&pull)));
    assert_eq!(status, 202, "{body}");
    let number = started(&body)[0].0;
    let root = nix::unistd::Uid::effective().is_root();
    if !root {
        let run = api.wait_run(&plane, number, "failure");
        let shown = plane.run(&["runs", &number.to_string(), "-f", file.to_str().unwrap()]);
        assert!(
            shown
                .stdout
                .contains("switching to another user needs the control plane to run as root"),
            "{run:#} {shown:?}"
        );
        return;
    }
    api.wait_run(&plane, number, "waiting");
    let (status, body) = api.post("/v1/pipelines/hello/dispatch", &[], "{}");
    assert_eq!(status, 202, "{body}");
    api.wait_run(&plane, started(&body)[0].0, "success");
    let file_arg = file.to_str().unwrap();
    let logs = || {
        plane
            .run(&["runs", &number.to_string(), "--logs", "-f", file_arg])
            .stdout
    };
    assert!(
        !logs().contains("branch evil"),
        "a step ran before the approval: {}",
        logs()
    );
    let approved = support::bellwether(
        &["approve", &number.to_string()],
        &[
            ("BELLWETHER_SERVER", plane.server.as_str()),
            ("BELLWETHER_TOKEN", alice.as_str()),
        ],
    );
    assert_eq!(approved.code, 0, "{approved:?}");
    let run = api.wait_run(&plane, number, "failure");
    let said = logs();
    for line in [
        "branch evil$(echo${IFS}INJECTED)",
        "token []",
        "user nobody",
        "no key",
        "project file safe",
    ] {
        assert!(said.contains(line), "`{line}` missing: {said}\n{run:#}");
    }
    assert!(
        !said.contains("evilINJECTED") && !said.contains("pwned"),
        "{said}"
    );
    assert!(
        said.contains("environment `production` is closed to this run"),
        "{said}"
    );
}

#[test]
fn a_workflow_run_pipeline_follows_the_runs_of_another_on_their_commit() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo(
        dir.path(),
        r#"  ci:
    on: workflow_dispatch
    jobs:
      test:
        steps:
          - run: echo "ci $BELLWETHER_RUN" >> RECORD
  broken:
    on: workflow_dispatch
    jobs:
      test: {steps: [{run: "false"}]}
  deploy:
    on:
      workflow_run: {workflows: [ci, broken], types: [completed], branches: [main]}
    jobs:
      deploy:
        if: ${{ github.event.workflow_run.conclusion == 'success' }}
        steps:
          - run: |
              echo "${{ github.event_name }} after ${{ github.event.workflow_run.name }} ${{ github.event.workflow_run.id }} ${{ github.event.workflow_run.conclusion }} on ${{ github.event.workflow_run.head_branch }} at ${{ github.event.workflow_run.head_sha }}: $(cat src/version.txt)" >> RECORD
"#,
    );
    let sha = git(&repo, &["rev-parse", "HEAD"]);
    let plane = ControlPlane::start_with(&repo.join("bellwether.yaml"), &[]);
    let api = Api::new(&plane);
    let dispatch = |pipeline: &str| -> u64 {
        let (status, body) = api.post(&format!("/v1/pipelines/{pipeline}/dispatch"), &[], "{}");
        assert_eq!(status, 202, "{body}");
        started(&body)[0].0
    };
    let follower = |of: u64| -> u64 {
        eventually(
            &plane,
            &format!("the run following run {of}"),
            COMMAND,
            || {
                api.runs().iter().find_map(|r| {
                    let follows = r["pipeline"] == "deploy"
                        && r["summary"]
                            .as_str()
                            .is_some_and(|s| s.contains(&format!("after run {of} of")));
                    follows.then(|| r["number"].as_u64()).flatten()
                })
            },
        )
    };

    let ci = dispatch("ci");
    api.wait_run(&plane, ci, "success");
    let deploy = follower(ci);
    let run = api.wait_run(&plane, deploy, "success");
    assert_eq!(
        run["summary"],
        format!("workflow_run after run {ci} of `ci` (success) on branch `main`"),
        "{run:#}"
    );
    assert_eq!(run["sha"], sha, "{run:#}");
    assert_eq!(
        record(dir.path()),
        [
            format!("ci {ci}"),
            format!("workflow_run after ci {ci} success on main at {sha}: 1"),
        ]
    );

    // A failed run is followed too, and the condition on its conclusion skips the deploy.
    let broken = dispatch("broken");
    api.wait_run(&plane, broken, "failure");
    let skipped = follower(broken);
    let run = api.wait_run(&plane, skipped, "success");
    assert_eq!(run["jobs"][0]["conclusion"], "skipped", "{run:#}");
    assert_eq!(record(dir.path()).len(), 2, "the deploy did not run again");
}

#[test]
fn a_signed_release_runs_the_commit_of_its_tag() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo(
        dir.path(),
        r#"  publish:
    on:
      release: {types: [published]}
    jobs:
      publish:
        steps:
          - run: echo "${{ github.event_name }} ${{ github.event.action }} ${{ github.ref_name }} ${{ github.event.release.tag_name }} $GITHUB_SHA $(cat src/version.txt)" >> RECORD
"#,
    );
    git(&repo, &["tag", "-a", "v1.0.0", "-m", "the first"]);
    let tagged = git(&repo, &["rev-parse", "HEAD"]);
    std::fs::write(repo.join("src/version.txt"), "2\n").unwrap();
    git(&repo, &["commit", "--quiet", "-am", "second"]);
    let secret = dir.path().join("webhook-secret");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    let plane = ControlPlane::start_with(
        &repo.join("bellwether.yaml"),
        &["--webhook-secret-file", secret.to_str().unwrap()],
    );
    let api = Api::new(&plane);
    let release = |tag: &str, action: &str| {
        json!({"action": action, "release": {"tag_name": tag}, "sender": {"login": "ada"}})
            .to_string()
    };

    let body = release("v1.0.0", "published");
    assert_eq!(api.webhook("release", &body, None).0, 401);
    let tampered = body.replace("v1.0.0", "v9");
    assert_eq!(api.webhook("release", &tampered, Some(sign(&body))).0, 401);
    let (status, answer) = api.webhook("release", &body, Some(sign(&body)));
    assert_eq!(status, 202, "{answer}");
    let number = started(&answer)[0].0;
    let run = api.wait_run(&plane, number, "success");
    assert_eq!(run["sha"], tagged, "{run:#}");
    assert_eq!(
        record(dir.path()),
        [format!("release published v1.0.0 v1.0.0 {tagged} 1")]
    );

    // Another activity type, and a tag the repository does not have, start nothing.
    let edited = release("v1.0.0", "edited");
    let (status, answer) = api.webhook("release", &edited, Some(sign(&edited)));
    assert_eq!(status, 200, "{answer}");
    assert!(started(&answer).is_empty(), "{answer}");
    let missing = release("v2.0.0", "published");
    let (status, answer) = api.webhook("release", &missing, Some(sign(&missing)));
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("tag `v2.0.0` is not in"),
        "{answer}"
    );
    assert_eq!(api.runs().len(), 1);
}
