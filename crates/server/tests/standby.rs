//! A standby's API: the health check says which control plane leads, and every other request,
//! read or write, with a token or without, is a 503 naming the leader's address; it stops
//! when told, leaving the listener to the control plane it becomes.

use std::time::Duration;

use bellwether_api::{ApiError, Health};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_names_the_leader_and_serves_nothing_else() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (leader, said) = watch::channel("http://10.0.0.1:7070".to_owned());
    let stop = CancellationToken::new();
    let serving = bellwether_server::serve_standby(
        &listener,
        said,
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
        assert_eq!(health.standby_of.as_deref(), Some("http://10.0.0.1:7070"));
        leader.send_replace("http://10.0.0.2:7070".to_owned());
        for request in [
            client.get(format!("{base}/v1/services")),
            client
                .post(format!("{base}/v1/services/web/deploy"))
                .bearer_auth("any")
                .body("{}"),
            client.get(format!("{base}/nowhere")),
        ] {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 503);
            let error: ApiError = response.json().await.unwrap();
            assert_eq!(
                error.error,
                "this control plane is a standby: the one that leads serves the API at http://10.0.0.2:7070"
            );
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
