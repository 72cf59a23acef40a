//! A standby's API: the health check says which control plane leads; every other request is
//! passed on to the leader as it came (method, path, query, token, body) and its answer
//! back, after the browser checks against the standby's own address; a leader it cannot or
//! must not reach is named in a 503. It stops when told, leaving the listener to the control
//! plane it becomes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use bellwether_api::{ApiError, Health};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// A leader that answers 202 with what it was sent, and counts the requests.
async fn leader(count: Arc<AtomicUsize>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().fallback(move |request: Request| {
        let count = Arc::clone(&count);
        async move {
            count.fetch_add(1, Ordering::SeqCst);
            let (head, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            let header = |name: &str| {
                head.headers
                    .get(name)
                    .map(|v| v.to_str().unwrap().to_owned())
            };
            let echo = serde_json::json!({
                "method": head.method.as_str(),
                "uri": head.uri.to_string(),
                "authorization": header("authorization"),
                "host": header("host"),
                "origin": header("origin"),
                "body": String::from_utf8_lossy(&body),
            });
            (StatusCode::ACCEPTED, axum::Json(echo))
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_passes_requests_on_to_the_leader_and_names_it_when_it_cannot() {
    let count = Arc::new(AtomicUsize::new(0));
    let leading = leader(Arc::clone(&count)).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let own = listener.local_addr().unwrap();
    let base = format!("http://{own}");
    let (leader_is, said) = watch::channel(leading.clone());
    let stop = CancellationToken::new();
    let serving = bellwether_server::serve_standby(
        &listener,
        said,
        vec!["bw.example".to_owned()],
        bellwether_server::Limits::default(),
        None,
        stop.clone(),
    );
    let asking = async {
        let client = reqwest::Client::new();
        let health: Health = client
            .get(format!("{base}/v1/health"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health.standby_of.as_deref(), Some(leading.as_str()));

        let read = client
            .get(format!("{base}/v1/services?limit=3"))
            .bearer_auth("t0ken")
            .header("origin", &base)
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), 202);
        let echo: serde_json::Value = read.json().await.unwrap();
        assert_eq!(echo["method"], "GET");
        assert_eq!(echo["uri"], "/v1/services?limit=3");
        assert_eq!(echo["authorization"], "Bearer t0ken");
        assert_eq!(echo["host"], leading.trim_start_matches("http://"));
        assert_eq!(echo["origin"], serde_json::Value::Null);
        let write = client
            .post(format!("{base}/v1/services/web/deploy"))
            .bearer_auth("t0ken")
            .header("content-type", "application/json")
            .body(r#"{"version":"v2"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(write.status(), 202);
        let echo: serde_json::Value = write.json().await.unwrap();
        assert_eq!(
            (echo["method"].as_str(), echo["body"].as_str()),
            (Some("POST"), Some(r#"{"version":"v2"}"#))
        );
        assert_eq!(count.load(Ordering::SeqCst), 2);

        // What a browser could be tricked into sending never reaches the leader.
        let rebound = client
            .get(format!("{base}/v1/services"))
            .header("host", format!("evil.example:{}", own.port()))
            .send()
            .await
            .unwrap();
        assert_eq!(rebound.status(), 421);
        let named = client
            .get(format!("{base}/v1/services"))
            .header("host", format!("bw.example:{}", own.port()))
            .send()
            .await
            .unwrap();
        assert_eq!(named.status(), 202, "a name it was given is its own");
        let other_site = client
            .post(format!("{base}/v1/services/web/deploy"))
            .header("origin", "http://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(other_site.status(), 403);
        assert_eq!(count.load(Ordering::SeqCst), 3);

        // A leader address that leads back to the standby is not a loop.
        leader_is.send_replace(base.clone());
        let looped = client
            .get(format!("{base}/v1/services"))
            .send()
            .await
            .unwrap();
        assert_eq!(looped.status(), 503);
        let error: ApiError = looped.json().await.unwrap();
        assert!(
            error.error.ends_with("but that address leads to a standby"),
            "{}",
            error.error
        );

        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gone = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        for (leader, why) in [
            (gone.as_str(), "which cannot be reached"),
            ("https://10.0.0.2:7070", "so ask it"),
        ] {
            leader_is.send_replace(leader.to_owned());
            let response = client
                .get(format!("{base}/v1/services"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 503);
            let error: ApiError = response.json().await.unwrap();
            let expected = format!(
                "this control plane is a standby: the one that leads serves the API at {leader}, {why}"
            );
            assert!(error.error.starts_with(&expected), "{}", error.error);
        }
        stop.cancel();
    };
    tokio::time::timeout(Duration::from_secs(30), async {
        tokio::join!(serving, asking);
    })
    .await
    .expect("bounded");
    // The listener is free for what comes next.
    assert!(listener.local_addr().is_ok());
}
