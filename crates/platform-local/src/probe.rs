//! HTTP probes: a GET of one path on one replica; 2xx or 3xx is a success.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Why a probe failed, for the replica's state.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProbeError {
    #[error("GET {path} timed out after {}ms", timeout.as_millis())]
    TimedOut { path: String, timeout: Duration },
    #[error("GET {path}: cannot connect to {addr}")]
    Connect {
        path: String,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("GET {path}")]
    Request {
        path: String,
        source: hyper::http::Error,
    },
    /// hyper says what went wrong here and keeps the I/O error under it as the source.
    #[error("GET {path}")]
    Exchange { path: String, source: hyper::Error },
    #[error("GET {path} answered {status}")]
    Status { path: String, status: StatusCode },
}

/// Probes `path` on `addr`.
pub(crate) async fn http_get(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Result<(), ProbeError> {
    match tokio::time::timeout(timeout, get(addr, path)).await {
        Ok(result) => result,
        Err(_) => Err(ProbeError::TimedOut {
            path: path.to_owned(),
            timeout,
        }),
    }
}

async fn get(addr: SocketAddr, path: &str) -> Result<(), ProbeError> {
    let exchange = |source| ProbeError::Exchange {
        path: path.to_owned(),
        source,
    };
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|source| ProbeError::Connect {
            path: path.to_owned(),
            addr,
            source,
        })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(exchange)?;
    let conn = tokio::spawn(conn);
    let request = Request::get(path)
        .header(hyper::header::HOST, addr.to_string())
        .header(hyper::header::USER_AGENT, "bellwether-probe")
        .body(Empty::<Bytes>::new())
        .map_err(|source| ProbeError::Request {
            path: path.to_owned(),
            source,
        })?;
    let response = sender.send_request(request).await.map_err(exchange);
    conn.abort();
    let status = response?.status();
    if status.is_success() || status.is_redirection() {
        Ok(())
    } else {
        Err(ProbeError::Status {
            path: path.to_owned(),
            status,
        })
    }
}
