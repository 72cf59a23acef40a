//! How bellwether fits a person's operations: what `apply` keeps and removes, what survives a
//! restart of `up` (the applied project, each service's router port), what replicas are told
//! of themselves, and the CLI as a well-behaved Unix tool (a closed stdout, completions).

mod support;

use std::path::{Path, PathBuf};

use support::{BIN, COMMAND, ControlPlane, json};

fn service(name: &str) -> String {
    format!(
        "  {name}:\n    replicas: 1\n    run: {{ command: [\"{BIN}\", \"demo-service\"] }}\n    health: /health\n"
    )
}

fn write(dir: &Path, file: &str, services: &[&str]) -> PathBuf {
    let mut yaml = String::from("services:\n");
    for name in services {
        yaml += &service(name);
    }
    let path = dir.join(file);
    std::fs::write(&path, yaml).unwrap();
    path
}

/// Each service's name and router address, as `list -o json` shows them.
fn routers(plane: &ControlPlane) -> Vec<(String, String)> {
    json(&plane.run(&["list", "-o", "json"]))
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["listen"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn apply_keeps_what_the_file_leaves_out_unless_pruned_and_up_restarts_on_what_was_applied() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "bellwether.yaml", &["api", "web"]);
    let plane = ControlPlane::start(&file);
    let before = routers(&plane);
    assert_eq!(
        before.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["api", "web"]
    );
    assert!(
        plane
            .log()
            .iter()
            .any(|l| l.contains("nothing was applied yet")),
        "{:#?}",
        plane.log()
    );

    let next = write(dir.path(), "next.yaml", &["web"]);
    let next = next.to_str().unwrap();
    let kept = plane.run(&["apply", "-f", next]);
    assert_eq!(kept.code, 0, "{kept:?}");
    assert!(
        kept.stdout.contains(&format!(
            "kept, not in {next}: api (`bellwether apply --prune` would remove them)"
        )),
        "{kept:?}"
    );
    assert_eq!(routers(&plane), before, "nothing removed without --prune");
    let summary = json(&plane.run(&["apply", "-f", next, "-o", "json"]));
    assert_eq!(summary["kept"], serde_json::json!(["api"]), "{summary:#}");

    let pruned = plane.run(&["apply", "-f", next, "--prune"]);
    assert_eq!(pruned.code, 0, "{pruned:?}");
    assert!(pruned.stdout.contains("removed: api"), "{pruned:?}");
    assert!(!pruned.stdout.contains("kept"), "{pruned:?}");
    let after = routers(&plane);
    assert_eq!(after, before[1..], "api removed, web where it was");
    plane.stop();

    // bellwether.yaml still names api; what was applied is what runs, on the same port.
    let plane = ControlPlane::start(&file);
    assert_eq!(routers(&plane), after);
    let log = plane.log();
    assert!(
        log.iter().any(
            |l| l.contains("services as the last `bellwether apply` left them")
                && l.contains("next.yaml")
                && l.contains("is read only until the first apply")
        ),
        "{log:#?}"
    );
    let banner = plane.banner_line("service web: router listening on");
    assert!(banner.ends_with(&after[0].1), "{banner}");
}

#[test]
fn a_service_without_listen_keeps_its_router_port_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "bellwether.yaml", &["web"]);
    let plane = ControlPlane::start(&file);
    let first = routers(&plane);
    plane.stop();
    let plane = ControlPlane::start(&file);
    assert_eq!(routers(&plane), first);
}

#[test]
fn replicas_are_told_who_they_are_and_bellwether_in_a_command_is_this_binary() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bellwether.yaml");
    // `sh -c SCRIPT BIN`: the script's $0 is this binary. `starter` names `bellwether`, which
    // is not on the PATH the control plane runs with.
    let yaml = format!(
        r#"services:
  env:
    run: {{ command: ["sh", "-c", "echo service=$BELLWETHER_SERVICE revision=$BELLWETHER_REVISION version=$BELLWETHER_VERSION; exec \"$0\" demo-service", "{BIN}"] }}
    health: /health
  starter:
    run: {{ command: ["bellwether", "demo-service"] }}
    health: /health
"#
    );
    std::fs::write(&file, yaml).unwrap();
    let plane = ControlPlane::start_env(&file, &[], &[("PATH", "/usr/bin:/bin")]);
    for (service, version) in [("env", "v7"), ("starter", "s1")] {
        let deploy = plane.run(&["deploy", service, "--version", version]);
        assert_eq!(deploy.code, 0, "{deploy:?}");
        plane.expect_status(service, 0);
    }
    let logs = plane.run(&["logs", "env"]);
    assert!(
        logs.stdout
            .contains("r1/0 | service=env revision=1 version=v7"),
        "{logs:?}"
    );
    // demo-service answers with the revision's version when DEMO_VERSION is not set.
    let logs = plane.run(&["logs", "starter"]);
    assert!(
        logs.stdout.contains("r1/0 | demo-service s1 listening on"),
        "{logs:?}"
    );
}

#[test]
fn a_replica_never_ready_is_aborted_with_its_probe_error_and_its_silence_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bellwether.yaml");
    std::fs::write(
        &file,
        "services:\n  mute:\n    run: { command: [sleep, \"600\"] }\n    readiness: { path: /health, interval: 100ms }\n    progressDeadline: 3s\n",
    )
    .unwrap();
    let plane = ControlPlane::start(&file);
    let deploy = plane.run(&["deploy", "mute", "--version", "v1"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    plane.expect_status("mute", 1);
    let view = json(&plane.run(&["get", "mute", "-o", "json"]));
    let reason = view["reason"].as_str().unwrap();
    assert!(
        reason.contains("(progress deadline): 0/1 replicas ready (last probe: GET /health: cannot connect to 127.0.0.1:")
            && reason.contains("refused"),
        "{view:#}"
    );
    let logs = plane.run(&["logs", "mute"]);
    assert_eq!((logs.code, logs.stdout.as_str()), (0, ""), "{logs:?}");
    assert!(
        logs.stderr
            .contains("mute: no output from any replica (none has written anything, or none has run: `bellwether get mute` shows why)"),
        "{logs:?}"
    );
}

#[test]
fn a_closed_stdout_ends_a_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "bellwether.yaml", &["web"]);
    let plane = ControlPlane::start(&file);
    for args in [
        &["get", "web", "-o", "json"][..],
        &["list", "-o", "yaml"],
        &["schema"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std::process::Command::new(BIN)
            .args(args)
            .env("BELLWETHER_SERVER", &plane.server)
            .env("BELLWETHER_TOKEN", &plane.token)
            .stdout(writer)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        // 141, as a shell reports a process SIGPIPE ended; never 101, a panic's.
        assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

#[test]
fn the_shell_completes_service_names_from_the_control_plane() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "bellwether.yaml", &["api", "web"]);
    let plane = ControlPlane::start(&file);
    let script = plane.run(&["completions", "bash"]);
    assert!(script.stdout.contains(BIN), "{script:?}");
    // What the bash script runs on `bellwether get <TAB>`.
    let asked = std::process::Command::new(BIN)
        .args(["--", "bellwether", "get", ""])
        .env("BELLWETHER_COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "2")
        .env("BELLWETHER_SERVER", &plane.server)
        .env("BELLWETHER_TOKEN", &plane.token)
        .output()
        .unwrap();
    assert!(asked.status.success(), "{asked:?}");
    let offered = String::from_utf8_lossy(&asked.stdout).into_owned();
    let names: Vec<&str> = offered.lines().filter(|o| !o.starts_with('-')).collect();
    assert_eq!(names, ["api", "web"], "{offered}");
}

#[test]
fn dispatch_runs_a_project_outside_git_and_a_run_that_cannot_start_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bellwether.yaml");
    std::fs::write(
        &file,
        "pipelines:\n  release:\n    on: { manual: {} }\n    jobs:\n      ship:\n        steps:\n          - run: echo shipped\n  signed:\n    on: { manual: {} }\n    jobs:\n      sign:\n        steps:\n          - run: echo ${{ secrets.KEY }}\n",
    )
    .unwrap();
    // `up` in the project's directory, given the file's bare name, as a person types it.
    let plane = ControlPlane::start_in(dir.path(), Path::new("bellwether.yaml"));
    let dispatched = plane.run(&["dispatch", "release"]);
    assert_eq!(dispatched.code, 0, "{dispatched:?}");
    let data = dir.path().join(".bellwether");
    let data = data.to_str().unwrap();
    let shown = support::eventually(&plane, "run 1 ends", COMMAND, || {
        let shown = support::bellwether(&["runs", "1", "--data-dir", data], &[]);
        (!shown.stdout.contains("running")).then_some(shown)
    });
    assert!(
        shown.stdout.contains("run 1 · release · ") && shown.stdout.contains(" · success "),
        "{shown:?}"
    );

    // A run that cannot start (its secrets' key readable by others) fails saying why, rather
    // than ending "interrupted" with the reason in the control plane's log alone.
    support::set_secret(&file, "KEY", None, "s3cret");
    let key = dir.path().join(".bellwether/secrets/key");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let dispatched = plane.run(&["dispatch", "signed"]);
    assert_eq!(dispatched.code, 0, "{dispatched:?}");
    let shown = support::eventually(&plane, "run 2 ends", COMMAND, || {
        let shown = support::bellwether(&["runs", "2", "--data-dir", data], &[]);
        (shown.stdout.contains("failure")).then_some(shown)
    });
    assert!(
        shown.stdout.contains("(attempt 1)")
            && shown
                .stdout
                .contains("can be read by other users (mode 644)"),
        "{shown:?}"
    );
}
