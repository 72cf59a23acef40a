//! The local platform against real processes on loopback: a small Python HTTP server stands in
//! for a service (Python is on every machine these tests run on).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use bellwether_core::signal::ResourceSource;
use bellwether_core::spec::{Probe, RunSpec};
use bellwether_platform_local::{
    LocalPlatform, Options, PlatformState, ReplicaPhase, ReplicaTemplate, RevisionKey, ServiceState,
};
use tokio::sync::watch;

/// An HTTP server on $PORT: `/health` answers per $HEALTH (default 200), `/` answers 200, and
/// SIGTERM is ignored when $IGNORE_TERM is set.
const SERVER: &str = r#"
import http.server, os, signal
if os.environ.get("IGNORE_TERM"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = int(os.environ.get("HEALTH", "200")) if self.path == "/health" else 200
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"pid %d\n" % os.getpid())
    def log_message(self, *args):
        print("request", self.path, flush=True)
print("listening", flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"#;

fn template(revision: u64, env: &[(&str, &str)]) -> ReplicaTemplate {
    let mut readiness = Probe::http("/health");
    readiness.interval = Duration::from_millis(100);
    ReplicaTemplate {
        service: "api".into(),
        revision,
        version: format!("v{revision}"),
        run: RunSpec {
            command: vec!["python3".into(), "-c".into(), SERVER.into()],
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            workdir: None,
            port_env: "PORT".into(),
            image: None,
            secrets: Vec::new(),
        },
        readiness,
        liveness: None,
        environment: None,
    }
}

fn options(dir: &Path) -> Options {
    let mut o = Options::new(dir, dir);
    o.grace_period = Duration::from_millis(500);
    o.drain_delay = Duration::from_millis(10);
    o
}

fn key(revision: u64) -> RevisionKey {
    RevisionKey {
        service: "api".into(),
        revision,
    }
}

/// Waits (at most 20 s) until the platform's state satisfies `f`.
async fn until(
    rx: &mut watch::Receiver<PlatformState>,
    what: &str,
    f: impl Fn(&PlatformState) -> bool,
) -> PlatformState {
    let waited = tokio::time::timeout(Duration::from_secs(20), rx.wait_for(|s| f(s)))
        .await
        .map(|r| r.map(|state| state.clone()));
    match waited {
        Ok(Ok(state)) => state,
        _ => panic!("timed out waiting for {what}; state: {:#?}", rx.borrow()),
    }
}

async fn get(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    out
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_start_on_their_own_ports_serve_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let platform = LocalPlatform::new(options(dir.path()));
    let mut rx = platform.state();
    platform.scale(&template(1, &[]), 2);
    let state = until(&mut rx, "two ready replicas", |s| {
        s.ready_count(&key(1)) == 2
    })
    .await;
    let addrs = state.ready_addrs(&key(1));
    assert_ne!(addrs[0], addrs[1]);
    for addr in &addrs {
        assert!(get(*addr).await.starts_with("HTTP/1.0 200"));
    }
    let pids: Vec<u32> = state.revisions[&key(1)]
        .replicas
        .iter()
        .filter_map(|r| r.pid)
        .collect();
    let log = std::fs::read_to_string(dir.path().join("logs/api/1/0.log")).unwrap();
    assert!(log.contains("listening"), "{log}");

    platform.scale(&template(1, &[]), 0);
    until(&mut rx, "no replicas", |s| s.revisions.is_empty()).await;
    assert!(pids.iter().all(|p| !alive(*p)), "processes are gone");
    assert!(
        !dir.path().join("replicas/api/1/0.json").exists(),
        "state files are removed"
    );
}

/// Waits (at most 20 s) until one service's state satisfies `f`.
async fn until_service(
    rx: &mut watch::Receiver<ServiceState>,
    what: &str,
    f: impl Fn(&ServiceState) -> bool,
) {
    let waited = tokio::time::timeout(Duration::from_secs(20), rx.wait_for(|s| f(s)))
        .await
        .is_ok_and(|r| r.is_ok());
    if !waited {
        panic!("timed out waiting for {what}; state: {:#?}", rx.borrow());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_service_is_watched_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let platform = LocalPlatform::new(options(dir.path()));
    let mut api = platform.watch("api");
    let web = platform.watch("web");
    platform.scale(&template(1, &[]), 1);
    let ready = |s: &ServiceState| {
        s.get(&1)
            .is_some_and(|r| r.replicas.iter().any(|p| p.phase == ReplicaPhase::Ready))
    };
    until_service(&mut api, "a ready replica of api", ready).await;
    assert!(
        ready(&platform.watch("api").borrow()),
        "a new watcher sees the state now"
    );
    assert_eq!(
        web.has_changed().ok(),
        Some(false),
        "web's watcher was not woken"
    );
    assert!(web.borrow().is_empty());

    platform.scale(&template(1, &[]), 0);
    until_service(&mut api, "no replicas of api", |s| s.is_empty()).await;
    assert_eq!(web.has_changed().ok(), Some(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_cannot_start_or_exits_is_reported_and_retried() {
    let dir = tempfile::tempdir().unwrap();
    let platform = LocalPlatform::new(options(dir.path()));
    let mut rx = platform.state();
    let mut missing = template(1, &[]);
    missing.run.command = vec!["./no-such-program".into()];
    platform.scale(&missing, 1);
    let mut exits = template(2, &[]);
    exits.run.command = vec!["sh".into(), "-c".into(), "echo boom >&2; exit 3".into()];
    platform.scale(&exits, 1);
    let crashed = |s: &PlatformState, k: &RevisionKey| {
        s.revisions
            .get(k)
            .and_then(|r| r.replicas.first())
            .filter(|r| r.phase == ReplicaPhase::Crashed)
            .cloned()
    };
    let state = until(&mut rx, "both crashed", |s| {
        crashed(s, &key(1)).is_some() && crashed(s, &key(2)).is_some()
    })
    .await;
    let missing = crashed(&state, &key(1)).unwrap();
    assert_eq!(
        missing.last_error.as_deref(),
        Some("cannot start `./no-such-program`: No such file or directory (os error 2)")
    );
    assert_eq!(
        crashed(&state, &key(2)).unwrap().last_error.as_deref(),
        Some("exited with status 3")
    );
    until(&mut rx, "a restart with back-off", |s| {
        crashed(s, &key(2)).is_some_and(|r| r.restarts >= 2)
    })
    .await;
    assert!(
        std::fs::read_to_string(dir.path().join("logs/api/2/0.log"))
            .unwrap()
            .contains("boom")
    );
    platform.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_failing_readiness_gets_no_traffic_and_a_dead_one_is_restarted_by_liveness() {
    let dir = tempfile::tempdir().unwrap();
    let platform = LocalPlatform::new(options(dir.path()));
    let mut rx = platform.state();
    platform.scale(&template(1, &[("HEALTH", "503")]), 1);
    let mut live = template(2, &[("HEALTH", "500")]);
    live.readiness.path = "/".into();
    let mut liveness = Probe::http("/health");
    liveness.interval = Duration::from_millis(100);
    live.liveness = Some(liveness);
    platform.scale(&live, 1);
    let state = until(&mut rx, "a liveness restart", |s| {
        s.revisions
            .get(&key(2))
            .is_some_and(|r| r.replicas.iter().any(|p| p.restarts >= 1))
    })
    .await;
    let replica = &state.revisions[&key(2)].replicas[0];
    assert!(
        replica
            .last_error
            .as_deref()
            .unwrap_or("")
            .starts_with("liveness probe failed 3 times"),
        "{replica:?}"
    );
    let unready = &state.revisions[&key(1)].replicas[0];
    assert_eq!(
        unready.phase,
        ReplicaPhase::Starting,
        "never ready: {unready:?}"
    );
    assert_eq!(state.ready_count(&key(1)), 0);
    platform.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let platform = LocalPlatform::new(options(dir.path()));
    let mut rx = platform.state();
    platform.scale(&template(1, &[("IGNORE_TERM", "1")]), 1);
    let state = until(&mut rx, "ready", |s| s.ready_count(&key(1)) == 1).await;
    let pid = state.revisions[&key(1)].replicas[0].pid.unwrap();
    platform.shutdown().await;
    assert!(!alive(pid));
}

#[test]
fn a_new_control_plane_adopts_running_replicas_and_reaps_unclaimed_ones() {
    let dir = tempfile::tempdir().unwrap();
    // The first control plane runs two revisions, then "crashes": its runtime is dropped
    // without a shutdown, as after SIGKILL; the replicas, in their own process groups, go on.
    let first = tokio::runtime::Runtime::new().unwrap();
    let pids = first.block_on(async {
        let platform = LocalPlatform::new(options(dir.path()));
        let mut rx = platform.state();
        platform.scale(&template(1, &[]), 1);
        platform.scale(&template(2, &[]), 1);
        let s = until(&mut rx, "both ready", |s| {
            s.ready_count(&key(1)) == 1 && s.ready_count(&key(2)) == 1
        })
        .await;
        let pid = |k| s.revisions[&key(k)].replicas[0].pid.unwrap();
        (pid(1), pid(2))
    });
    drop(first);
    assert!(alive(pids.0) && alive(pids.1));

    let second = tokio::runtime::Runtime::new().unwrap();
    second.block_on(async {
        let platform = LocalPlatform::new(options(dir.path()));
        let mut rx = platform.state();
        platform.scale(&template(1, &[]), 1);
        let s = until(&mut rx, "the adopted replica ready", |s| {
            s.ready_count(&key(1)) == 1
        })
        .await;
        assert_eq!(
            s.revisions[&key(1)].replicas[0].pid,
            Some(pids.0),
            "adopted, not started again"
        );
        let reaped = platform.reap_unclaimed();
        assert_eq!(reaped.len(), 1, "{reaped:?}");
        platform.shutdown().await;
    });
    let gone = |pid| {
        (0..100).any(|_| {
            !alive(pid) || {
                std::thread::sleep(Duration::from_millis(50));
                false
            }
        })
    };
    assert!(gone(pids.1), "the unclaimed replica was stopped");
    assert!(!alive(pids.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_and_memory_are_sampled_per_revision() {
    let dir = tempfile::tempdir().unwrap();
    let platform = LocalPlatform::new(options(dir.path()));
    let mut busy = template(1, &[]);
    busy.run.command = vec!["python3".into(), "-c".into(), "while True: pass".into()];
    busy.readiness.path = "/".into();
    assert_eq!(
        platform.resources("api", 1, Duration::from_secs(5)),
        None,
        "a revision the platform never ran is unknown"
    );
    platform.scale(&busy, 1);
    let before = platform
        .resources("api", 1, Duration::from_secs(5))
        .unwrap();
    assert_eq!(
        (before.cpu, before.memory),
        (None, None),
        "a running revision not sampled yet has no readings, not an error"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let window = Duration::from_secs(5);
    let usage = loop {
        if let Some(u) = platform
            .resources("api", 1, window)
            .filter(|u| u.cpu.is_some_and(|c| c > 0.2))
        {
            break u;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no CPU use seen: {:?}",
            platform.resources("api", 1, window)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let memory = usage.memory.unwrap();
    assert!(
        memory > 0.0 && memory < 1.0 && usage.replicas == 1,
        "{usage:?}"
    );
    platform.shutdown().await;
}
