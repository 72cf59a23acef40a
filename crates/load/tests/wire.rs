//! The client's HTTP/1.1 against a server that writes scripted bytes: every framing of an
//! answer read whole, connections reused or made again as the server says, bodies sent with
//! their length, and a malformed answer failing its request rather than the run. In memory,
//! on tokio's paused clock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bellwether_load::client::{Connect, Connecting, Io};
use bellwether_load::metrics::{Metric, Rate};
use bellwether_load::{Options, Report, Run};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// How the server answers a path: the pieces it writes, a turn of the runtime apart, and
/// whether it closes the connection after them.
type Script = fn(&str) -> (Vec<&'static [u8]>, bool);

struct Raw {
    script: Script,
    /// Every request as it arrived, head and body.
    seen: Mutex<Vec<String>>,
    connections: AtomicUsize,
}

impl Raw {
    fn new(script: Script) -> Arc<Self> {
        Arc::new(Self {
            script,
            seen: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
        })
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    async fn serve(self: Arc<Self>, mut io: DuplexStream) {
        self.connections.fetch_add(1, Ordering::Relaxed);
        let mut buf = Vec::new();
        loop {
            let Some(request) = read_request(&mut io, &mut buf).await else {
                return;
            };
            let path = request.split(' ').nth(1).unwrap_or_default().to_owned();
            self.seen.lock().unwrap().push(request);
            let (pieces, close) = (self.script)(&path);
            for piece in pieces {
                if io.write_all(piece).await.is_err() {
                    return;
                }
                tokio::task::yield_now().await;
            }
            if close {
                return;
            }
        }
    }
}

/// Reads one request off `io`: its head, then as many bytes as its `content-length` says.
async fn read_request(io: &mut DuplexStream, buf: &mut Vec<u8>) -> Option<String> {
    loop {
        let mut fields = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Request::new(&mut fields);
        if let Ok(httparse::Status::Complete(head)) = parsed.parse(buf) {
            let length: usize = parsed
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .map_or(0, |h| {
                    std::str::from_utf8(h.value).unwrap().parse().unwrap()
                });
            if buf.len() >= head + length {
                let request = String::from_utf8(buf.drain(..head + length).collect()).unwrap();
                return Some(request);
            }
        }
        let mut chunk = [0u8; 4096];
        match io.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Connects to a [`Raw`] server in memory.
struct Dial(Arc<Raw>);

impl Connect for Dial {
    fn connect<'a>(&'a self, _authority: &'a str) -> Connecting<'a> {
        Box::pin(async move {
            let (client, server) = tokio::io::duplex(64 * 1024);
            tokio::spawn(Arc::clone(&self.0).serve(server));
            Ok(Box::new(client) as Box<dyn Io>)
        })
    }
}

/// A virtual bound: a run that hangs fails at it rather than never ending.
const BOUND: Duration = Duration::from_secs(3600);

/// One VU for 1 s, an iteration every 100 ms: ten of them.
async fn run(server: &Arc<Raw>, requests: &str) -> Report {
    let source = format!(
        "scenarios: {{s: {{executor: constant-vus, vus: 1, duration: 1s}}}}\nrequests:\n{requests}"
    );
    let plan = bellwether_load::load("t.yaml", &source, &|_| Err("no files".to_owned()))
        .unwrap_or_else(|e| panic!("{e}"));
    let run = Run::start(
        plan,
        Options {
            connector: Arc::new(Dial(Arc::clone(server))),
            samples: None,
            workers: Vec::new(),
        },
    );
    tokio::time::timeout(BOUND, run.finish())
        .await
        .expect("the run ends")
}

fn all(n: u64) -> Rate {
    Rate {
        passes: n,
        total: n,
    }
}

#[tokio::test(start_paused = true)]
async fn answers_framed_every_way_are_read_whole_on_one_connection() {
    let server = Raw::new(|path| match path {
        "/sized" => (
            vec![
                b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\nhello ",
                b"sized",
            ],
            false,
        ),
        "/chunked" => (
            vec![
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n6\r\nhello \r",
                b"\n7;x=1\r\nchunked\r\n0\r\n",
                b"x-trailer: 1\r\n\r\n",
            ],
            false,
        ),
        // A HEAD answer says how long a GET's body would be, and has none.
        "/head" => (
            vec![b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"],
            false,
        ),
        _ => (
            vec![b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"],
            false,
        ),
    });
    let report = run(
        &server,
        "  - {url: 'http://app:80/sized', checks: {status: 200, bodyContains: hello sized}}
  - {url: 'http://app:80/chunked', checks: {status: 200, bodyContains: hello chunked}}
  - {method: HEAD, url: 'http://app:80/head', checks: {status: 200}, sleep: 100ms}
",
    )
    .await;
    assert_eq!(report.metrics.count(Metric::Iterations), 10);
    assert_eq!(report.metrics.rate(Metric::HttpReqFailed).passes, 0);
    assert_eq!(
        report.metrics.checks(),
        [all(10), all(10), all(10), all(10), all(10)]
    );
    assert_eq!(
        server.connections(),
        1,
        "every answer left the connection reusable"
    );
}

#[tokio::test(start_paused = true)]
async fn a_server_that_closes_gets_a_new_connection_for_the_next_request() {
    let server = Raw::new(|path| match path {
        // A body that ends with the connection.
        "/until-close" => (vec![b"HTTP/1.1 200 OK\r\n\r\nuntil ", b"close"], true),
        "/says-close" => (
            vec![b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"],
            true,
        ),
        // Closed after a keep-alive answer without a word: the next GET goes on a new
        // connection and does not fail.
        _ => (
            vec![b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"],
            true,
        ),
    });
    let report = run(
        &server,
        "  - {url: 'http://app:80/until-close', checks: {bodyContains: until close}}
  - {url: 'http://app:80/says-close'}
  - {url: 'http://app:80/unannounced', sleep: 100ms}
",
    )
    .await;
    assert_eq!(report.metrics.count(Metric::HttpReqs), 30);
    assert_eq!(report.metrics.rate(Metric::HttpReqFailed).passes, 0);
    assert_eq!(report.metrics.checks(), [all(10)]);
    assert_eq!(server.connections(), 30);
}

#[tokio::test(start_paused = true)]
async fn bodies_go_with_their_length_and_a_get_without_one() {
    let server = Raw::new(|_| (vec![b"HTTP/1.1 204 No Content\r\n\r\n"], false));
    run(
        &server,
        "  - {method: POST, url: 'http://app:80/a', headers: {content-type: text/plain}, body: 'abc'}
  - {method: POST, url: 'http://app:80/b'}
  - {url: 'http://app:8080/c?d=1', sleep: 100ms}
",
    )
    .await;
    let seen = server.seen.lock().unwrap();
    assert_eq!(
        seen[..3],
        [
            "POST /a HTTP/1.1\r\ncontent-type: text/plain\r\nhost: app:80\r\ncontent-length: 3\r\n\r\nabc",
            "POST /b HTTP/1.1\r\nhost: app:80\r\ncontent-length: 0\r\n\r\n",
            "GET /c?d=1 HTTP/1.1\r\nhost: app:8080\r\n\r\n",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_malformed_answer_fails_its_request_not_the_run() {
    let server = Raw::new(|path| match path {
        "/bad" => (vec![b"HTTP/1.1 abc OK\r\n\r\n"], false),
        "/cut" => (
            vec![b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort"],
            true,
        ),
        _ => (vec![b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"], false),
    });
    let report = run(
        &server,
        "  - {url: 'http://app:80/bad'}
  - {url: 'http://app:80/cut'}
  - {url: 'http://app:80/good', sleep: 100ms}
",
    )
    .await;
    assert_eq!(report.metrics.count(Metric::Iterations), 10);
    assert_eq!(
        report.metrics.rate(Metric::HttpReqFailed),
        Rate {
            passes: 20,
            total: 30
        }
    );
}
