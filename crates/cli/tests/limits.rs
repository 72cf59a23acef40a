//! The control plane's limits, tried by clients that break them, against a real
//! `bellwether up`: a client that sends a request head slowly or nothing at all, more
//! connections than it serves at once, webhook deliveries that are too large, unsigned,
//! without an id, too many at once, delivered twice (also across a restart) or replaying an
//! old push. Raw TCP where the test must control every byte.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{COMMAND, ControlPlane, eventually, git};

const SECRET: &str = "s3cret shared with the forge";

/// A git repository in `dir/repo` whose pipeline `ci` runs on every push to `main`.
fn repo(dir: &Path) -> PathBuf {
    repo_with(
        dir,
        "pipelines:\n  ci:\n    on:\n      push:\n        branches: [main]\n    jobs:\n      build:\n        steps:\n          - run: echo \"$GITHUB_SHA\"\n",
    )
}

/// A git repository in `dir/repo` with `yaml` as its project file, committed on `main`.
fn repo_with(dir: &Path, yaml: &str) -> PathBuf {
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join("bellwether.yaml"), yaml).unwrap();
    std::fs::write(repo.join(".gitignore"), ".bellwether/\n").unwrap();
    git(&repo, &["init", "--quiet", "--initial-branch=main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "--quiet", "-m", "first"]);
    repo
}

fn secret_file(dir: &Path) -> String {
    let file = dir.join("webhook-secret");
    std::fs::write(&file, SECRET).unwrap();
    file.display().to_string()
}

/// `host:port` of an `http://host:port` address.
fn authority(url: &str) -> &str {
    url.trim_start_matches("http://").split('/').next().unwrap()
}

fn connect(url: &str) -> TcpStream {
    let stream = TcpStream::connect(authority(url)).unwrap();
    stream.set_read_timeout(Some(COMMAND)).unwrap();
    stream
}

/// Reads until the peer closes the connection (or resets it), failing after `within`; how
/// long that took and what came before the close.
fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (Duration, String) {
    let start = Instant::now();
    stream.set_read_timeout(Some(within)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!(
                "the connection was not closed within {within:?} ({e}); read {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
    (start.elapsed(), String::from_utf8_lossy(&got).into_owned())
}

/// Reads one response's head (up to the blank line), failing after `within`.
fn read_head(stream: &mut TcpStream, within: Duration) -> String {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(0) => panic!(
                "closed before a response: {:?}",
                String::from_utf8_lossy(&got)
            ),
            Ok(_) => got.push(byte[0]),
            Err(e) => panic!("no response within {within:?}: {e}"),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

fn health_request(url: &str) -> String {
    format!(
        "GET /v1/health HTTP/1.1\r\nHost: {}\r\n\r\n",
        authority(url)
    )
}

#[test]
fn a_client_slow_to_send_a_request_head_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo(dir.path());
    let plane =
        ControlPlane::start_with(&repo.join("bellwether.yaml"), &["--header-timeout", "1s"]);
    let timeout = Duration::from_secs(1);
    let bound = Duration::from_secs(10);

    // Part of a head, then nothing.
    let mut slow = connect(&plane.server);
    slow.write_all(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    let (took, _) = read_until_closed(&mut slow, bound);
    assert!(took >= timeout - Duration::from_millis(100), "{took:?}");

    // Nothing at all.
    let mut silent = connect(&plane.server);
    let (took, got) = read_until_closed(&mut silent, bound);
    assert!(took >= timeout - Duration::from_millis(100), "{took:?}");
    assert!(!got.contains("200 OK"), "{got}");

    // A kept-alive connection idle after its request.
    let mut idle = connect(&plane.server);
    idle.write_all(health_request(&plane.server).as_bytes())
        .unwrap();
    assert!(read_head(&mut idle, bound).starts_with("HTTP/1.1 200"));
    read_until_closed(&mut idle, bound);

    // Meanwhile a prompt client is served.
    let mut prompt = connect(&plane.server);
    prompt
        .write_all(health_request(&plane.server).as_bytes())
        .unwrap();
    assert!(read_head(&mut prompt, bound).starts_with("HTTP/1.1 200"));
    plane.stop();
}

#[test]
fn connections_past_the_limit_wait_until_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo(dir.path());
    let plane = ControlPlane::start_with(
        &repo.join("bellwether.yaml"),
        &["--max-connections", "1", "--header-timeout", "60s"],
    );
    let mut first = connect(&plane.server);
    first
        .write_all(health_request(&plane.server).as_bytes())
        .unwrap();
    assert!(read_head(&mut first, COMMAND).starts_with("HTTP/1.1 200"));

    // The second connects (the kernel queues it) but is not served while the first is open.
    let mut second = connect(&plane.server);
    second
        .write_all(health_request(&plane.server).as_bytes())
        .unwrap();
    second
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut byte = [0u8; 1];
    let waited = second.read(&mut byte);
    assert!(
        matches!(&waited, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
        "served past the limit: {waited:?}"
    );
    drop(first);
    assert!(read_head(&mut second, COMMAND).starts_with("HTTP/1.1 200"));
    plane.stop();
}

/// A delivery's head: signed `signature`, with delivery id `id` when given.
fn delivery_head(url: &str, signature: &str, id: Option<&str>, framing: &str) -> String {
    let id = id.map_or_else(String::new, |id| format!("X-GitHub-Delivery: {id}\r\n"));
    format!(
        "POST /v1/webhooks/github HTTP/1.1\r\nHost: {}\r\nX-GitHub-Event: push\r\n{id}X-Hub-Signature-256: {signature}\r\nContent-Type: application/json\r\n{framing}\r\n",
        authority(url)
    )
}

fn sign(body: &str) -> String {
    bellwether_triggers::webhook::sign(SECRET.as_bytes(), body.as_bytes())
}

fn push(after: &str) -> String {
    json!({"ref": "refs/heads/main", "after": after, "pusher": {"name": "forge-user"}}).to_string()
}

/// Sends a delivery; its status and JSON body.
fn deliver(url: &str, id: Option<&str>, body: &str, signature: &str) -> (u16, Value) {
    let mut stream = connect(url);
    let framing = format!("Content-Length: {}\r\nConnection: close\r\n", body.len());
    stream
        .write_all(delivery_head(url, signature, id, &framing).as_bytes())
        .unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let (_, response) = read_until_closed(&mut stream, COMMAND);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a response: {response:?}"));
    let json = response
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

/// `up` serving webhooks on a listener of their own; the webhooks' address.
fn start_with_webhooks(repo: &Path, secret: &str, more: &[&str]) -> (ControlPlane, String) {
    let flags = [
        &[
            "--webhook-secret-file",
            secret,
            "--webhook-listen",
            "127.0.0.1:0",
        ],
        more,
    ]
    .concat();
    let plane = ControlPlane::start_with(&repo.join("bellwether.yaml"), &flags);
    let line = plane.banner_line("signed webhooks at ");
    let url = line
        .split("signed webhooks at ")
        .nth(1)
        .unwrap()
        .trim()
        .trim_end_matches("/v1/webhooks/github")
        .to_owned();
    (plane, url)
}

#[test]
fn webhook_deliveries_too_large_unsigned_without_id_or_too_many_are_refused_early() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo(dir.path());
    let secret = secret_file(dir.path());
    let (plane, hooks) = start_with_webhooks(&repo, &secret, &["--max-webhooks", "1"]);
    let first = git(&repo, &["rev-parse", "HEAD"]);
    let body = push(&first);

    // The webhook is served on its own listener only.
    let (status, answer) = deliver(&plane.server, Some("d0"), &body, &sign(&body));
    assert_eq!(status, 404, "{answer}");

    // A declared 30 MiB is refused on its head: 413 while nearly all of it is unsent.
    let mut large = connect(&hooks);
    let framing = format!("Content-Length: {}\r\n", 30 * 1024 * 1024);
    large
        .write_all(delivery_head(&hooks, &sign("x"), Some("d1"), &framing).as_bytes())
        .unwrap();
    large.write_all(&[b' '; 64 * 1024]).unwrap();
    let head = read_head(&mut large, COMMAND);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");

    // A chunked body is refused as soon as it passes 25 MiB, long before it ends (it never
    // does here: the sender keeps going until it is answered or cut off).
    let mut chunked = connect(&hooks);
    chunked
        .write_all(
            delivery_head(
                &hooks,
                &sign("x"),
                Some("d2"),
                "Transfer-Encoding: chunked\r\n",
            )
            .as_bytes(),
        )
        .unwrap();
    let answered = Arc::new(AtomicBool::new(false));
    let mut writer = chunked.try_clone().unwrap();
    let stop = Arc::clone(&answered);
    let sender = std::thread::spawn(move || {
        let chunk = format!("{:x}\r\n{}\r\n", 1024 * 1024, " ".repeat(1024 * 1024));
        let mut sent = 0usize;
        while !stop.load(Ordering::SeqCst) && sent < 100 {
            if writer.write_all(chunk.as_bytes()).is_err() {
                break;
            }
            sent += 1;
        }
        sent
    });
    let head = read_head(&mut chunked, COMMAND);
    answered.store(true, Ordering::SeqCst);
    let sent = sender.join().unwrap();
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(sent < 100, "the whole body was taken before the answer");

    // Unsigned or wrongly signed: 401; without a delivery id: 400, saying why.
    let (status, answer) = deliver(&hooks, Some("d3"), &body, "sha256=00");
    assert_eq!(status, 401, "{answer}");
    let (status, answer) = deliver(&hooks, Some("d3"), &body, &sign("another body"));
    assert_eq!(status, 401, "{answer}");
    let (status, answer) = deliver(&hooks, None, &body, &sign(&body));
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("no X-GitHub-Delivery header"),
        "{answer}"
    );

    // One delivery at a time (`--max-webhooks 1`): one whose body is still coming holds
    // the slot, and the next is turned away with Retry-After.
    let refused = refused_while_one_is_held(&hooks, &body);
    assert!(refused.contains("retry-after: 5"), "{refused}");
    plane.stop();
}

/// A delivery whose body is still coming.
fn hold(hooks: &str, body: &str) -> TcpStream {
    let mut holding = connect(hooks);
    holding
        .write_all(
            delivery_head(hooks, &sign(body), Some("d4"), "Content-Length: 100\r\n").as_bytes(),
        )
        .unwrap();
    holding.write_all(b"{").unwrap();
    holding
}

/// Whether the server has answered or closed a connection, without waiting.
fn answered(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let answered = !matches!(
        stream.peek(&mut [0u8; 1]),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
    );
    stream.set_nonblocking(false).unwrap();
    answered
}

/// Holds the only slot with a delivery whose body is still coming and sends deliveries until
/// one is turned away for being one too many; that answer's head. Both race to the handler
/// on connections of their own, so the holding one may come second: it is then turned away
/// itself and sent again.
fn refused_while_one_is_held(hooks: &str, body: &str) -> String {
    let deadline = Instant::now() + COMMAND;
    let mut holding = hold(hooks, body);
    loop {
        let mut stream = connect(hooks);
        let framing = format!("Content-Length: {}\r\n", body.len());
        stream
            .write_all(delivery_head(hooks, &sign(body), None, &framing).as_bytes())
            .unwrap();
        stream.write_all(body.as_bytes()).unwrap();
        let head = read_head(&mut stream, COMMAND).to_ascii_lowercase();
        if head.starts_with("http/1.1 503") {
            return head;
        }
        if answered(&holding) {
            holding = hold(hooks, body);
        }
        assert!(Instant::now() < deadline, "never refused: {head}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_delivery_starts_its_runs_once_even_after_a_restart_and_an_old_push_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo(dir.path());
    let secret = secret_file(dir.path());
    let first = git(&repo, &["rev-parse", "HEAD"]);
    let body = push(&first);
    let id = "72d3162e-cc78-11e3-81ab-4c9367dc0958";

    let (plane, hooks) = start_with_webhooks(&repo, &secret, &[]);
    let (status, answer) = deliver(&hooks, Some(id), &body, &sign(&body));
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["runs"][0]["number"], 1, "{answer}");
    let (status, answer) = deliver(&hooks, Some(id), &body, &sign(&body));
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["ignored"]
            .as_str()
            .unwrap()
            .contains("received already"),
        "{answer}"
    );
    plane.stop();

    // The next control plane on the same data remembers it.
    let (plane, hooks) = start_with_webhooks(&repo, &secret, &[]);
    let (status, answer) = deliver(&hooks, Some(id), &body, &sign(&body));
    assert_eq!(status, 200, "{answer}");
    assert!(answer["runs"].as_array().unwrap().is_empty(), "{answer}");

    // Once main has moved on, a push of its old tip (a new id: a captured delivery sent
    // again with another) starts nothing and says why.
    std::fs::write(repo.join("README"), "second\n").unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "--quiet", "-m", "second"]);
    let second = git(&repo, &["rev-parse", "HEAD"]);
    let (status, answer) = deliver(&hooks, Some("replayed"), &body, &sign(&body));
    assert_eq!(status, 200, "{answer}");
    let why = answer["ignored"].as_str().unwrap();
    assert!(
        why.contains(&format!(
            "commit {first} is no longer the tip of branch `main`"
        )) && why.contains(&second),
        "{answer}"
    );
    // The push of the new tip runs.
    let fresh = push(&second);
    let (status, answer) = deliver(&hooks, Some("fresh"), &fresh, &sign(&fresh));
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["runs"][0]["number"], 2, "{answer}");
    plane.stop();
}

#[test]
fn runs_past_the_cap_are_queued_and_start_in_order_as_slots_free() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("record.txt");
    let go = dir.path().join("go");
    let yaml = format!(
        "pipelines:\n  slow:\n    on:\n      manual: {{}}\n    jobs:\n      wait:\n        steps:\n          - run: |\n              echo \"start $GITHUB_RUN_NUMBER\" >> {record}\n              while [ ! -f {go} ]; do sleep 0.05; done\n              echo \"end $GITHUB_RUN_NUMBER\" >> {record}\n",
        record = record.display(),
        go = go.display(),
    );
    let repo = repo_with(dir.path(), &yaml);
    let plane = ControlPlane::start_with(&repo.join("bellwether.yaml"), &["--max-runs", "1"]);
    for _ in 0..3 {
        let dispatched = plane.run(&["dispatch", "slow"]);
        assert_eq!(dispatched.code, 0, "{dispatched:?}");
    }
    let statuses = |plane: &ControlPlane| -> Vec<(u64, String)> {
        let (status, _, body) = plane.get_as(&plane.token, "/v1/runs");
        assert_eq!(status, 200, "{body}");
        let mut runs: Vec<(u64, String)> = serde_json::from_str::<Vec<Value>>(&body)
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["number"].as_u64().unwrap(),
                    r["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        runs.sort();
        runs
    };
    let one_running = [
        (1, "running".to_owned()),
        (2, "queued".to_owned()),
        (3, "queued".to_owned()),
    ];
    eventually(&plane, "run 1 running, 2 and 3 queued", COMMAND, || {
        (statuses(&plane) == one_running).then_some(())
    });
    // Run 1's step has started; the queued ones have not.
    eventually(&plane, "run 1's step", COMMAND, || {
        std::fs::read_to_string(&record)
            .ok()
            .filter(|r| !r.is_empty())
    });
    assert_eq!(std::fs::read_to_string(&record).unwrap(), "start 1\n");
    let file = repo.join("bellwether.yaml");
    let listed = plane.run(&["runs", "-f", file.to_str().unwrap()]);
    assert_eq!(listed.code, 0, "{listed:?}");
    assert_eq!(
        listed.stdout.matches("queued").count(),
        2,
        "{}",
        listed.stdout
    );

    std::fs::write(&go, "").unwrap();
    let done = [
        (1, "success".to_owned()),
        (2, "success".to_owned()),
        (3, "success".to_owned()),
    ];
    eventually(&plane, "every run done", COMMAND, || {
        (statuses(&plane) == done).then_some(())
    });
    // One at a time, in the order they came.
    assert_eq!(
        std::fs::read_to_string(&record).unwrap(),
        "start 1\nend 1\nstart 2\nend 2\nstart 3\nend 3\n"
    );
    plane.stop();
}

#[test]
fn a_queued_run_of_a_killed_control_plane_is_interrupted_like_a_running_one() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "pipelines:\n  slow:\n    on:\n      manual: {}\n    jobs:\n      wait:\n        steps:\n          - run: sleep 300\n";
    let repo = repo_with(dir.path(), yaml);
    let file = repo.join("bellwether.yaml");
    let plane = ControlPlane::start_with(&file, &["--max-runs", "1"]);
    for _ in 0..2 {
        assert_eq!(plane.run(&["dispatch", "slow"]).code, 0);
    }
    eventually(&plane, "run 2 queued", COMMAND, || {
        let (_, _, body) = plane.get_as(&plane.token, "/v1/runs/2");
        body.contains("\"status\":\"queued\"").then_some(())
    });
    plane.kill9();
    // The next command that opens the data directory finds both runs' locks free.
    let file = file.to_str().unwrap();
    for number in ["1", "2"] {
        let shown = support::bellwether(&["runs", number, "-f", file, "-o", "json"], &[]);
        assert_eq!(shown.code, 0, "{shown:?}");
        assert_eq!(
            support::json(&shown)["status"],
            "interrupted",
            "run {number}: {shown:?}"
        );
    }
}
