//! Weights, header routes, mirroring, forwarded headers and HTTP/2 from clients.

use bellwether_router::{HeaderRouteSpec, Matcher, MirrorSpec, RouterConfig};
use bytes::Bytes;

use crate::support::{
    Backend, Client, LIMIT, get, get_h2, revision, start_router, start_stable, table, tally,
};

#[tokio::test]
async fn weights_split_requests_and_header_routes_come_first() {
    tokio::time::timeout(LIMIT, async {
        let (stable, canary) = (
            Backend::start("stable").await,
            Backend::start("canary").await,
        );
        let mut spec = table(vec![
            revision("stable", 1, &[stable.addr], 9_000),
            revision("canary", 2, &[canary.addr], 1_000),
        ]);
        spec.header_routes = vec![
            HeaderRouteSpec {
                revision: "canary".into(),
                header: "x-canary".into(),
                matcher: Matcher::Exact("1".into()),
            },
            HeaderRouteSpec {
                revision: "canary".into(),
                header: "x-tester".into(),
                matcher: Matcher::Prefix("qa-".into()),
            },
            HeaderRouteSpec {
                revision: "stable".into(),
                header: "cookie".into(),
                matcher: Matcher::Regex("(^|; )pin=stable".into()),
            },
        ];
        let running = start_router(spec, RouterConfig::default()).await;
        let mut client = Client::connect(running.addr).await;
        let mut names = Vec::new();
        for _ in 0..1_000 {
            names.push(client.get("/", &[]).await.unwrap().backend().to_owned());
        }
        let counts = tally(names.iter().map(String::as_str));
        assert_eq!((counts["stable"], counts["canary"]), (900, 100));
        for (header, value, expected) in [
            ("x-canary", "1", "canary"),
            ("x-canary", "2", ""),
            ("x-tester", "qa-alice", "canary"),
            ("cookie", "a=1; pin=stable", "stable"),
        ] {
            let answers: Vec<String> = backends_for(&mut client, header, value).await;
            if expected.is_empty() {
                assert!(answers.iter().any(|a| a == "stable"), "{header}: {value}");
            } else {
                assert!(
                    answers.iter().all(|a| a == expected),
                    "{header}: {value} -> {answers:?}"
                );
            }
        }
    })
    .await
    .unwrap();
}

/// Twenty requests with one header, and which backend answered each.
async fn backends_for(client: &mut Client, header: &str, value: &str) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..20 {
        out.push(
            client
                .get("/", &[(header, value)])
                .await
                .unwrap()
                .backend()
                .to_owned(),
        );
    }
    out
}

#[tokio::test]
async fn backends_see_forwarding_headers_and_no_hop_by_hop_ones() {
    tokio::time::timeout(LIMIT, async {
        let backend = Backend::start("stable").await;
        let running = start_stable(backend.addr, RouterConfig::default()).await;
        let answer = get(
            running.addr,
            "/path?q=1",
            &[
                ("connection", "x-drop"),
                ("x-drop", "1"),
                ("x-forwarded-for", "203.0.113.9"),
                ("keep-alive", "timeout=5"),
            ],
        )
        .await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.headers["via"], "1.1 bellwether");
        let seen = &backend.seen()[0];
        assert_eq!(seen.uri, "/path?q=1");
        assert_eq!(seen.headers["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
        assert_eq!(seen.headers["via"], "1.1 bellwether");
        assert_eq!(seen.headers["host"], "api.test");
        for gone in ["x-drop", "keep-alive", "connection"] {
            assert!(!seen.headers.contains_key(gone), "{gone} was forwarded");
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn http2_clients_are_served_over_http1_backends() {
    tokio::time::timeout(LIMIT, async {
        let backend = Backend::start("stable").await;
        let running = start_stable(backend.addr, RouterConfig::default()).await;
        let answer = get_h2(running.addr, "/h2").await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.text(), "stable");
        let seen = &backend.seen()[0];
        assert_eq!(seen.headers["host"], "api.test");
        assert_eq!(seen.headers["via"], "2 bellwether");
        assert_eq!(seen.uri, "/h2");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_mirror_gets_copies_with_their_bodies_and_the_client_gets_the_primary_answer() {
    tokio::time::timeout(LIMIT, async {
        let (stable, shadow) = (
            Backend::start("stable").await,
            Backend::start("shadow").await,
        );
        let mut spec = table(vec![
            revision("stable", 1, &[stable.addr], 10_000),
            revision("shadow", 2, &[shadow.addr], 0),
        ]);
        spec.mirror = Some(MirrorSpec {
            revision: "shadow".into(),
            weight: "50".parse().unwrap(),
        });
        let running = start_router(spec, RouterConfig::default()).await;
        let mut client = Client::connect(running.addr).await;
        for i in 0..10 {
            let answer = client
                .send("POST", "/orders", &[], Bytes::from(format!("order {i}")))
                .await
                .unwrap();
            assert_eq!(answer.text(), "stable");
        }
        let signals = running.router.signals().clone();
        // Mirrored requests are fire-and-forget: wait until the shadow's five have completed.
        while signals
            .revision("api", 2, "shadow")
            .sample(std::time::Duration::from_secs(60))
            .requests
            < 5
        {
            tokio::task::yield_now().await;
        }
        let copies = shadow.seen();
        assert_eq!(copies.len(), 5);
        assert!(
            copies
                .iter()
                .all(|c| c.method == "POST" && c.body.starts_with(b"order "))
        );
        assert_eq!(stable.seen().len(), 10);
    })
    .await
    .unwrap();
}
