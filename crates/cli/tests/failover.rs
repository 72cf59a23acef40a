//! Three `bellwether up` sharing one PostgreSQL store (a real one this test starts), each with
//! a data directory of its own as on three machines: one leads, the others stand by. The
//! leader is killed with SIGKILL at random moments of canary rollouts, 20 times, and started
//! again as a standby, as a supervisor would: each time a standby leads within 5 s and the
//! rollout resumes, every rollout ending promoted with each canary step entered once, in
//! order, and the rollout's events numbered without a gap or a repeat. A standby passes
//! commands on to the leader.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bellwether_store_postgres::testing::Cluster;
use support::{BIN, COMMAND, ControlPlane, Lcg, json, steps_entered};

/// The kills, over all rollouts.
const KILLS: usize = 20;

/// How soon after the leader's death a standby must lead.
const TAKEOVER: Duration = Duration::from_secs(5);

/// One of the three, on its own data directory.
struct Node {
    data: PathBuf,
    plane: Option<ControlPlane>,
}

struct Nodes {
    file: PathBuf,
    url: String,
    password: String,
    nodes: Vec<Node>,
}

impl Nodes {
    fn start(&mut self, i: usize) {
        let data = self.nodes[i].data.to_str().unwrap().to_owned();
        let flags = ["--store", self.url.as_str(), "--data-dir", data.as_str()];
        let env = [("PGPASSWORD", self.password.as_str())];
        self.nodes[i].plane = Some(ControlPlane::start_or_stand_by(&self.file, &flags, &env));
    }

    fn plane(&self, i: usize) -> &ControlPlane {
        self.nodes[i].plane.as_ref().unwrap()
    }

    /// The node whose health says it leads, polled until `within` has passed.
    fn leader(&mut self, within: Duration) -> Option<usize> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            for (i, node) in self.nodes.iter().enumerate() {
                let plane = node.plane.as_ref().unwrap();
                let (status, _, body) = plane.get_as("", "/v1/health");
                let health: serde_json::Value =
                    serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
                if status == 200 && health.get("standby_of").is_none() {
                    return Some(i);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    fn logs(&self) -> String {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| format!("node {i}: {:#?}\n", n.plane.as_ref().map(|p| p.log())))
            .collect()
    }
}

/// Kills what every data directory's replica records name: the replicas each killed leader
/// left running on its "machine".
fn kill_orphans(data: &Path) {
    let mut dirs = vec![data.join("replicas")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path)
                && let Ok(record) = serde_json::from_str::<serde_json::Value>(&text)
                && let Some(pid) = record["pid"].as_i64()
            {
                // Each replica leads a process group of its own.
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

#[test]
fn killed_at_random_moments_the_leader_is_replaced_and_every_rollout_ends_exactly() {
    let cluster = Cluster::shared();
    cluster.database("failover");
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = Nodes {
        file: support::four_step_canary(dir.path()),
        url: cluster.url("failover"),
        password: cluster.password().to_owned(),
        nodes: (0..3)
            .map(|i| Node {
                data: dir.path().join(format!("node{i}")),
                plane: None,
            })
            .collect(),
    };
    nodes.start(0);
    assert!(
        nodes.nodes[0].plane.as_mut().unwrap().await_lead(COMMAND),
        "the first node does not lead: {}",
        nodes.logs()
    );
    nodes.start(1);
    nodes.start(2);
    let mut leader = 0;
    let deploy = nodes
        .plane(leader)
        .run(&["deploy", "web", "--version", "v1"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    nodes.plane(leader).expect_status("web", 0);

    let mut random = Lcg(0xfa11);
    let mut kills = 0;
    let mut takeovers = Vec::new();
    let mut version = 1;
    while kills < KILLS {
        version += 1;
        let v = format!("v{version}");
        let deploy = nodes.plane(leader).run(&["deploy", "web", "--version", &v]);
        assert_eq!(deploy.code, 0, "{deploy:?}");
        let deadline = Instant::now() + COMMAND * 2;
        loop {
            let get = nodes.plane(leader).run(&["get", "web", "-o", "json"]);
            assert_eq!(get.code, 0, "{get:?}\n{}", nodes.logs());
            let current = json(&get);
            if current["phase"] == "healthy" {
                assert_eq!(current["stable"]["version"], v, "{current:#}");
                break;
            }
            assert!(Instant::now() < deadline, "{v} never finished: {current:#}");
            // Somewhere in the next 1.5 s: mid-scale, mid-pause, mid-switch.
            std::thread::sleep(Duration::from_millis(random.below(1_500)));
            nodes.nodes[leader].plane.take().unwrap().kill9();
            let killed = Instant::now();
            kills += 1;
            nodes.start(leader);
            let next = nodes
                .leader(COMMAND)
                .unwrap_or_else(|| panic!("kill {kills}: no standby leads: {}", nodes.logs()));
            let took = killed.elapsed();
            assert!(
                took <= TAKEOVER,
                "kill {kills}: node {next} led {took:?} after the leader died"
            );
            takeovers.push(took);
            leader = next;
            assert!(
                nodes.nodes[leader]
                    .plane
                    .as_mut()
                    .unwrap()
                    .await_lead(COMMAND)
            );
        }
        let (steps, numbered) = steps_entered(nodes.plane(leader), &v);
        let expected: Vec<String> = (1..=8).map(|i| format!("step {i}")).collect();
        assert_eq!(steps, expected, "{v}: every step entered once, in order");
        assert!(
            numbered,
            "{v}: the events are numbered without a gap or repeat"
        );
    }
    takeovers.sort();
    eprintln!(
        "{KILLS} takeovers: median {:?}, slowest {:?}",
        takeovers[takeovers.len() / 2],
        takeovers[takeovers.len() - 1]
    );
    let end = nodes.plane(leader).expect_status("web", 0);
    assert!(end.stdout.contains("Healthy"), "{end:?}");
    // A standby passes the commands on to the leader: reads and writes answer as there.
    let token = nodes.plane(leader).token.clone();
    let leading = nodes.plane(leader).server.clone();
    for standby in (0..3).filter(|&i| i != leader) {
        // A standby learns who leads at its next claim, a moment after the takeover.
        let plane = nodes.plane(standby);
        support::eventually(plane, "the standby knows the leader", COMMAND, || {
            let (_, _, body) = plane.get_as("", "/v1/health");
            let health: serde_json::Value = serde_json::from_str(&body).ok()?;
            (health["standby_of"] == leading.as_str()).then_some(())
        });
        let server = plane.server.clone();
        let via = |args: &[&str]| {
            support::bellwether(
                args,
                &[("BELLWETHER_SERVER", &server), ("BELLWETHER_TOKEN", &token)],
            )
        };
        let get = via(&["get", "web", "-o", "json"]);
        assert_eq!(get.code, 0, "{get:?}\n{}", nodes.logs());
        assert_eq!(json(&get)["stable"]["version"], format!("v{version}"));
        let pause = via(&["pause", "web"]);
        assert_ne!(
            pause.code, 0,
            "nothing to pause: the leader's refusal comes back"
        );
        assert!(pause.stderr.contains("pause"), "{pause:?}");
    }
    for node in &mut nodes.nodes {
        drop(node.plane.take());
        kill_orphans(&node.data);
    }
}

/// A TCP relay to the database that can hold everything in transit, as a network partition
/// would, and let it through later.
struct Relay {
    port: u16,
    held: std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
}

impl Relay {
    fn to(port: u16) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let relay = Relay {
            port: listener.local_addr().unwrap().port(),
            held: Default::default(),
        };
        let held = std::sync::Arc::clone(&relay.held);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
                    continue;
                };
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let held = std::sync::Arc::clone(&held);
                    std::thread::spawn(move || pump(from, to, &held));
                }
            }
        });
        relay
    }

    fn hold(&self, holding: bool) {
        *self.held.0.lock().unwrap() = holding;
        self.held.1.notify_all();
    }
}

/// Copies `from` to `to`, keeping what it read while the relay holds.
fn pump(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    held: &(std::sync::Mutex<bool>, std::sync::Condvar),
) {
    use std::io::{Read, Write};
    let mut buffer = [0; 16 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buffer) {
        let guard = held.0.lock().unwrap();
        drop(held.1.wait_while(guard, |held| *held).unwrap());
        if to.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
}

/// The leader's link to the database is held (a partition): a standby takes over once the
/// lease runs out, and a write the old leader had in flight, let through afterwards, is
/// refused by the fence; the old leader stops leading and exits.
#[test]
fn a_leader_cut_off_from_the_store_is_fenced_and_stops() {
    let cluster = Cluster::shared();
    cluster.database("partition");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bellwether.yaml");
    let yaml = format!(
        r#"services:
  web:
    replicas: 1
    run:
      command: ["{BIN}", "demo-service"]
    readiness: {{ path: /health, interval: 100ms }}
    strategy:
      canary:
        steps:
          - setWeight: 50
          - pause: {{}}
"#
    );
    std::fs::write(&file, yaml).unwrap();
    let relay = Relay::to(cluster.port());
    let through_relay = cluster.url("partition").replace(
        &format!(":{}/", cluster.port()),
        &format!(":{}/", relay.port),
    );
    let direct = cluster.url("partition");
    let env = [("PGPASSWORD", cluster.password())];
    let start = |url: &str, node: &str| {
        let data = dir.path().join(node);
        let flags = ["--store", url, "--data-dir", data.to_str().unwrap()];
        ControlPlane::start_or_stand_by(&file, &flags, &env)
    };
    let mut old = start(&through_relay, "a");
    assert!(old.await_lead(COMMAND), "{:#?}", old.log());
    let mut new = start(&direct, "b");
    for (args, status) in [
        (&["deploy", "web", "--version", "v1"][..], 0),
        (&["deploy", "web", "--version", "v2"], 3),
    ] {
        let outcome = old.run(args);
        assert_eq!(outcome.code, 0, "{outcome:?}");
        old.expect_status("web", status);
    }

    relay.hold(true);
    let promoting = std::thread::scope(|scope| {
        let (server, token) = (old.server.clone(), old.token.clone());
        let promote = scope.spawn(move || {
            support::bellwether(
                &["promote", "web"],
                &[("BELLWETHER_SERVER", &server), ("BELLWETHER_TOKEN", &token)],
            )
        });
        assert!(
            new.await_lead(COMMAND),
            "the standby never led: {:#?}",
            new.log()
        );
        relay.hold(false);
        promote.join().unwrap()
    });
    assert_ne!(promoting.code, 0, "{promoting:?}");
    let view = json(&new.run(&["get", "web", "-o", "json"]));
    assert_eq!(
        view["phase"], "paused",
        "the old leader's promote landed: {view:#}"
    );
    let deadline = Instant::now() + COMMAND;
    let code = loop {
        if let Some(code) = old.exited() {
            break code;
        }
        assert!(
            Instant::now() < deadline,
            "the old leader goes on: {:#?}",
            old.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(1), "{:#?}", old.log());
    // Its last lines may still be on their way through the pipe.
    support::eventually(&old, "the old leader says why it stopped", COMMAND, || {
        old.log()
            .iter()
            .any(|l| l.contains("stopped leading"))
            .then_some(())
    });

    let promote = new.run(&["promote", "web"]);
    assert_eq!(promote.code, 0, "{promote:?}");
    new.expect_status("web", 0);
    drop(new);
    drop(old);
    for node in ["a", "b"] {
        kill_orphans(&dir.path().join(node));
    }
}
