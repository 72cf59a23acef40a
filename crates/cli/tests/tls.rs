//! `bellwether up` over TLS: a client that trusts the certificate (self-signed, made by the
//! test) is served; plain HTTP on the same port is not; a pipeline's deploy step still reaches
//! the API; and off loopback `up` refuses to listen without TLS unless told
//! `--insecure-listen`.

mod support;

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use support::{BIN, COMMAND, ControlPlane, bellwether};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

/// A service and a pipeline whose one step deploys it.
fn project(dir: &Path) -> std::path::PathBuf {
    let file = dir.join("bellwether.yaml");
    let yaml = format!(
        r#"services:
  web:
    replicas: 1
    run:
      command: ["{BIN}", "demo-service"]
    readiness: {{ path: /health, interval: 100ms }}
    strategy:
      canary:
        steps: [ {{setWeight: 50}} ]
pipelines:
  release:
    on:
      manual: {{}}
    jobs:
      ship:
        steps:
          - deploy: {{ service: web, revision: v1 }}
"#
    );
    std::fs::write(&file, yaml).unwrap();
    file
}

/// `GET path` over TLS to `authority`, trusting `ca` only; the whole answer.
async fn get_tls(authority: &str, ca: &str, path: &str, token: &str) -> String {
    request_tls(authority, ca, &format!("GET {path}"), token).await
}

/// `line` (method and path) over TLS, with an empty JSON body; the whole answer.
async fn request_tls(authority: &str, ca: &str, line: &str, token: &str) -> String {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.as_bytes()).unwrap())
        .unwrap();
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let stream = TcpStream::connect(authority).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await
        .expect("the handshake succeeds with the trusted certificate");
    let request = format!(
        "{line} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn the_api_is_served_over_tls_to_a_client_that_trusts_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let file = project(dir.path());
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let ca = certified.cert.pem();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, &ca).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let plane = ControlPlane::start_with(
        &file,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let authority = plane
        .server
        .strip_prefix("https://")
        .unwrap_or_else(|| panic!("the banner names an https address: {}", plane.server))
        .to_owned();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        tokio::time::timeout(COMMAND, async {
            let health = get_tls(&authority, &ca, "/v1/health", "").await;
            assert!(health.starts_with("HTTP/1.1 200"), "{health}");
            let services = get_tls(&authority, &ca, "/v1/services", &plane.token).await;
            assert!(services.starts_with("HTTP/1.1 200"), "{services}");
            let refused = get_tls(&authority, &ca, "/v1/services", "wrong").await;
            assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");

            // The pipeline's deploy step reaches the API (on the plain loopback listener `up`
            // opens for it) and the rollout is promoted.
            let dispatched = request_tls(
                &authority,
                &ca,
                "POST /v1/pipelines/release/dispatch",
                &plane.token,
            )
            .await;
            assert!(dispatched.starts_with("HTTP/1.1 202"), "{dispatched}");
            loop {
                let run = get_tls(&authority, &ca, "/v1/runs/1", &plane.token).await;
                let body = run.split_once("\r\n\r\n").map_or("", |(_, b)| b);
                let status = serde_json::from_str::<Value>(body).unwrap_or(Value::Null)["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if status == "success" {
                    break;
                }
                assert!(
                    ["", "queued", "running"].contains(&status.as_str()),
                    "{run}\n{:#?}",
                    plane.log()
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }

            // Plain HTTP on the TLS port is never answered as HTTP.
            let mut plain = TcpStream::connect(&authority).await.unwrap();
            plain
                .write_all(
                    format!("GET /v1/health HTTP/1.1\r\nHost: {authority}\r\n\r\n").as_bytes(),
                )
                .await
                .unwrap();
            let mut answer = Vec::new();
            let _ = plain.read_to_end(&mut answer).await;
            assert!(!answer.starts_with(b"HTTP/1.1"), "{answer:?}");
        })
        .await
        .unwrap();
    });
    plane.stop();
}

#[test]
fn up_refuses_to_listen_off_loopback_without_tls() {
    let dir = tempfile::tempdir().unwrap();
    let file = project(dir.path());
    let file = file.to_str().unwrap();
    for flags in [
        vec!["--listen", "0.0.0.0:0"],
        vec!["--webhook-listen", "0.0.0.0:0"],
    ] {
        let refused = bellwether(&[&["up", "-f", file][..], &flags].concat(), &[]);
        assert_eq!(refused.code, 1, "{refused:?}");
        assert!(
            refused
                .stderr
                .contains("without TLS: off loopback, tokens and webhooks would cross the network in the clear; give --tls-cert and --tls-key, or --insecure-listen"),
            "{refused:?}"
        );
        assert!(!refused.stdout.contains("listening"), "{refused:?}");
    }
}
