//! HTTP/1.1 framing between the router and its backends: every way a response body can end,
//! request bodies of known and unknown length, a backend that answers before reading the whole
//! request, and responses the router must refuse.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bellwether_router::RouterConfig;
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::{Backend, Client, LIMIT, raw, raw_backend, read_head, start_stable};

/// A backend speaking raw HTTP/1.1 that answers each request on a connection by its path, and
/// counts the connections it accepted.
async fn scripted_backend() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                loop {
                    let head = read_head(&mut stream).await;
                    let head = String::from_utf8_lossy(&head);
                    let Some(path) = head.split(' ').nth(1) else {
                        return;
                    };
                    let answer: &[u8] = match path {
                        "/chunked" => b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n",
                        "/head" => b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n",
                        "/empty" => b"HTTP/1.1 204 No Content\r\n\r\n",
                        "/continue" => b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
                        "/close" => b"HTTP/1.0 200 OK\r\n\r\nuntil the end",
                        "/two-lengths" => b"HTTP/1.1 200 OK\r\ncontent-length: 3, 4\r\n\r\nabcd",
                        _ => b"not http\r\n\r\n",
                    };
                    if stream.write_all(answer).await.is_err() || path == "/close" {
                        return;
                    }
                }
            });
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn responses_of_every_framing_arrive_whole_and_keep_their_connection() {
    tokio::time::timeout(LIMIT, async {
        let (backend, accepted) = scripted_backend().await;
        let running = start_stable(backend, RouterConfig::default()).await;
        let mut client = Client::connect(running.addr).await;

        let chunked = client.get("/chunked", &[]).await.unwrap();
        assert_eq!(chunked.status, 200);
        assert_eq!(chunked.body.unwrap(), "hello world");

        let head = client
            .send("HEAD", "/head", &[], Bytes::new())
            .await
            .unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.headers["content-length"], "11");
        assert_eq!(head.body.unwrap(), "");

        let empty = client.get("/empty", &[]).await.unwrap();
        assert_eq!(empty.status, 204);
        assert_eq!(empty.body.unwrap(), "");

        let continued = client.get("/continue", &[]).await.unwrap();
        assert_eq!(continued.status, 200, "the interim 100 is skipped");
        assert_eq!(continued.body.unwrap(), "ok");
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "one backend connection carried all four"
        );

        let until_close = client.get("/close", &[]).await.unwrap();
        assert_eq!(until_close.body.unwrap(), "until the end");
        let after = client.get("/chunked", &[]).await.unwrap();
        assert_eq!(after.body.unwrap(), "hello world");
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            2,
            "a body that ends with its connection needs a new one"
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn malformed_responses_get_502_naming_the_revision_and_what_was_wrong() {
    tokio::time::timeout(LIMIT, async {
        let (backend, _) = scripted_backend().await;
        let running = start_stable(backend, RouterConfig::default()).await;
        for (path, why) in [
            ("/two-lengths", "invalid content-length"),
            ("/garbage", "invalid response head"),
        ] {
            let answer = Client::connect(running.addr)
                .await
                .get(path, &[])
                .await
                .unwrap();
            assert_eq!(answer.status, 502, "{path}");
            let text = answer.text();
            assert!(
                text.starts_with("bellwether: revision `stable` of service `api` failed:")
                    && text.contains(why),
                "{path}: {text}"
            );
        }
        let s = running
            .router
            .signals()
            .revision("api", 1, "stable")
            .sample(std::time::Duration::from_secs(60));
        assert_eq!((s.requests, s.proxy_errors), (2, 2));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn request_bodies_go_through_whether_their_length_is_known_or_not() {
    tokio::time::timeout(LIMIT, async {
        let backend = Backend::start("stable").await;
        let running = start_stable(backend.addr, RouterConfig::default()).await;
        // Large enough that neither socket takes it in one write.
        let big: Bytes = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect::<Vec<_>>().into();
        let mut client = Client::connect(running.addr).await;
        let answer = client.send("POST", "/big", &[], big.clone()).await.unwrap();
        assert_eq!(answer.status, 200);

        let chunked = raw(
            running.addr,
            b"POST /chunked HTTP/1.1\r\nhost: api\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        )
        .await;
        assert!(chunked.starts_with("HTTP/1.1 200 OK"), "{chunked}");

        let seen = backend.seen();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].body, big);
        assert_eq!(seen[0].headers["content-length"], "4194304");
        assert_eq!(seen[1].body, "hello world");
        assert_eq!(seen[1].headers["transfer-encoding"], "chunked");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_backend_that_answers_before_reading_the_body_is_heard() {
    tokio::time::timeout(LIMIT, async {
        let backend = raw_backend(|mut stream| async move {
            let _ = stream
                .write_all(b"HTTP/1.1 413 Content Too Large\r\ncontent-length: 4\r\n\r\nbig!")
                .await;
            // Reads the rest, so that closing sends no reset, until the router lets go.
            let mut sink = vec![0; 64 * 1024];
            while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
        })
        .await;
        let running = start_stable(backend, RouterConfig::default()).await;
        let mut stream = tokio::net::TcpStream::connect(running.addr).await.unwrap();
        // Announces a body far larger than what is sent: only the early answer can end this.
        stream
            .write_all(b"PUT /upload HTTP/1.1\r\nhost: api\r\ncontent-length: 100000000\r\n\r\n")
            .await
            .unwrap();
        stream.write_all(&[b'x'; 64 * 1024]).await.unwrap();
        let mut answer = Vec::new();
        let mut buf = [0; 1024];
        while !answer.ends_with(b"big!") {
            match stream.read(&mut buf).await.unwrap() {
                0 => break,
                n => answer.extend_from_slice(&buf[..n]),
            }
        }
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
        assert!(answer.ends_with("big!"), "{answer}");
    })
    .await
    .unwrap();
}
