//! A small HTTP server on loopback with an answer for each kind of check, plain or over TLS
//! with a certificate made to expire when a test says.
#![allow(dead_code)] // each test file uses its own part of the server

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The server's address, and the PEM of its certificate when it speaks TLS.
pub(crate) struct Server {
    pub(crate) address: SocketAddr,
    pub(crate) certificate_pem: Option<String>,
}

impl Server {
    pub(crate) async fn plain() -> Self {
        Self::start(None).await
    }

    /// A TLS server for `localhost` and 127.0.0.1 whose self-signed certificate expires in
    /// `days` days.
    pub(crate) async fn tls(days: i64) -> Self {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .unwrap();
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(days);
        let certificate = params.self_signed(&key).unwrap();
        #[allow(deprecated)]
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(certificate.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
        let mut server = Self::start(Some(TlsAcceptor::from(Arc::new(config)))).await;
        server.certificate_pem = Some(certificate.pem());
        server
    }

    async fn start(tls: Option<TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let flaky = Arc::new(AtomicU32::new(0));
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let flaky = flaky.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| answer(request, flaky.clone()));
                    let http = hyper::server::conn::http1::Builder::new();
                    match tls {
                        Some(tls) => {
                            if let Ok(stream) = tls.accept(tcp).await {
                                let _ = http.serve_connection(TokioIo::new(stream), service).await;
                            }
                        }
                        None => {
                            let _ = http.serve_connection(TokioIo::new(tcp), service).await;
                        }
                    }
                });
            }
        });
        Self {
            address,
            certificate_pem: None,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

async fn answer(
    request: Request<Incoming>,
    flaky: Arc<AtomicU32>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, body) = match request.uri().path() {
        "/ok" => (200, r#"{"status":"ok","replicas":3}"#.to_owned()),
        "/down" => (503, "maintenance".to_owned()),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            (200, "late".to_owned())
        }
        // Fails twice, then answers.
        "/flaky" if flaky.fetch_add(1, Ordering::SeqCst) < 2 => (500, "not yet".to_owned()),
        "/flaky" => (200, "ok".to_owned()),
        "/big" => (200, "x".repeat(5 << 20)),
        "/echo" => (
            200,
            request
                .headers()
                .get("x-token")
                .map_or("", |v| v.to_str().unwrap())
                .to_owned(),
        ),
        _ => (404, "no such page".to_owned()),
    };
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-version", "7")
        .body(Full::new(Bytes::from(body)))
        .unwrap())
}
