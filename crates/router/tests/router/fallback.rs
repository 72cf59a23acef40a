//! A request the revision it was routed to never received goes to the stable revision, and
//! counts as a proxy error of the revision it was meant for; a request that revision did
//! receive fails there.

use std::time::Duration;

use bellwether_core::signal::TrafficSample;
use bellwether_router::{HeaderRouteSpec, Matcher, RouterConfig};
use bytes::Bytes;
use tokio::io::AsyncWriteExt;

use crate::support::{
    Backend, Client, LIMIT, Running, dead_addr, raw_backend, revision, start_router, table,
};

fn quick() -> RouterConfig {
    RouterConfig {
        response_timeout: Duration::from_millis(500),
        ..RouterConfig::default()
    }
}

fn sample(running: &Running, number: u64, name: &str) -> TrafficSample {
    running
        .router
        .signals()
        .revision("api", number, name)
        .sample(Duration::from_secs(60))
}

/// A router with `stable` at 50% on a live backend and `canary` at 50% on `canary`; a request
/// with `x-canary: yes` goes to the canary.
async fn split(stable: &Backend, canary: &[std::net::SocketAddr]) -> Running {
    let mut spec = table(vec![
        revision("stable", 1, &[stable.addr], 5_000),
        revision("canary", 2, canary, 5_000),
    ]);
    spec.header_routes = vec![HeaderRouteSpec {
        revision: "canary".into(),
        header: "x-canary".into(),
        matcher: Matcher::Exact("yes".into()),
    }];
    start_router(spec, quick()).await
}

const TO_CANARY: &[(&str, &str)] = &[("x-canary", "yes")];

#[tokio::test]
async fn a_refused_connection_falls_back_to_stable_and_counts_against_the_canary() {
    tokio::time::timeout(LIMIT, async {
        let stable = Backend::start("stable").await;
        let dead = dead_addr().await;
        let running = split(&stable, &[dead]).await;
        let mut client = Client::connect(running.addr).await;
        for _ in 0..10 {
            let answer = client.get("/", TO_CANARY).await.unwrap();
            assert_eq!((answer.status.as_u16(), answer.backend()), (200, "stable"));
        }
        // A request never written may go anywhere, whatever its method: a POST too.
        let post = client
            .send(
                "POST",
                "/orders",
                TO_CANARY,
                Bytes::from_static(b"one order"),
            )
            .await
            .unwrap();
        assert_eq!((post.status.as_u16(), post.backend()), (200, "stable"));
        let last = stable.seen().pop().unwrap();
        assert_eq!(
            (last.method.as_str(), &last.body[..]),
            ("POST", &b"one order"[..])
        );

        let canary = sample(&running, 2, "canary");
        assert_eq!((canary.requests, canary.proxy_errors), (11, 11));
        let stable_signals = sample(&running, 1, "stable");
        assert_eq!(
            (stable_signals.requests, stable_signals.proxy_errors),
            (11, 0)
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_revision_without_replicas_falls_back_and_the_stable_never_does() {
    tokio::time::timeout(LIMIT, async {
        let stable = Backend::start("stable").await;
        let running = split(&stable, &[]).await;
        for _ in 0..10 {
            let answer = crate::support::get(running.addr, "/", &[]).await;
            assert_eq!((answer.status.as_u16(), answer.backend()), (200, "stable"));
        }
        let canary = sample(&running, 2, "canary");
        assert!(canary.requests > 0, "{canary:?}");
        assert_eq!(canary.proxy_errors, canary.requests);
        assert_eq!(sample(&running, 1, "stable").requests, 10);

        // The stable is the revision with the most traffic: its failures are its own, never
        // sent to a revision still being judged.
        let canary = Backend::start("canary").await;
        let dead = dead_addr().await;
        let spec = table(vec![
            revision("stable", 1, &[dead], 9_000),
            revision("canary", 2, &[canary.addr], 1_000),
        ]);
        let running = start_router(spec, quick()).await;
        let mut client = Client::connect(running.addr).await;
        let mut failed = 0;
        for _ in 0..20 {
            let answer = client.get("/", &[]).await.unwrap();
            if answer.status == 502 {
                failed += 1;
            } else {
                assert_eq!(answer.backend(), "canary");
            }
        }
        // 90% of 20, within the turn's rounding.
        assert!((17..=19).contains(&failed), "{failed} failed");
        assert_eq!(canary.seen().len(), 20 - failed);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_written_request_with_a_body_is_not_retried_and_a_get_without_one_is() {
    tokio::time::timeout(LIMIT, async {
        let stable = Backend::start("stable").await;
        // Reads the request head and closes without a byte of an answer, as a replica that
        // crashes on it would.
        let crashing = raw_backend(|stream| async move { drop(stream) }).await;
        let running = split(&stable, &[crashing]).await;

        let post = Client::connect(running.addr)
            .await
            .send(
                "POST",
                "/orders",
                TO_CANARY,
                Bytes::from_static(b"one order"),
            )
            .await
            .unwrap();
        assert_eq!(post.status, 502, "{}", post.text());
        assert!(
            post.text().contains("broke off before answering"),
            "{}",
            post.text()
        );
        assert!(stable.seen().is_empty(), "the POST went nowhere else");

        let mut client = Client::connect(running.addr).await;
        for _ in 0..5 {
            let answer = client.get("/", TO_CANARY).await.unwrap();
            assert_eq!((answer.status.as_u16(), answer.backend()), (200, "stable"));
        }
        // An idempotent request with an empty body (`content-length: 0`) is sent again too.
        let headers = [("x-canary", "yes"), ("content-length", "0")];
        let put = client
            .send("PUT", "/flag", &headers, Bytes::new())
            .await
            .unwrap();
        assert_eq!((put.status.as_u16(), put.backend()), (200, "stable"));
        let last = stable.seen().pop().unwrap();
        assert_eq!(
            (last.method.as_str(), last.headers.get("content-length")),
            ("PUT", Some(&http::HeaderValue::from_static("0")))
        );
        let canary = sample(&running, 2, "canary");
        assert_eq!((canary.requests, canary.proxy_errors), (7, 7));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_request_answered_in_part_is_not_retried() {
    tokio::time::timeout(LIMIT, async {
        let stable = Backend::start("stable").await;
        let half = raw_backend(|mut stream| async move {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Le").await;
        })
        .await;
        let running = split(&stable, &[half]).await;
        for _ in 0..2 {
            let answer = crate::support::get(running.addr, "/", TO_CANARY).await;
            assert_eq!(answer.status, 502, "{}", answer.text());
        }
        assert!(
            stable.seen().is_empty(),
            "no request answered in part went there"
        );
        let canary = sample(&running, 2, "canary");
        assert_eq!((canary.requests, canary.proxy_errors), (2, 2));
    })
    .await
    .unwrap();
}
