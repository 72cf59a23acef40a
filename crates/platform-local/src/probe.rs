//! HTTP probes: a GET of one path on one replica; 2xx or 3xx is a success.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Probes `path` on `addr`; `Err` says why the probe failed, for the replica's state.
pub(crate) async fn http_get(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Result<(), String> {
    match tokio::time::timeout(timeout, get(addr, path)).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "GET {path} timed out after {}ms",
            timeout.as_millis()
        )),
    }
}

async fn get(addr: SocketAddr, path: &str) -> Result<(), String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("GET {path}: {e}"))?;
    let conn = tokio::spawn(conn);
    let request = Request::get(path)
        .header(hyper::header::HOST, addr.to_string())
        .header(hyper::header::USER_AGENT, "bellwether-probe")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("GET {path}: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("GET {path}: {e}"));
    conn.abort();
    let status = response?.status();
    if status.is_success() || status.is_redirection() {
        Ok(())
    } else {
        Err(format!("GET {path} answered {status}"))
    }
}
