//! The router's own limits: an idle HTTP/2 connection is closed, connections past the cap
//! wait for a free slot, and the admin API is refused off loopback without a token and,
//! with one, answers only requests that present it.

use std::time::{Duration, Instant};

use bellwether_router::admin::{self, AdminToken};
use bellwether_router::{RouterConfig, RouterError};
use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Backend, Client, LIMIT, read, start_stable};

#[tokio::test]
async fn an_idle_h2c_connection_is_closed_after_the_idle_timeout() {
    tokio::time::timeout(LIMIT, async {
        let backend = Backend::start("stable").await;
        let idle = Duration::from_millis(300);
        let config = RouterConfig {
            idle_timeout: idle,
            ..RouterConfig::default()
        };
        let running = start_stable(backend.addr, config).await;
        let stream = TcpStream::connect(running.addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            TokioIo::new(stream),
        )
        .await
        .unwrap();
        let closed = tokio::spawn(async move {
            let _ = conn.await;
            Instant::now()
        });
        // Busy for several idle timeouts: kept open.
        let busy_until = Instant::now() + 4 * idle;
        let mut last = Instant::now();
        while last < busy_until {
            tokio::time::sleep(idle / 4).await;
            let req = http::Request::builder()
                .uri("http://api.test/")
                .body(Empty::<Bytes>::new())
                .unwrap();
            let answer = read(sender.send_request(req).await.unwrap()).await;
            assert_eq!(answer.status, 200);
            last = Instant::now();
        }
        // Then idle: closed within two idle timeouts.
        let at = closed.await.unwrap();
        let after = at - last;
        assert!(
            after >= idle && after < 3 * idle,
            "closed {after:?} after the last request"
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn connections_past_the_cap_wait_until_one_closes() {
    tokio::time::timeout(LIMIT, async {
        let backend = Backend::start("stable").await;
        let config = RouterConfig {
            max_connections: 1,
            ..RouterConfig::default()
        };
        let running = start_stable(backend.addr, config).await;
        let mut first = Client::connect(running.addr).await;
        assert_eq!(first.get("/", &[]).await.unwrap().status, 200);

        let mut second = TcpStream::connect(running.addr).await.unwrap();
        second
            .write_all(b"GET / HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let waited =
            tokio::time::timeout(Duration::from_millis(300), second.read_to_end(&mut answer)).await;
        assert!(
            waited.is_err(),
            "served past the cap: {:?}",
            String::from_utf8_lossy(&answer)
        );
        drop(first);
        second.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn the_admin_api_needs_a_token_off_loopback_and_checks_it_on_every_request() {
    tokio::time::timeout(LIMIT, async {
        let refused = admin::bind("0.0.0.0:0".parse().unwrap(), None).await;
        assert!(
            matches!(refused, Err(RouterError::AdminUnprotected(_))),
            "{refused:?}"
        );
        let message = refused.unwrap_err().to_string();
        assert!(message.contains("--admin-token"), "{message}");

        let backend = Backend::start("stable").await;
        let running = start_stable(backend.addr, RouterConfig::default()).await;
        let token = AdminToken::new("s3cret").unwrap();
        let listener = admin::bind("127.0.0.1:0".parse().unwrap(), Some(&token))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(admin::serve(running.router.clone(), listener, Some(token)));
        let mut control = Client::connect(addr).await;
        let table = r#"{"service": "api", "revisions": []}"#;
        for headers in [
            vec![],
            vec![("authorization", "Bearer wrong")],
            vec![("authorization", "s3cret")],
        ] {
            let answer = control.get("/table", &headers).await.unwrap();
            assert_eq!(answer.status, 401, "{headers:?}");
            let put = control
                .send("PUT", "/table", &headers, Bytes::from(table))
                .await
                .unwrap();
            assert_eq!(put.status, 401, "{headers:?}");
        }
        assert_eq!(running.router.spec().revisions.len(), 1, "nothing changed");
        let authorized = [("authorization", "Bearer s3cret")];
        let answer = control.get("/table", &authorized).await.unwrap();
        assert_eq!(answer.status, 200, "{}", answer.text());
    })
    .await
    .unwrap();
}
