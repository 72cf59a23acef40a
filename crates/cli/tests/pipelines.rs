//! Pipelines across commands and terminals: `secret`, `run`, `runs`, `approve`, `reject`,
//! `rerun`, each a real `bellwether` process sharing one data directory, the way people use
//! them. Every wait is bounded.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Longest any one command or wait may take.
const LIMIT: Duration = Duration::from_secs(60);

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(yaml: &str) -> Project {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::create_dir_all(dir.path().join("project")).expect("mkdir");
        std::fs::write(dir.path().join("project/bellwether.yaml"), yaml).expect("write");
        Project { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn command(&self, user: &str, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_bellwether"));
        c.args(args)
            .arg("-f")
            .arg(self.path("project/bellwether.yaml"))
            .arg("--data-dir")
            .arg(self.path("data"))
            .env("BELLWETHER_USER", user)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Runs `bellwether ARGS` as `user` to its end.
    fn bw(&self, user: &str, args: &[&str]) -> Ran {
        self.bw_with_input(user, args, None)
    }

    fn bw_with_input(&self, user: &str, args: &[&str], stdin: Option<&str>) -> Ran {
        let mut command = self.command(user, args);
        if stdin.is_some() {
            command.stdin(Stdio::piped());
        }
        let mut child = command.spawn().expect("bellwether starts");
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes()).expect("stdin");
        }
        finish(child)
    }

    /// Starts `bellwether ARGS` as `user` in the background.
    fn spawn(&self, user: &str, args: &[&str]) -> Background {
        Background(Some(
            self.command(user, args).spawn().expect("bellwether starts"),
        ))
    }

    fn run_json(&self, number: u64) -> serde_json::Value {
        let ran = self.bw("tester", &["runs", &number.to_string(), "-o", "json"]);
        assert_eq!(ran.code, 0, "{}", ran.all());
        serde_json::from_str(&ran.stdout).expect("json")
    }

    /// Waits until run `number`'s record satisfies `ok`.
    fn wait_for(&self, number: u64, what: &str, ok: impl Fn(&serde_json::Value) -> bool) {
        let deadline = Instant::now() + LIMIT;
        loop {
            let ran = self.bw("tester", &["runs", &number.to_string(), "-o", "json"]);
            if let Ok(run) = serde_json::from_str::<serde_json::Value>(&ran.stdout)
                && ok(&run)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "run {number} never got {what}: {}",
                ran.all()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Waits for `child` to end, at most [`LIMIT`].
fn finish(mut child: Child) -> Ran {
    let deadline = Instant::now() + LIMIT;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "bellwether took longer than {LIMIT:?}:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out: Output = child.wait_with_output().expect("output");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A background `bellwether`, killed if the test ends first.
struct Background(Option<Child>);

impl Background {
    fn finish(mut self) -> Ran {
        finish(self.0.take().expect("a child"))
    }

    fn kill(mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn job<'a>(run: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    run["jobs"]
        .as_array()
        .and_then(|jobs| jobs.iter().find(|j| j["job"] == id))
        .unwrap_or(&serde_json::Value::Null)
}

fn files_under(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                stack.push(entry.path());
            } else if let Ok(bytes) = std::fs::read(entry.path()) {
                out.extend(bytes);
            }
        }
    }
    out
}

#[test]
fn secrets_come_from_the_encrypted_store_and_never_show() {
    let p = Project::new(
        r#"
pipelines:
  ci:
    jobs:
      leak:
        env: {TOKEN: "${{ secrets.deploy_token }}", KEY: "${{ secrets.SIGNING_KEY }}"}
        outputs: {copy: "${{ steps.o.outputs.copy }}"}
        steps:
          - run: |
              echo "raw $TOKEN"
              printf 'user:%s' "$TOKEN" | base64
              printf '%s' "$TOKEN" | base64
              python3 -c 'import os, urllib.parse; print("url", urllib.parse.quote(os.environ["TOKEN"], safe=""))'
              echo "$KEY"
          - id: o
            run: echo "copy=$TOKEN" >> "$BELLWETHER_OUTPUT"
      other:
        steps:
          - run: echo "other sees [${TOKEN:-nothing}]"
"#,
    );
    let token = "p@ss w/rd+s3cr3t&more";
    let key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEF\n-----END KEY-----";
    let set = p.bw_with_input("tester", &["secret", "set", "DEPLOY_TOKEN"], Some(token));
    assert_eq!(set.code, 0, "{}", set.all());
    assert!(
        set.stdout.starts_with("secret DEPLOY_TOKEN set"),
        "{}",
        set.stdout
    );
    let set = p.bw_with_input(
        "tester",
        &["secret", "set", "signing_key"],
        Some(&format!("{key}\n")),
    );
    assert_eq!(set.code, 0, "{}", set.all());
    let bad = p.bw_with_input("tester", &["secret", "set", "NOPE-1"], Some("x"));
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("`NOPE-1` is not a valid secret name"),
        "{}",
        bad.stderr
    );

    let listed = p.bw("tester", &["secret", "list"]);
    assert_eq!(listed.code, 0, "{}", listed.all());
    assert!(listed.stdout.contains("DEPLOY_TOKEN") && listed.stdout.contains("SIGNING_KEY"));
    assert!(!listed.stdout.contains("s3cr3t"), "{}", listed.stdout);
    let mode = std::fs::metadata(p.path("data/secrets/key"))
        .map(|m| m.permissions().mode() & 0o777)
        .ok();
    assert_eq!(mode, Some(0o600));

    let ran = p.bw("tester", &["run", "ci", "--plain"]);
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(ran.stdout.contains("[leak] raw ***"), "{}", ran.stdout);
    assert!(ran.stdout.contains("[leak] url ***"), "{}", ran.stdout);
    assert!(
        ran.stdout.contains("[other] other sees [nothing]"),
        "{}",
        ran.stdout
    );
    let logs = p.bw("tester", &["runs", "1", "--logs"]);
    assert_eq!(logs.code, 0, "{}", logs.all());
    assert!(logs.stdout.contains("raw ***"), "{}", logs.stdout);
    let run = p.run_json(1);
    assert_eq!(job(&run, "leak")["outputs"]["copy"], "***");

    // Nowhere: not printed, not in the logs, the history or the store of secrets.
    let encoded = |s: &str| {
        let mut forms = vec![
            s.to_owned(),
            "s3cr3t".to_owned(),
            "MIIEvQIBADANBgkqhkiG9w0BAQEF".to_owned(),
        ];
        forms.push(s.replace(' ', "%20").replace('@', "%40"));
        forms
    };
    let everything = [
        ran.stdout.as_bytes().to_vec(),
        logs.stdout.as_bytes().to_vec(),
        files_under(&p.path("data")),
    ]
    .concat();
    let everything = String::from_utf8_lossy(&everything);
    for form in encoded(token) {
        assert!(!everything.contains(&form), "{form} leaked");
    }
    assert!(
        !everything.contains("cEBzcyB3L3Jk"),
        "the base64 form leaked"
    );

    assert_eq!(p.bw("tester", &["secret", "rm", "deploy_token"]).code, 0);
    let gone = p.bw("tester", &["secret", "rm", "deploy_token"]);
    assert_eq!(gone.code, 1);
    assert!(
        gone.stderr.contains("no secret DEPLOY_TOKEN"),
        "{}",
        gone.stderr
    );
    let ran = p.bw("tester", &["run", "ci", "--plain"]);
    assert!(
        ran.stderr.contains(
            "secret `DEPLOY_TOKEN` is not set (`bellwether secret set DEPLOY_TOKEN` sets it)"
        ),
        "{}",
        ran.stderr
    );
}

#[test]
fn workflow_commands_mask_group_and_annotate_as_on_github() {
    let p = Project::new(
        r#"
pipelines:
  ci:
    jobs:
      build:
        steps:
          - run: |
              echo "::group::Build"
              value=$(echo token-made-at-run-time | rev)
              echo "$value" > made
              echo "before the mask: ok"
              echo "::add-mask::$value"
              echo "value is $value"
              echo "::error file=app.js,line=3,title=Lint::broken%0Aon two lines"
              echo "::debug::not shown"
              echo "::endgroup::"
          - run: |
              echo "::stop-commands::pause"
              echo "::warning::printed as it is"
              echo "::pause::"
              echo "::warning::read again"
              echo "the next step still masks $(cat made)"
"#,
    );
    let value = "emit-nur-ta-edam-nekot";
    let ran = p.bw("tester", &["run", "ci", "--plain"]);
    assert_eq!(ran.code, 0, "{}", ran.all());
    for shown in [
        "[build] ▸ Build",
        "[build] value is ***",
        "[build] error: app.js:3: Lint: broken",
        "[build] on two lines",
        "[build] ::warning::printed as it is",
        "[build] warning: read again",
        "[build] the next step still masks ***",
    ] {
        assert!(ran.stdout.contains(shown), "{shown}: {}", ran.stdout);
    }
    // The step's title is its script's first line; what the step printed is hidden.
    let printed: Vec<&str> = ran
        .stdout
        .lines()
        .filter(|l| l.starts_with("[build]"))
        .collect();
    for hidden in [
        "::add-mask",
        "::group",
        "::endgroup",
        "not shown",
        "::pause",
        "stop-commands",
    ] {
        assert!(
            !printed.iter().any(|l| l.contains(hidden)),
            "{hidden}: {printed:#?}"
        );
    }
    let logs = p.bw("tester", &["runs", "1", "--logs"]);
    assert!(logs.stdout.contains("value is ***"), "{}", logs.stdout);
    let everything = [
        ran.stdout.as_bytes().to_vec(),
        logs.stdout.as_bytes().to_vec(),
        files_under(&p.path("data")),
    ]
    .concat();
    assert!(
        !String::from_utf8_lossy(&everything).contains(value),
        "the masked value leaked"
    );
}

#[test]
fn a_script_never_holds_a_secret_and_only_its_owner_may_read_it() {
    let p = Project::new("");
    let out = p.path("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let o = out.display();
    std::fs::write(
        p.path("project/bellwether.yaml"),
        format!(
            r#"
pipelines:
  ci:
    jobs:
      login:
        steps:
          - run: |
              echo "logging in with ${{{{ secrets.TOKEN }}}}"
              cp "$0" {o}/script
              stat -c %a "$0" > {o}/mode
"#
        ),
    )
    .expect("write");
    let token = "hunter2-s3cr3t";
    let set = p.bw_with_input("tester", &["secret", "set", "TOKEN"], Some(token));
    assert_eq!(set.code, 0, "{}", set.all());
    let ran = p.bw("tester", &["run", "ci", "--plain"]);
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(
        ran.stdout.contains("[login] logging in with ***"),
        "{}",
        ran.stdout
    );
    let script = std::fs::read_to_string(out.join("script")).expect("the step copied it");
    assert!(!script.contains(token), "{script}");
    assert!(script.contains("${BELLWETHER_SECRET_0}"), "{script}");
    assert_eq!(
        std::fs::read_to_string(out.join("mode")).ok().as_deref(),
        Some("600\n")
    );
    let mode = |path: &Path| {
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .ok()
    };
    assert_eq!(mode(&p.path("data")), Some(0o700));
    assert_eq!(
        std::fs::read_to_string(p.path("data/.gitignore"))
            .ok()
            .and_then(|t| t.lines().last().map(str::to_owned)),
        Some("*".to_owned()),
        "git leaves the data directory out"
    );
}

#[test]
fn environment_secrets_reach_only_the_jobs_of_their_environment() {
    let p = Project::new(
        r#"
environments:
  staging: {}
  production: {}
pipelines:
  ci:
    jobs:
      build:
        env: {DB: "${{ secrets.DB }}"}
        steps: [{run: 'echo "build: $DB ${#DB}"'}]
      staging:
        environment: staging
        env: {DB: "${{ secrets.DB }}"}
        steps: [{run: 'echo "staging: $DB ${#DB}"'}]
      production:
        environment: production
        env: {DB: "${{ secrets.DB }}"}
        steps: [{run: 'echo "production: $DB ${#DB}"'}]
"#,
    );
    let set = |args: &[&str], value: &str| p.bw_with_input("tester", args, Some(value));
    assert_eq!(set(&["secret", "set", "DB"], "project").code, 0);
    let scoped = set(
        &["secret", "set", "db", "--env", "production"],
        "production-db-value",
    );
    assert_eq!(scoped.code, 0, "{}", scoped.all());
    assert!(
        scoped
            .stdout
            .starts_with("secret DB set for environment production"),
        "{}",
        scoped.stdout
    );
    let undeclared = set(&["secret", "set", "DB", "--env", "prod"], "x");
    assert_eq!(undeclared.code, 1);
    assert!(
        undeclared
            .stderr
            .contains("does not declare environment `prod` (expected one of production, staging)"),
        "{}",
        undeclared.stderr
    );

    let listed = p.bw("tester", &["secret", "list"]);
    let rows: Vec<Vec<&str>> = listed
        .stdout
        .lines()
        .map(|l| l.split_whitespace().take(2).collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec!["NAME", "ENVIRONMENT"],
            vec!["DB", "(all)"],
            vec!["DB", "production"]
        ],
        "{}",
        listed.stdout
    );

    let ran = p.bw("tester", &["run", "ci", "--plain"]);
    assert_eq!(ran.code, 0, "{}", ran.all());
    for line in [
        "[build] build: *** 7",
        "[staging] staging: *** 7",
        "[production] production: *** 19",
    ] {
        assert!(ran.stdout.contains(line), "{line}: {}", ran.stdout);
    }
    let everything = String::from_utf8_lossy(&files_under(&p.path("data"))).into_owned();
    assert!(!everything.contains("production-db-value"));

    assert_eq!(
        p.bw("tester", &["secret", "rm", "DB", "--env", "production"])
            .code,
        0
    );
    let ran = p.bw("tester", &["run", "ci", "--plain"]);
    assert!(
        ran.stdout.contains("[production] production: *** 7"),
        "{}",
        ran.stdout
    );
}

const GATED: &str = r#"
environments:
  production: {approvals: 2}
  timed: {wait: 1s}
pipelines:
  release:
    jobs:
      build:
        steps: [{run: echo built}]
      ship:
        needs: build
        environment: production
        steps: [{run: echo shipped}]
      rollback:
        needs: ship
        if: failure()
        steps: [{run: echo rolling back}]
      later:
        needs: ship
        environment: timed
        steps: [{run: echo after the timer}]
"#;

fn gate_waits(run: &serde_json::Value) -> bool {
    run["status"] == "waiting"
        && run["gates"]
            .as_array()
            .is_some_and(|g| g.iter().any(|g| g["state"] == "waiting"))
}

#[test]
fn a_run_waits_for_approvals_given_from_other_terminals() {
    let p = Project::new(GATED);
    let run = p.spawn("alice", &["run", "release", "--plain"]);
    p.wait_for(1, "a waiting gate", gate_waits);

    let own = p.bw("alice", &["approve", "1"]);
    assert_eq!(own.code, 1);
    assert!(
        own.stderr.contains(
            "alice triggered run 1, and environment `production` needs approval from someone else"
        ),
        "{}",
        own.stderr
    );
    let wrong = p.bw("bob", &["approve", "1", "--env", "staging"]);
    assert_eq!(wrong.code, 1);
    assert!(
        wrong
            .stderr
            .contains("is not waiting for environment `staging` (it waits for: production)"),
        "{}",
        wrong.stderr
    );
    let bob = p.bw(
        "bob",
        &["approve", "1", "--env", "production", "-m", "looks good"],
    );
    assert_eq!(bob.code, 0, "{}", bob.all());
    assert_eq!(
        bob.stdout.trim(),
        "bob approved environment `production` of run 1 (as the local user: no control plane given)"
    );
    let twice = p.bw("bob", &["approve", "1"]);
    assert_eq!(twice.code, 1);
    assert!(
        twice
            .stderr
            .contains("bob has already approved environment `production` of run 1")
    );
    assert_eq!(p.bw("carol", &["approve", "1"]).code, 0);

    let ran = run.finish();
    assert_eq!(ran.code, 0, "{}", ran.all());
    for line in [
        "waiting for environment `production`: 2 approvals (not by alice, who triggered the run); answer with `bellwether approve 1 --env production`",
        "bob approved environment `production`: \"looks good\"",
        "environment `production`: approved by bob (\"looks good\"), carol",
        "waiting for environment `timed`: a 1s wait timer",
        "environment `timed`: its 1s wait timer is over",
        "[later] after the timer",
    ] {
        assert!(ran.stdout.contains(line), "{line}\n{}", ran.stdout);
    }
    let record = p.run_json(1);
    assert_eq!(record["status"], "success");
    let reviews: Vec<(String, bool)> = record["reviews"]
        .as_array()
        .expect("reviews")
        .iter()
        .map(|r| {
            (
                r["by"].as_str().unwrap_or("").to_owned(),
                r["approved"] == true,
            )
        })
        .collect();
    assert_eq!(
        reviews,
        [("bob".to_owned(), true), ("carol".to_owned(), true)]
    );
    assert_eq!(job(&record, "rollback")["conclusion"], "skipped");

    // A rejection fails the job at once, and the rollback runs.
    let run = p.spawn("alice", &["run", "release", "--plain"]);
    p.wait_for(2, "a waiting gate", gate_waits);
    let no = p.bw("dave", &["reject", "2", "--comment", "not on a Friday"]);
    assert_eq!(no.code, 0, "{}", no.all());
    let ran = run.finish();
    assert_eq!(ran.code, 1, "{}", ran.all());
    assert!(
        ran.stdout
            .contains("environment `production`: rejected by dave (\"not on a Friday\")"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("[rollback] rolling back"),
        "{}",
        ran.stdout
    );
    let late = p.bw("erin", &["approve", "2"]);
    assert_eq!(late.code, 1);
    assert!(
        late.stderr
            .contains("run 2 (failure) is not waiting for any environment"),
        "{}",
        late.stderr
    );
}

#[test]
fn a_killed_run_is_interrupted_and_rerun_failed_finishes_it() {
    let p = Project::new("");
    let marks = p.path("marks");
    std::fs::create_dir_all(&marks).expect("mkdir");
    std::fs::write(marks.join("hang"), "").expect("write");
    let m = marks.display();
    let yaml = format!(
        r#"
pipelines:
  ci:
    jobs:
      build:
        outputs: {{version: "${{{{ steps.v.outputs.version }}}}"}}
        steps:
          - run: echo build >> {m}/builds
          - id: v
            run: echo "version=1.$(wc -l < {m}/builds)" >> "$BELLWETHER_OUTPUT"
          - run: mkdir -p dist && echo binary > dist/app
          - artifacts: {{upload: [dist]}}
      slow:
        needs: build
        steps:
          - run: |
              echo $$ > {m}/slow.pid
              if [ -f {m}/hang ]; then
                sleep 300 &
                echo $! > {m}/background.pid
                exec sleep 300
              fi
      deploy:
        needs: [build, slow]
        steps:
          - artifacts: {{download: [build]}}
          - run: echo "deploying ${{{{ needs.build.outputs.version }}}} $(cat dist/app)"
"#
    );
    std::fs::write(p.path("project/bellwether.yaml"), yaml).expect("write");
    let run = p.spawn("alice", &["run", "ci", "--plain"]);
    p.wait_for(1, "`slow` running", |r| {
        r["jobs"].as_array().is_some_and(|jobs| {
            jobs.iter().any(|j| {
                j["job"] == "slow"
                    && j["instances"]
                        .as_array()
                        .is_some_and(|i| i.iter().any(|i| i["status"] == "running"))
            })
        })
    });
    let pid = |name: &str| {
        let deadline = Instant::now() + LIMIT;
        loop {
            if let Some(pid) = std::fs::read_to_string(marks.join(name))
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
            {
                break pid;
            }
            assert!(Instant::now() < deadline, "the slow step never started");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let (step, background) = (pid("slow.pid"), pid("background.pid"));
    // The runner dies by SIGKILL, which it cannot handle: its step and what the step left
    // in the background die with it.
    run.kill();
    let deadline = Instant::now() + LIMIT;
    let alive = |pid: i32| Path::new(&format!("/proc/{pid}")).exists() && !zombie(pid);
    while alive(step) || alive(background) {
        assert!(
            Instant::now() < deadline,
            "the killed runner's step lives on"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let listed = p.bw("tester", &["runs"]);
    assert_eq!(listed.code, 0, "{}", listed.all());
    assert!(
        listed
            .stdout
            .lines()
            .any(|l| l.starts_with("1 ") && l.contains("interrupted")),
        "{}",
        listed.stdout
    );
    assert!(
        !p.path("data/runs/1/tmp").exists(),
        "an interrupted run's scratch files are swept"
    );
    let busy = p.bw("tester", &["approve", "1"]);
    assert!(
        busy.stderr.contains("run 1 (interrupted) is not waiting"),
        "{}",
        busy.stderr
    );

    std::fs::remove_file(marks.join("hang")).expect("rm");
    let again = p.bw("bob", &["rerun", "1", "--failed", "--plain"]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(
        again
            .stdout
            .contains("run 1, attempt 2: running slow, deploy; keeping build"),
        "{}",
        again.stdout
    );
    assert!(
        again.stdout.contains("[deploy] deploying 1.1 binary"),
        "{}",
        again.stdout
    );
    assert_eq!(
        std::fs::read_to_string(marks.join("builds"))
            .ok()
            .as_deref(),
        Some("build\n")
    );
    let record = p.run_json(1);
    assert_eq!(
        (record["status"].as_str(), record["attempt"].as_u64()),
        (Some("success"), Some(2))
    );
    assert_eq!(job(&record, "build")["reused_from"], 1);
    let nothing = p.bw("bob", &["rerun", "1", "--failed"]);
    assert_eq!(nothing.code, 1);
    assert!(
        nothing
            .stderr
            .contains("run 1 has nothing to rerun: every job succeeded"),
        "{}",
        nothing.stderr
    );
    let logs = p.bw("tester", &["runs", "1", "--logs", "--job", "deploy"]);
    assert!(
        logs.stdout.contains("deploying 1.1 binary"),
        "{}",
        logs.stdout
    );
    assert!(!logs.stdout.contains("== build"), "{}", logs.stdout);
    let same = finish(
        Command::new(env!("CARGO_BIN_EXE_bellwether"))
            .args(["logs", "1", "deploy"])
            .env("BELLWETHER_DATA_DIR", p.path("data"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bellwether starts"),
    );
    assert_eq!(
        (same.code, &same.stdout),
        (0, &logs.stdout),
        "`logs RUN JOB` is `runs RUN --logs --job JOB`: {}",
        same.all()
    );
    let kept = p.bw("tester", &["runs", "1", "--logs", "--job", "build"]);
    assert!(
        kept.stdout
            .contains("== build · success (attempt 1, kept from run attempt 1)"),
        "{}",
        kept.stdout
    );
    assert!(
        kept.stdout.contains("uploaded artifact `build`: 1 files"),
        "{}",
        kept.stdout
    );
}

#[test]
fn rerun_failed_runs_the_failed_combinations_again_with_what_they_need_kept() {
    let p = Project::new("");
    let marks = p.path("marks");
    std::fs::create_dir_all(&marks).expect("mkdir");
    std::fs::write(marks.join("broken"), "").expect("write");
    let m = marks.display();
    std::fs::write(
        p.path("project/bellwether.yaml"),
        format!(
            r#"
pipelines:
  ci:
    jobs:
      lint: {{steps: [{{run: echo lint >> {m}/runs}}]}}
      test:
        strategy: {{matrix: {{n: [1, 2]}}, fail-fast: false}}
        steps:
          - run: "echo report of ${{{{ matrix.n }}}} > report-${{{{ matrix.n }}}}.txt"
          - artifacts: {{upload: ["report-${{{{ matrix.n }}}}.txt"], name: "report-${{{{ matrix.n }}}}"}}
          - run: "echo test ${{{{ matrix.n }}}} >> {m}/runs; [ ! -f {m}/broken ] || [ ${{{{ matrix.n }}}} = 1 ]"
      notify:
        needs: [lint, test]
        if: always()
        steps:
          - run: "echo test was ${{{{ needs.test.result }}}}"
          - artifacts: {{download: [report-1, report-2], path: reports}}
          - run: cat reports/report-1.txt reports/report-2.txt
"#
        ),
    )
    .expect("write");
    let first = p.bw("alice", &["run", "ci", "--plain"]);
    assert_eq!(first.code, 1, "{}", first.all());
    assert!(
        first.stdout.contains("test was failure"),
        "{}",
        first.stdout
    );
    std::fs::remove_file(marks.join("broken")).expect("rm");
    let again = p.bw("alice", &["rerun", "1", "--failed", "--plain"]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(
        again.stdout.contains("test was success"),
        "{}",
        again.stdout
    );
    let runs = std::fs::read_to_string(marks.join("runs")).expect("runs");
    assert!(
        again.stdout.contains(
            "running test (all but the 1 combination that succeeded), notify; keeping lint"
        ),
        "{}",
        again.stdout
    );
    assert_eq!(runs.matches("lint").count(), 1, "{runs}");
    // Only the combination that failed runs again.
    assert_eq!(runs.matches("test 1").count(), 1, "{runs}");
    assert_eq!(runs.matches("test 2").count(), 2, "{runs}");
    // Each leg uploads its own artifact; the leg that runs again uploads its anew.
    for report in ["report of 1", "report of 2"] {
        assert!(again.stdout.contains(report), "{report}: {}", again.stdout);
    }
    let shown = p.bw("alice", &["runs", "1"]);
    assert!(
        shown
            .stdout
            .contains("run 1 · ci · workflow_dispatch on branch `main`"),
        "{}",
        shown.stdout
    );
    assert!(
        shown.stdout.contains("success (attempt 2)"),
        "{}",
        shown.stdout
    );
    assert!(
        shown
            .stdout
            .contains("✓ lint  success: kept from attempt 1"),
        "{}",
        shown.stdout
    );
}

/// A project of `pipelines` whose `STEP` steps each log their start, wait for the file
/// `go` and log their end, all in the returned directory's `log`.
fn held_until_go(p: &Project, pipelines: &str) -> PathBuf {
    let marks = p.path("marks");
    std::fs::create_dir_all(&marks).expect("mkdir");
    let m = marks.display();
    let step = format!(
        r#"- run: |
              echo "start $BELLWETHER_RUN" >> {m}/log
              for i in $(seq 600); do [ -f {m}/go ] && break; sleep 0.05; done
              echo "end $BELLWETHER_RUN" >> {m}/log"#
    );
    let yaml = pipelines
        .replace("STEP", &step)
        .replace("MARKS", &m.to_string());
    std::fs::write(p.path("project/bellwether.yaml"), yaml).expect("write");
    marks
}

/// Lets both held runs go and waits for them, which must succeed; the second's output.
fn both_succeed(marks: &Path, first: Background, second: Background) -> String {
    std::fs::write(marks.join("go"), "").expect("write");
    let (first, second) = (first.finish(), second.finish());
    assert_eq!(first.code, 0, "{}", first.all());
    assert_eq!(second.code, 0, "{}", second.all());
    second.stdout
}

#[test]
fn separate_runs_of_one_concurrency_group_go_one_after_the_other() {
    let p = Project::new("");
    let marks = held_until_go(
        &p,
        r#"
pipelines:
  deploy:
    concurrency: {group: production}
    jobs:
      ship:
        steps:
          STEP
"#,
    );
    let log = || std::fs::read_to_string(marks.join("log")).unwrap_or_default();
    let first = p.spawn("alice", &["run", "deploy", "--plain"]);
    p.wait_for(1, "its step started", |run| {
        log().contains("start 1") && run["status"] == "running"
    });
    let second = p.spawn("bob", &["run", "deploy", "--plain"]);
    p.wait_for(2, "queued behind run 1", |run| run["status"] == "queued");
    let said = both_succeed(&marks, first, second);
    assert!(
        said.contains("concurrency group `production` is held by run 1: waiting for it"),
        "{said}"
    );
    assert_eq!(log(), "start 1\nend 1\nstart 2\nend 2\n");
}

#[test]
fn a_job_concurrency_group_holds_across_runs_while_their_other_jobs_go_on() {
    let p = Project::new("");
    let marks = held_until_go(
        &p,
        r#"
pipelines:
  release:
    jobs:
      build:
        steps: [{run: echo "build $BELLWETHER_RUN" >> MARKS/log}]
      deploy:
        needs: build
        concurrency: {group: production}
        steps:
          STEP
"#,
    );
    let log = || std::fs::read_to_string(marks.join("log")).unwrap_or_default();
    let first = p.spawn("alice", &["run", "release", "--plain"]);
    p.wait_for(1, "its deploy started", |_| log().contains("start 1"));
    let second = p.spawn("bob", &["run", "release", "--plain"]);
    // The second run builds while its deploy waits for the first run's.
    p.wait_for(2, "its build done", |run| {
        job(run, "build")["conclusion"] == "success" && log().contains("build 2")
    });
    assert!(!log().contains("start 2"), "{}", log());
    let said = both_succeed(&marks, first, second);
    assert!(
        said.contains("concurrency group `production` is held by run 1: waiting for it"),
        "{said}"
    );
    assert_eq!(log(), "build 1\nstart 1\nbuild 2\nend 1\nstart 2\nend 2\n");
}

/// Whether process `pid` has ended but not been waited for.
fn zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// The pipelines a corpus file declares: the keys two spaces in under `pipelines:`.
fn pipelines_of(yaml: &str) -> Vec<&str> {
    yaml.lines()
        .skip_while(|l| *l != "pipelines:")
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with(' ') || l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("  ")?.strip_suffix(':'))
        .filter(|name| !name.starts_with([' ', '#']))
        .collect()
}

/// Files `validate` accepts (`tests/data/validated/`, written in the shapes people paste) run
/// to success: nothing a file shows that `validate` passed fails its run.
#[test]
fn what_validate_accepts_runs() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/validated");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .expect("the corpus")
        .map(|e| e.expect("an entry").path())
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    for file in files {
        let yaml = std::fs::read_to_string(&file).expect("readable");
        let project = Project::new(&yaml);
        let checked = Command::new(env!("CARGO_BIN_EXE_bellwether"))
            .args(["validate", "--strict", "-f"])
            .arg(project.path("project/bellwether.yaml"))
            .output()
            .expect("validate runs");
        assert!(
            checked.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&checked.stderr)
        );
        let pipelines = pipelines_of(&yaml);
        assert!(!pipelines.is_empty(), "{}", file.display());
        for pipeline in pipelines {
            let ran = project.bw("tester", &["run", pipeline, "--plain"]);
            assert_eq!(ran.code, 0, "{} {pipeline}: {}", file.display(), ran.all());
        }
    }
}

#[test]
fn each_job_and_matrix_leg_works_in_a_fresh_workspace_of_its_own() {
    let p = Project::new("");
    std::fs::write(p.path("project/source.txt"), "from the checkout").expect("write");
    let marks = p.path("marks");
    std::fs::create_dir_all(&marks).expect("mkdir");
    let m = marks.display();
    std::fs::write(
        p.path("project/bellwether.yaml"),
        format!(
            r#"
pipelines:
  ci:
    jobs:
      build:
        steps:
          - run: |
              echo built > build.out
              echo "$GITHUB_WORKSPACE|${{{{ github.workspace }}}}|$PWD" >> {m}/spaces
          - artifacts: {{upload: [build.out], name: build}}
      legs:
        needs: [build]
        strategy: {{matrix: {{n: [1, 2, 3]}}}}
        steps:
          - run: |
              [ ! -e build.out ] && [ "$(cat source.txt)" = "from the checkout" ]
              echo "${{{{ matrix.n }}}}" > same.txt
              echo "${{{{ matrix.n }}}}" >> {m}/written
              for i in $(seq 600); do [ "$(wc -l < {m}/written)" -ge 3 ] && break; sleep 0.05; done
              [ "$(cat same.txt)" = "${{{{ matrix.n }}}}" ]
              echo "$GITHUB_WORKSPACE|${{{{ github.workspace }}}}|$PWD" >> {m}/spaces
      after:
        needs: [legs]
        steps:
          - run: "[ ! -e same.txt ] && [ ! -e build.out ]"
          - artifacts: {{download: [build]}}
          - run: cat build.out
"#
        ),
    )
    .expect("write");
    let ran = p.bw("alice", &["run", "ci", "--plain", "--parallel", "4"]);
    assert_eq!(ran.code, 0, "{}", ran.all());
    // The three legs were all writing `same.txt` at once, each in its own directory.
    let written = std::fs::read_to_string(marks.join("written")).expect("written");
    assert_eq!(written.lines().count(), 3, "{written}");
    let spaces = std::fs::read_to_string(marks.join("spaces")).expect("spaces");
    let mut dirs: Vec<&str> = spaces
        .lines()
        .map(|line| {
            let seen: Vec<&str> = line.split('|').collect();
            assert_eq!(seen.len(), 3, "{line}");
            assert!(
                seen.iter().all(|s| Path::new(s) == Path::new(seen[0])),
                "$GITHUB_WORKSPACE, github.workspace and the working directory differ: {line}"
            );
            seen[0]
        })
        .collect();
    dirs.sort_unstable();
    let names: Vec<String> = dirs
        .iter()
        .map(|d| {
            Path::new(d)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(names, ["build", "legs-1", "legs-2", "legs-3"], "{spaces}");
    assert!(ran.stdout.contains("built"), "{}", ran.stdout);
    // Each instance's workspace is gone with it; only the logs stay.
    let run_dir = p.path("data/runs/1");
    for gone in ["workspace", "source"] {
        assert!(!run_dir.join(gone).exists(), "{gone} is left behind");
    }

    let kept = p.bw("alice", &["run", "ci", "--plain", "--keep-workspace"]);
    assert_eq!(kept.code, 0, "{}", kept.all());
    let workspaces = p.path("data/runs/2/workspace");
    assert!(
        kept.stdout
            .contains(&format!("kept in {}", workspaces.display())),
        "{}",
        kept.stdout
    );
    for instance in ["build", "legs-1", "legs-2", "legs-3", "after"] {
        assert!(
            workspaces.join(instance).join("source.txt").is_file(),
            "{instance} was not kept"
        );
    }
    assert_eq!(
        std::fs::read_to_string(workspaces.join("legs-2/same.txt")).expect("kept"),
        "2\n"
    );
}

#[test]
fn run_simulates_the_end_of_another_pipelines_run_and_a_release() {
    let p = Project::new(
        r#"
pipelines:
  ci:
    on: push
    jobs:
      test: {steps: [{run: "true"}]}
  deploy:
    on: {workflow_run: {workflows: [ci], types: [completed], branches: [main]}}
    jobs:
      ship:
        if: ${{ github.event.workflow_run.conclusion == 'success' }}
        steps:
          - run: echo "after ${{ github.event.workflow_run.name }} on ${{ github.event.workflow_run.head_branch }}"
  publish:
    on: {release: {types: [published]}}
    jobs:
      upload: {steps: [{run: "echo releasing ${{ github.ref_name }}"}]}
"#,
    );
    // The pipeline follows one other, so `--after` may be left out.
    let after = p.bw(
        "alice",
        &[
            "run",
            "deploy",
            "--event",
            "workflow_run",
            "--branch",
            "main",
            "--plain",
        ],
    );
    assert_eq!(after.code, 0, "{}", after.all());
    assert!(after.stdout.contains("after ci on main"), "{}", after.all());

    let failed = p.bw(
        "alice",
        &[
            "run",
            "deploy",
            "--event",
            "workflow_run",
            "--after",
            "ci",
            "--conclusion",
            "failure",
            "--branch",
            "main",
            "--plain",
        ],
    );
    assert_eq!(failed.code, 0, "{}", failed.all());
    assert!(!failed.stdout.contains("after ci"), "{}", failed.all());
    assert_eq!(job(&p.run_json(2), "ship")["conclusion"], "skipped");

    // Its filters still judge the simulated event.
    let elsewhere = p.bw(
        "alice",
        &[
            "run",
            "deploy",
            "--event",
            "workflow_run",
            "--branch",
            "dev",
            "--plain",
        ],
    );
    assert!(
        elsewhere.stdout.contains("not run") && elsewhere.stdout.contains("dev"),
        "{}",
        elsewhere.all()
    );
    let unknown = p.bw(
        "alice",
        &["run", "ci", "--event", "workflow_run", "--plain"],
    );
    assert_ne!(unknown.code, 0, "{}", unknown.all());
    assert!(
        unknown.all().contains("expected --after PIPELINE"),
        "{}",
        unknown.all()
    );

    let release = p.bw(
        "alice",
        &[
            "run", "publish", "--event", "release", "--tag", "v1.2.0", "--plain",
        ],
    );
    assert_eq!(release.code, 0, "{}", release.all());
    assert!(
        release.stdout.contains("releasing v1.2.0"),
        "{}",
        release.all()
    );
    let untagged = p.bw(
        "alice",
        &["run", "publish", "--event", "release", "--plain"],
    );
    assert!(
        untagged.all().contains("expected --tag NAME"),
        "{}",
        untagged.all()
    );
}
