//! `bellwether up --store postgres://…` on a real PostgreSQL (one this test starts from
//! Debian's packages): a canary deployed and promoted, then `up` restarted on the same
//! database finds the history where it left it. The state is in PostgreSQL, not in the data
//! directory's SQLite file, and the password, given in `PGPASSWORD`, is in no line `up`
//! writes nor in its error when the database refuses it. Old analysis records are forgotten
//! there by the leader.

mod support;

use std::path::Path;

use std::time::Duration;

use bellwether_store::{RunHistory, RunStatus, SqliteStore, Store};
use bellwether_store_postgres::testing::Cluster;
use bellwether_store_postgres::{PgRunStore, PgStore};
use serde_json::Value;
use support::{BIN, COMMAND, ControlPlane, bellwether, eventually, json};

/// One canary step at 50%, then a pause until promoted.
fn project(dir: &Path) -> std::path::PathBuf {
    project_with(dir, "", "")
}

/// [`project`] after `head` (such as a `server:` section) and with `more` of the service.
fn project_with(dir: &Path, head: &str, more: &str) -> std::path::PathBuf {
    let file = dir.join("bellwether.yaml");
    let yaml = format!(
        r#"{head}services:
  web:
    replicas: 1
    run:
      command: ["{BIN}", "demo-service"]
    health: /health
    strategy:
      canary:
        steps:
          - setWeight: 50
          - pause: {{}}
{more}"#
    );
    std::fs::write(&file, yaml).unwrap();
    file
}

#[test]
fn a_control_plane_on_postgres_keeps_its_history_across_a_restart() {
    let cluster = Cluster::shared();
    let target = cluster.database("restart");
    let url = cluster.url("restart");
    let dir = tempfile::tempdir().unwrap();
    let file = project(dir.path());
    let flags = ["--store", url.as_str()];
    let env = [("PGPASSWORD", cluster.password())];

    let plane = ControlPlane::start_env(&file, &flags, &env);
    let deploy = plane.run(&["deploy", "web", "--version", "v1"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    plane.expect_status("web", 0);
    let deploy = plane.run(&["deploy", "web", "--version", "v2"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    plane.expect_status("web", 3);
    let promote = plane.run(&["promote", "web"]);
    assert_eq!(promote.code, 0, "{promote:?}");
    plane.expect_status("web", 0);
    let before = json(&plane.run(&["history", "web", "-o", "json"]));
    let log = plane.stop();
    assert!(
        log.iter()
            .any(|l| l.contains(&format!("state and run history in {url}"))),
        "{log:#?}"
    );
    assert!(
        !log.iter().any(|l| l.contains(cluster.password())),
        "the password is in the log: {log:#?}"
    );

    let plane = ControlPlane::start_env(&file, &flags, &env);
    let view = json(&plane.run(&["get", "web", "-o", "json"]));
    assert_eq!(view["stable"]["version"], "v2", "{view:#}");
    assert_eq!(view["phase"], "healthy", "{view:#}");
    let after = json(&plane.run(&["history", "web", "-o", "json"]));
    assert_eq!(
        after, before,
        "the history after the restart is the history before"
    );
    let revisions = after["revisions"].as_array().unwrap();
    assert_eq!(revisions.len(), 2, "{after:#}");
    plane.expect_status("web", 0);
    drop(plane);

    // The rollout is in PostgreSQL; the data directory's SQLite file has none of it.
    let stored = PgStore::open(&target).unwrap();
    assert!(stored.last_seq("rollout/web").unwrap() > 0);
    assert_eq!(stored.revisions("web").unwrap().len(), 2);
    let local = dir.path().join(".bellwether/bellwether.db");
    if local.exists() {
        let local = SqliteStore::open(&local).unwrap();
        assert_eq!(local.streams("rollout/").unwrap(), Vec::<String>::new());
    }
}

/// Analysis records older than 2 s are forgotten by the leader, in PostgreSQL, each
/// service's last kept; the rollouts' events stay whole.
#[test]
fn the_leader_forgets_old_analysis_records_in_postgres() {
    let cluster = Cluster::shared();
    let target = cluster.database("retention");
    let url = cluster.url("retention");
    let dir = tempfile::tempdir().unwrap();
    let analysis = r#"    analysis:
      metrics:
        - name: smoke
          provider: { job: { command: ["true"] } }
          interval: 200ms
          count: 1
          failureCondition: result != 0
"#;
    let file = project_with(
        dir.path(),
        "server:\n  retention: {analysis: 2s}\n",
        analysis,
    );
    let flags = ["--store", url.as_str(), "--retention-every", "500ms"];
    let env = [("PGPASSWORD", cluster.password())];
    let plane = ControlPlane::start_env(&file, &flags, &env);
    assert_eq!(plane.run(&["deploy", "web", "--version", "v1"]).code, 0);
    plane.expect_status("web", 0);
    for version in ["v2", "v3"] {
        let deploy = plane.run(&["deploy", "web", "--version", version]);
        assert_eq!(deploy.code, 0, "{deploy:?}");
        plane.expect_status("web", 3);
        support::eventually(
            &plane,
            "the analysis run is stored",
            support::COMMAND,
            || {
                let view = json(&plane.run(&["get", "web", "-o", "json"]));
                let analyses = view["analyses"].as_array().cloned().unwrap_or_default();
                let judged = analyses.iter().any(|a| a["verdict"] == "successful");
                judged.then_some(())
            },
        );
        assert_eq!(plane.run(&["promote", "web"]).code, 0);
        plane.expect_status("web", 0);
    }
    let stored = PgStore::open(&target).unwrap();
    let events = stored.last_seq("rollout/web").unwrap();
    support::eventually(
        &plane,
        "the older analysis record forgotten",
        support::COMMAND,
        || {
            let kept = stored.read("analysis/web", 0).unwrap();
            let seqs: Vec<u64> = kept.iter().map(|r| r.seq).collect();
            (seqs == [2]).then_some(())
        },
    );
    assert_eq!(
        stored.read("rollout/web", 0).unwrap().len() as u64,
        events,
        "every event of the rollout is kept"
    );
    let said =
        |l: &String| l.contains("retention: removed 0 runs") && l.contains("1 analysis record;");
    support::eventually(&plane, "the sweep logged", support::COMMAND, || {
        plane.log().iter().any(said).then_some(())
    });
}

#[test]
fn a_refused_password_is_named_without_it() {
    let cluster = Cluster::shared();
    cluster.database("refused");
    let dir = tempfile::tempdir().unwrap();
    let file = project(dir.path());
    let url = cluster.url("refused");
    for (flag, env) in [
        (
            url.replacen("bellwether@", "bellwether:hunter2-in-url@", 1),
            vec![],
        ),
        (url.clone(), vec![("PGPASSWORD", "hunter2-in-env")]),
    ] {
        let up = bellwether(
            &[
                "up",
                "-f",
                file.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
                "--store",
                &flag,
            ],
            &env,
        );
        assert_ne!(up.code, 0, "{up:?}");
        assert!(!up.stderr.contains("hunter2"), "{up:?}");
        assert!(!up.stdout.contains("hunter2"), "{up:?}");
        assert!(
            up.stderr
                .contains(&format!("cannot open the store at {url}")),
            "{up:?}"
        );
        assert!(
            up.stderr.contains("password authentication failed"),
            "{up:?}"
        );
    }
}

/// The file's `server.store` is where `up` keeps its state when no `--store` is given.
#[test]
fn the_files_store_is_used_without_the_flag() {
    let cluster = Cluster::shared();
    let target = cluster.database("from_file");
    let url = cluster.url("from_file");
    let dir = tempfile::tempdir().unwrap();
    let file = project_with(dir.path(), &format!("server:\n  store: {url}\n"), "");
    let plane = ControlPlane::start_env(&file, &[], &[("PGPASSWORD", cluster.password())]);
    let deploy = plane.run(&["deploy", "web", "--version", "v1"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    plane.expect_status("web", 0);
    let log = plane.stop();
    assert!(
        log.iter()
            .any(|l| l.contains(&format!("state and run history in {url}"))),
        "{log:#?}"
    );
    assert!(
        PgStore::open(&target)
            .unwrap()
            .last_seq("rollout/web")
            .unwrap()
            > 0
    );
}

/// Standbys must be able to reach the leader: an address that names no machine is refused
/// before the store is opened, saying what to give instead.
#[test]
fn a_leader_must_advertise_an_address_others_can_reach() {
    let dir = tempfile::tempdir().unwrap();
    let file = project(dir.path());
    let up = |extra: &[&str]| {
        let mut args = vec![
            "up",
            "-f",
            file.to_str().unwrap(),
            "--listen",
            "0.0.0.0:0",
            "--insecure-listen",
            "--store",
            "postgres://nobody@127.0.0.1:1/nothing",
        ];
        args.extend_from_slice(extra);
        bellwether(&args, &[])
    };
    let refused = up(&[]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains(
            "names no address the other control planes can reach: give --advertise http://HOST:"
        ),
        "{refused:?}"
    );
    let refused = up(&["--advertise", "10.0.0.7:7070"]);
    assert!(
        refused.stderr.contains(
            "--advertise 10.0.0.7:7070 is not a URL of the API (expected http://HOST:PORT or https://HOST:PORT)"
        ),
        "{refused:?}"
    );
    // Given an address, it goes on to the store, which is not there.
    let unreachable = up(&["--advertise", "http://10.0.0.7:7070"]);
    assert!(
        unreachable
            .stderr
            .contains("cannot open the store at postgres://nobody@127.0.0.1:1/nothing"),
        "{unreachable:?}"
    );
}

/// The run numbers of `runs -o json`, in order.
fn numbers(runs: &Value) -> Vec<u64> {
    runs.as_array()
        .map(|runs| runs.iter().filter_map(|r| r["number"].as_u64()).collect())
        .unwrap_or_default()
}

/// A run's status as the control plane's API tells it.
fn run_status(plane: &ControlPlane, number: u64) -> Option<String> {
    let (status, _, body) = plane.get_as(&plane.token, &format!("/v1/runs/{number}"));
    let run: Value = serde_json::from_str(&body).ok()?;
    (status == 200).then(|| run["status"].as_str().map(str::to_owned))?
}

/// Pipelines run by a control plane on PostgreSQL are recorded there, with numbers every
/// control plane on the database shares, and their logs stay in the data directory of the
/// machine that ran them. When the leader dies mid-run, the one that takes over ends that run
/// as interrupted (nothing of the dead leader can write it any more) and says where its logs
/// are; the runs it starts go on from the last number. `bellwether --server … runs` lists
/// and shows them through either control plane, and their logs through the one that ran them.
#[test]
fn pipeline_runs_are_shared_and_a_successor_ends_the_runs_of_a_dead_leader() {
    let cluster = Cluster::shared();
    let target = cluster.database("runs");
    let url = cluster.url("runs");
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let file = dir.path().join("bellwether.yaml");
    std::fs::write(
        &file,
        format!(
            "pipelines:\n  quick:\n    on: {{manual: {{}}}}\n    jobs:\n      say:\n        steps:\n          - run: echo said $GITHUB_RUN_NUMBER\n  slow:\n    on: {{manual: {{}}}}\n    jobs:\n      wait:\n        steps:\n          - run: |\n              echo waiting\n              while [ ! -f {go} ]; do sleep 0.05; done\n",
            go = go.display()
        ),
    )
    .unwrap();
    let data = |name: &str| dir.path().join(name).display().to_string();
    let (first, second) = (data("first"), data("second"));
    let env = [("PGPASSWORD", cluster.password())];
    let flags = |data: &'static str| ["--store", url.as_str(), "--data-dir", data];
    let (first, second): (&'static str, &'static str) = (first.leak(), second.leak());

    let leader = ControlPlane::start_env(&file, &flags(first), &env);
    let mut standby = ControlPlane::start_or_stand_by(&file, &flags(second), &env);
    assert_eq!(leader.run(&["dispatch", "quick"]).code, 0);
    eventually(&leader, "run 1 succeeds", COMMAND, || {
        (run_status(&leader, 1)? == "success").then_some(())
    });
    let (status, _, log) = leader.get_as(&leader.token, "/v1/runs/1/logs?job=say&step=1");
    assert_eq!((status, log.trim()), (200, "said 1"));
    assert_eq!(leader.run(&["dispatch", "slow"]).code, 0);
    eventually(&leader, "run 2's step waits", COMMAND, || {
        let (status, _, log) = leader.get_as(&leader.token, "/v1/runs/2/logs?job=wait&step=1");
        (status == 200 && log.contains("waiting")).then_some(())
    });
    // In the database, not in the data directory's own history; the logs in `shared/runs`.
    let stored = PgRunStore::open(&target).unwrap();
    assert_eq!(stored.run(1).unwrap().unwrap().status, RunStatus::Success);
    assert_eq!(stored.run(2).unwrap().unwrap().status, RunStatus::Running);
    assert!(Path::new(&first).join("shared/runs/1/logs").is_dir());
    assert!(!Path::new(&first).join("runs/1").exists());
    // `bellwether runs` through the standby, which passes reads on to the leader: the
    // database's runs, and run 1's logs from the machine that ran it.
    let through = |server: &str, token: &str, args: &[&str]| {
        let mut all = vec!["--server", server];
        all.extend_from_slice(args);
        bellwether(&all, &[("BELLWETHER_TOKEN", token)])
    };
    let listed = through(&standby.server, &leader.token, &["runs", "-o", "json"]);
    assert_eq!(listed.code, 0, "{listed:?}");
    assert_eq!(numbers(&json(&listed)), [2, 1], "{listed:?}");
    let logs = through(&standby.server, &leader.token, &["runs", "1", "--logs"]);
    assert_eq!(logs.code, 0, "{logs:?}");
    assert!(logs.stdout.contains("== say · success"), "{logs:?}");
    assert!(logs.stdout.contains("said 1"), "{logs:?}");

    leader.kill9();
    assert!(
        standby.await_lead(Duration::from_secs(10)),
        "{:#?}",
        standby.log()
    );
    eventually(&standby, "run 2 interrupted", COMMAND, || {
        (run_status(&standby, 2)? == "interrupted").then_some(())
    });
    assert_eq!(run_status(&standby, 1).as_deref(), Some("success"));
    let (status, _, answer) = standby.get_as(&standby.token, "/v1/runs/1/logs?job=say&step=1");
    assert_eq!(status, 404, "{answer}");
    assert!(
        answer.contains("run 1's logs are not on this machine"),
        "{answer}"
    );
    assert_eq!(standby.run(&["dispatch", "quick"]).code, 0);
    eventually(&standby, "run 3 succeeds", COMMAND, || {
        (run_status(&standby, 3)? == "success").then_some(())
    });
    let (status, _, log) = standby.get_as(&standby.token, "/v1/runs/3/logs?job=say&step=1");
    assert_eq!((status, log.trim()), (200, "said 3"));
    // The new leader lists the same runs under the same numbers, newest first, and shows
    // run 1 whole; its logs are on the dead leader's machine, which `runs 1 --logs` says.
    let listed = through(&standby.server, &standby.token, &["runs", "-o", "json"]);
    assert_eq!(listed.code, 0, "{listed:?}");
    assert_eq!(numbers(&json(&listed)), [3, 2, 1], "{listed:?}");
    let table = through(&standby.server, &standby.token, &["runs"]);
    assert_eq!(table.code, 0, "{table:?}");
    let rows: Vec<&str> = table.stdout.lines().skip(1).collect();
    assert!(
        rows.len() == 3 && rows[0].starts_with("3 ") && rows[2].starts_with("1 "),
        "{table:?}"
    );
    assert!(rows[1].contains("interrupted"), "{table:?}");
    let shown = through(
        &standby.server,
        &standby.token,
        &["runs", "1", "-o", "json"],
    );
    assert_eq!(shown.code, 0, "{shown:?}");
    let run = json(&shown);
    assert_eq!(
        (&run["number"], &run["pipeline"], &run["status"]),
        (
            &Value::from(1),
            &Value::from("quick"),
            &Value::from("success")
        ),
        "{run:#}"
    );
    assert_eq!(run["jobs"][0]["job"], "say", "{run:#}");
    assert_eq!(
        run["jobs"][0]["instances"][0]["steps"][0]["status"], "success",
        "{run:#}"
    );
    let elsewhere = through(&standby.server, &standby.token, &["runs", "1", "--logs"]);
    assert_eq!(
        (elsewhere.code, elsewhere.stdout.as_str()),
        (1, ""),
        "{elsewhere:?}"
    );
    assert!(
        elsewhere
            .stderr
            .contains("error: run 1's logs are not on this machine"),
        "{elsewhere:?}"
    );
    let here = through(&standby.server, &standby.token, &["runs", "3", "--logs"]);
    assert_eq!(here.code, 0, "{here:?}");
    assert!(here.stdout.contains("said 3"), "{here:?}");
    // The dead leader's step, orphaned by the SIGKILL, ends.
    std::fs::write(&go, "").unwrap();
    standby.stop();
}
