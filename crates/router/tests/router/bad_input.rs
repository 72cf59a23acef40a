//! Bad clients and bad backends: each gets a clear status, and the router keeps serving
//! everyone else meanwhile.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bellwether_router::{HeaderRouteSpec, Matcher, RouterConfig};
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{
    Backend, Client, LIMIT, dead_addr, get, raw, raw_backend, read_head, revision, start_router,
    start_stable, table,
};

fn quick() -> RouterConfig {
    RouterConfig {
        header_read_timeout: Duration::from_millis(300),
        response_timeout: Duration::from_millis(300),
        body_idle_timeout: Duration::from_millis(300),
        ..RouterConfig::default()
    }
}

#[tokio::test]
async fn malformed_and_oversized_requests_get_4xx_and_others_are_served() {
    tokio::time::timeout(LIMIT, async {
        let backend = Backend::start("stable").await;
        let running = start_router(table(vec![revision("stable", 1, &[backend.addr], 10_000)]), quick()).await;
        let mut bystander = Client::connect(running.addr).await;
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"GARBAGE\r\n\r\n".to_vec(), "HTTP/1.1 400"),
            (b"GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n".to_vec(), "HTTP/1.1 400"),
            (b"GET / HTTP/9.9\r\n\r\n".to_vec(), "HTTP/1.1 400"),
            (
                [b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ".as_slice(), &vec![b'a'; 100_000], b"\r\n\r\n"].concat(),
                "HTTP/1.1 431",
            ),
            (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nConnection: close\r\n\r\n".to_vec(), "HTTP/1.1 405"),
        ];
        for (bytes, expected) in cases {
            let answer = raw(running.addr, &bytes).await;
            assert!(answer.starts_with(expected), "{:?} -> {answer:?}", String::from_utf8_lossy(&bytes[..20.min(bytes.len())]));
            assert_eq!(bystander.get("/", &[]).await.unwrap().status, 200);
        }
        assert!(backend.seen().iter().all(|s| s.method == "GET"));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_slowloris_client_gets_408_while_others_are_served() {
    tokio::time::timeout(LIMIT, async {
        let backend = Backend::start("stable").await;
        let running = start_stable(backend.addr, quick()).await;
        for partial in [b"G".as_slice(), b"GET / HTTP/1.1\r\nHost: a\r\n"] {
            let mut slow = TcpStream::connect(running.addr).await.unwrap();
            slow.write_all(partial).await.unwrap();
            // Others are served while the slow client holds its connection open.
            assert_eq!(get(running.addr, "/", &[]).await.status, 200);
            let mut answer = Vec::new();
            slow.read_to_end(&mut answer).await.unwrap();
            let answer = String::from_utf8_lossy(&answer);
            assert!(
                answer.starts_with("HTTP/1.1 408 Request Timeout"),
                "{answer}"
            );
            assert!(
                answer.ends_with("did not arrive within the limit\n"),
                "{answer}"
            );
        }
        // An idle connection that never started a request is closed without an answer.
        let mut idle = TcpStream::connect(running.addr).await.unwrap();
        let mut answer = Vec::new();
        idle.read_to_end(&mut answer).await.unwrap();
        assert!(answer.is_empty());
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_hanging_backend_gets_504_naming_its_revision() {
    tokio::time::timeout(LIMIT, async {
        let hang = raw_backend(|stream| async move {
            // Holds the connection open and never answers.
            let _keep = stream;
            std::future::pending::<()>().await;
        })
        .await;
        let healthy = Backend::start("stable").await;
        let mut spec = table(vec![
            revision("stable", 1, &[healthy.addr], 10_000),
            revision("canary", 2, &[hang], 0),
        ]);
        spec.header_routes = vec![HeaderRouteSpec {
            revision: "canary".into(),
            header: "x-canary".into(),
            matcher: Matcher::Exact("1".into()),
        }];
        let running = start_router(spec, quick()).await;
        let waiting = tokio::spawn(async move { get(running.addr, "/", &[("x-canary", "1")]).await });
        for _ in 0..5 {
            assert_eq!(get(running.addr, "/", &[]).await.text(), "stable");
        }
        let answer = waiting.await.unwrap();
        assert_eq!(answer.status, 504);
        assert_eq!(
            answer.text(),
            format!("bellwether: revision `canary` of service `api` timed out: {hang} did not answer within 300ms\n")
        );
        let s = running.router.signals().revision("api", 2, "canary").sample(Duration::from_secs(60));
        assert_eq!((s.requests, s.proxy_errors), (1, 1));
    })
    .await
    .unwrap();
}

/// A canary reached by header whose backend sends a head and ten of a hundred body bytes,
/// then closes the connection (`stall: false`) or keeps it open and silent. The client must
/// see that one response cut off while the stable revision keeps serving; returns the
/// canary's signals.
async fn cut_mid_body(stall: bool) -> bellwether_core::signal::TrafficSample {
    let broken = raw_backend(move |mut stream| async move {
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten b";
        let _ = stream.write_all(head).await;
        if stall {
            std::future::pending::<()>().await;
        }
        // Dropping the stream closes it ninety bytes short.
    })
    .await;
    let healthy = Backend::start("stable").await;
    let mut spec = table(vec![
        revision("stable", 1, &[healthy.addr], 10_000),
        revision("canary", 2, &[broken], 0),
    ]);
    spec.header_routes = vec![HeaderRouteSpec {
        revision: "canary".into(),
        header: "x-canary".into(),
        matcher: Matcher::Exact("1".into()),
    }];
    let running = start_router(spec, quick()).await;
    let mut client = Client::connect(running.addr).await;
    let cut = client.get("/", &[("x-canary", "1")]).await.expect("cut");
    assert_eq!(cut.status, 200, "the status had already been sent");
    assert!(
        cut.body.is_err(),
        "the client must see the body cut, not a short one"
    );
    assert_eq!(get(running.addr, "/", &[]).await.text(), "stable");
    running
        .router
        .signals()
        .revision("api", 2, "canary")
        .sample(Duration::from_secs(60))
}

#[tokio::test]
async fn a_backend_closing_mid_response_cuts_only_that_response() {
    let s = tokio::time::timeout(LIMIT, cut_mid_body(false))
        .await
        .unwrap();
    assert_eq!((s.requests, s.proxy_errors, s.status_classes[1]), (1, 1, 0));
}

#[tokio::test]
async fn a_backend_stalling_mid_body_is_cut_off_after_the_idle_timeout() {
    let s = tokio::time::timeout(LIMIT, cut_mid_body(true))
        .await
        .unwrap();
    assert_eq!((s.requests, s.proxy_errors), (1, 1));
}

#[tokio::test]
async fn a_pooled_connection_the_backend_closed_is_not_used_even_for_a_post() {
    tokio::time::timeout(LIMIT, async {
        // Each connection answers one request as keep-alive, then the backend closes it.
        let closed = Arc::new(tokio::sync::Notify::new());
        let closing = Arc::clone(&closed);
        let backend = raw_backend(move |mut stream| {
            let closing = Arc::clone(&closing);
            async move {
                // Whatever body follows the head is read, so that closing sends FIN, not RST.
                let _ = tokio::time::timeout(Duration::from_millis(50), stream.read(&mut [0; 64]))
                    .await;
                let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nonce";
                let _ = stream.write_all(answer).await;
                drop(stream);
                closing.notify_one();
            }
        })
        .await;
        let running = start_stable(backend, quick()).await;
        let mut client = Client::connect(running.addr).await;
        assert_eq!(client.get("/", &[]).await.unwrap().text(), "once");
        closed.notified().await;
        // A POST is never retried: the closed connection must be noticed before sending.
        let post = client
            .send("POST", "/", &[], Bytes::from_static(b"x"))
            .await
            .unwrap();
        assert_eq!((post.status.as_u16(), post.text().as_str()), (200, "once"));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_kept_alive_connection_closed_under_a_request_is_retried_only_when_that_is_safe() {
    tokio::time::timeout(LIMIT, async {
        // Each connection answers its first request, then reads the next and closes without
        // answering, as a backend whose idle timeout strikes just as a request arrives.
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        let backend = raw_backend(move |mut stream| {
            count.fetch_add(1, Ordering::SeqCst);
            async move {
                let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                let _ = stream.write_all(answer).await;
                read_head(&mut stream).await;
            }
        })
        .await;
        let running = start_stable(backend, quick()).await;
        let mut client = Client::connect(running.addr).await;
        assert_eq!(client.get("/", &[]).await.unwrap().text(), "ok");
        let again = client.get("/", &[]).await.unwrap();
        assert_eq!((again.status.as_u16(), again.text().as_str()), (200, "ok"));
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            2,
            "the GET went again on a new connection"
        );
        // A POST may have been acted on: it is not sent twice.
        let post = client.send("POST", "/", &[], Bytes::new()).await.unwrap();
        assert_eq!(post.status, 502);
        assert!(
            post.text()
                .ends_with("the connection closed before a response\n"),
            "{}",
            post.text()
        );
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn refused_connections_are_retried_on_another_replica_and_ejected() {
    tokio::time::timeout(LIMIT, async {
        let (dead, live) = (dead_addr().await, Backend::start("stable").await);
        let spec = table(vec![revision("stable", 1, &[dead, live.addr], 10_000)]);
        let config = RouterConfig {
            base_ejection: Duration::from_secs(30),
            ..quick()
        };
        let running = start_router(spec, config).await;
        let mut client = Client::connect(running.addr).await;
        for _ in 0..20 {
            assert_eq!(client.get("/", &[]).await.unwrap().status, 200);
        }
        // After the first refusal the dead replica is ejected: no more tries reach it.
        let s = running
            .router
            .signals()
            .revision("api", 1, "stable")
            .sample(Duration::from_secs(60));
        assert_eq!((s.requests, s.proxy_errors), (20, 0));
        // A POST is not retried, but the ejected replica is skipped for it too.
        let post = client
            .send("POST", "/", &[], Bytes::from_static(b"x"))
            .await
            .unwrap();
        assert_eq!(post.status, 200);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn nothing_to_serve_gets_502_or_503_naming_the_revision() {
    tokio::time::timeout(LIMIT, async {
        let dead = dead_addr().await;
        let spec = table(vec![
            revision("stable", 1, &[dead], 10_000),
            revision("empty", 2, &[], 0),
        ]);
        let running = start_router(spec, quick()).await;
        let answer = get(running.addr, "/", &[]).await;
        assert_eq!(answer.status, 502);
        assert!(
            answer.text().starts_with(&format!(
                "bellwether: revision `stable` of service `api` failed: {dead}: cannot connect"
            )),
            "{}",
            answer.text()
        );
        running
            .router
            .update(|t| t.set_weights(&[("empty".into(), "100".parse().unwrap())]))
            .unwrap();
        let answer = get(running.addr, "/", &[]).await;
        assert_eq!(answer.status, 503);
        assert_eq!(
            answer.text(),
            "bellwether: revision `empty` of service `api` has no replicas\n"
        );
        running
            .router
            .update(|t| {
                t.set_weights(&[
                    ("empty".into(), "0".parse().unwrap()),
                    ("stable".into(), "0".parse().unwrap()),
                ])
            })
            .unwrap();
        let answer = get(running.addr, "/", &[]).await;
        assert_eq!(answer.status, 503);
        assert!(
            answer
                .text()
                .contains("service `api` has no revision for this request"),
            "{}",
            answer.text()
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_client_that_gives_up_is_counted_and_leaves_nothing_in_flight() {
    tokio::time::timeout(LIMIT, async {
        let hang = raw_backend(|stream| async move {
            let _keep = stream;
            std::future::pending::<()>().await;
        })
        .await;
        let running = start_stable(hang, RouterConfig::default()).await;
        let signals = running.router.signals().revision("api", 1, "stable");
        let mut client = TcpStream::connect(running.addr).await.unwrap();
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            .await
            .unwrap();
        while signals.sample(Duration::from_secs(60)).in_flight == 0 {
            tokio::task::yield_now().await;
        }
        drop(client);
        // The router notices the closed connection and drops the request's future.
        while signals.sample(Duration::from_secs(60)).requests == 0 {
            tokio::task::yield_now().await;
        }
        let s = signals.sample(Duration::from_secs(60));
        assert_eq!((s.requests, s.proxy_errors, s.in_flight), (1, 1, 0));
    })
    .await
    .unwrap();
}
