//! One HTTP/1.1 exchange on a connection of its own (over TLS for `https://`), so that an
//! attempt measures connecting, the handshake and the answer, and TLS checks can read the
//! certificate the server presented. Redirects are not followed: a check judges what the URL
//! itself answers.

use bellwether_core::error::chain;
use bellwether_core::spec::HttpCheck;
use bytes::Bytes;
use http::{HeaderMap, Request, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::rt::{Read, Write};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::tls::{self, Tls};

/// The most of a body a check reads; a larger one fails the attempt.
const MAX_BODY: usize = 4 << 20;

/// What the server answered.
pub(crate) struct Exchange {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub certificate_days_left: Option<f64>,
}

/// Sends `check`'s request to `uri` and reads the whole answer.
pub(crate) async fn exchange(check: &HttpCheck, uri: &Uri, tls: &Tls) -> Result<Exchange, String> {
    let host = uri.host().ok_or_else(|| format!("`{uri}` names no host"))?;
    let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let address = format!("{}:{port}", host);
    let tcp = TcpStream::connect(&address)
        .await
        .map_err(|e| format!("cannot connect to {address}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let request = request(check, uri)?;
    if https {
        let stream = tls.connect(tcp, host, &check.tls).await?;
        let days = tls::days_left(&stream)?;
        let mut answer = send(TokioIo::new(stream), request).await?;
        answer.certificate_days_left = Some(days);
        Ok(answer)
    } else {
        send(TokioIo::new(tcp), request).await
    }
}

fn request(check: &HttpCheck, uri: &Uri) -> Result<Request<Full<Bytes>>, String> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut builder = Request::builder()
        .method(check.method.as_str())
        .uri(path)
        .header(header::USER_AGENT, "bellwether-check");
    if let Some(authority) = uri.authority() {
        builder = builder.header(header::HOST, authority.as_str());
    }
    for (name, value) in &check.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let body = check.body.clone().unwrap_or_default();
    builder
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("the request cannot be made: {}", chain(&e)))
}

async fn send<T>(io: T, request: Request<Full<Bytes>>) -> Result<Exchange, String>
where
    T: Read + Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| chain(&e))?;
    let driver = tokio::spawn(connection);
    let result = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("no answer: {}", chain(&e)))?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(
                |e| match e.downcast_ref::<http_body_util::LengthLimitError>() {
                    Some(_) => format!("the body is larger than {} MiB", MAX_BODY >> 20),
                    None => format!("reading the body failed: {}", chain(e.as_ref())),
                },
            )?
            .to_bytes();
        Ok(Exchange {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
            certificate_days_left: None,
        })
    }
    .await;
    driver.abort();
    result
}
