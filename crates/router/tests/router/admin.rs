//! The admin API: signals as JSON, weights and routes changed at run time, Prometheus metrics,
//! and the same signals through the core's `SignalSource`.

use std::time::Duration;

use bellwether_core::signal::SignalSource;
use bellwether_router::RouterConfig;
use bytes::Bytes;
use tokio::net::TcpListener;

use crate::support::{Backend, Client, LIMIT, get, revision, start_router, table, tally};

#[tokio::test]
async fn weights_change_through_the_admin_api_and_signals_and_metrics_follow() {
    tokio::time::timeout(LIMIT, async {
        let (stable, canary) = (Backend::start("stable").await, Backend::start("canary").await);
        let spec = table(vec![
            revision("stable", 1, &[stable.addr], 10_000),
            revision("canary", 2, &[canary.addr], 0),
        ]);
        let running = start_router(spec, RouterConfig::default()).await;
        let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin_addr = admin.local_addr().unwrap();
        tokio::spawn(bellwether_router::admin::serve(running.router.clone(), admin, None));
        let mut control = Client::connect(admin_addr).await;

        let put = control.send("PUT", "/weights", &[], Bytes::from(r#"{"canary": "25%"}"#)).await.unwrap();
        assert_eq!(put.status, 200, "{}", put.text());
        let mut client = Client::connect(running.addr).await;
        let mut names = Vec::new();
        for _ in 0..400 {
            names.push(client.get("/", &[]).await.unwrap().backend().to_owned());
        }
        let counts = tally(names.iter().map(String::as_str));
        assert_eq!((counts["stable"], counts["canary"]), (300, 100));

        let refused = control.send("PUT", "/weights", &[], Bytes::from(r#"{"canary": 101}"#)).await.unwrap();
        assert_eq!(refused.status, 400);
        assert_eq!(refused.text(), "weight `101` is invalid: weight 101% is over 100%\n");
        let refused = control.send("PUT", "/weights", &[], Bytes::from(r#"{"blue": 1}"#)).await.unwrap();
        assert_eq!(refused.text(), "no revision is named `blue` (known: stable, canary)\n");

        let routes = r#"[{"revision": "canary", "header": "x-canary", "exact": "1"}]"#;
        let put = control.send("PUT", "/header-routes", &[], Bytes::from(routes)).await.unwrap();
        assert_eq!(put.status, 200, "{}", put.text());
        assert_eq!(get(running.addr, "/", &[("x-canary", "1")]).await.backend(), "canary");
        let table = control.get("/table", &[]).await.unwrap();
        assert!(table.text().contains(r#""exact": "1""#), "{}", table.text());

        let signals = control.get("/signals?window=30s", &[]).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(signals.body.as_ref().unwrap()).unwrap();
        let canary_report = json.as_array().unwrap().iter().find(|r| r["revision"] == "canary").unwrap();
        assert_eq!(canary_report["requests"], 101);
        assert_eq!(canary_report["success_rate"], 1.0);
        assert_eq!(canary_report["number"], 2);

        let sample = running.router.signals().sample("api", 1, Duration::from_secs(30)).unwrap();
        assert_eq!((sample.requests, sample.status_classes[1]), (300, 300));
        assert!(sample.latency.unwrap().p99 > 0.0);

        let metrics = control.get("/metrics", &[]).await.unwrap();
        let text = metrics.text();
        for line in [
            r#"bellwether_router_requests_total{service="api",revision="canary",class="2xx"} 101"#,
            r#"bellwether_router_requests_total{service="api",revision="stable",class="proxy_error"} 0"#,
            r#"bellwether_router_weight_ratio{service="api",revision="canary"} 0.25"#,
            r#"bellwether_router_request_duration_seconds_count{service="api",revision="stable"} 300"#,
            r#"bellwether_router_in_flight{service="api",revision="stable"} 0"#,
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
        assert_eq!(control.get("/nope", &[]).await.unwrap().status, 404);
        assert_eq!(control.send("DELETE", "/table", &[], Bytes::new()).await.unwrap().status, 405);
        let bad = control.send("PUT", "/table", &[], Bytes::from("{")).await.unwrap();
        assert_eq!(bad.status, 400);
        assert!(bad.text().starts_with("invalid JSON"), "{}", bad.text());
    })
    .await
    .unwrap();
}
