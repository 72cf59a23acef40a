//! What a proxy changes in the headers it forwards (RFC 9110 §7.6): hop-by-hop fields are
//! removed, `Via` records the hop, `X-Forwarded-For` the client, and the request goes to the
//! backend as HTTP/1.1 in origin form.

use http::header::{CONNECTION, HOST, TE, TRAILER, TRANSFER_ENCODING, UPGRADE, VIA};
use http::{HeaderMap, HeaderName, HeaderValue, Uri, Version, request, response};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Rewrites a client's request head for the backend. `client` is the client's address as a
/// header value, made once per connection.
pub(crate) fn prepare_request(parts: &mut request::Parts, client: &HeaderValue) {
    strip_hop_by_hop(&mut parts.headers);
    let via = match parts.version {
        Version::HTTP_10 => "1.0 bellwether",
        Version::HTTP_2 => "2 bellwether",
        _ => "1.1 bellwether",
    };
    parts.headers.append(VIA, HeaderValue::from_static(via));
    append_forwarded_for(&mut parts.headers, client);
    if let Some(authority) = parts.uri.authority() {
        // HTTP/2 and absolute-form requests carry the host in the URI; HTTP/1.1 wants `Host`.
        if !parts.headers.contains_key(HOST)
            && let Ok(host) = HeaderValue::from_str(authority.as_str())
        {
            parts.headers.insert(HOST, host);
        }
        let origin = parts
            .uri
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .parse::<Uri>();
        if let Ok(origin) = origin {
            parts.uri = origin;
        }
    }
    parts.version = Version::HTTP_11;
}

/// Rewrites a backend's response head for the client.
pub(crate) fn prepare_response(parts: &mut response::Parts) {
    strip_hop_by_hop(&mut parts.headers);
    parts
        .headers
        .append(VIA, HeaderValue::from_static("1.1 bellwether"));
}

/// Removes the connection-specific fields and every field `Connection` names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most heads have none: one pass over the few names present costs less than hashing
    // each hop-by-hop name for a lookup.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    if headers.contains_key(CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
        headers.remove(CONNECTION);
    }
    for name in [
        KEEP_ALIVE,
        PROXY_CONNECTION,
        TE,
        TRAILER,
        TRANSFER_ENCODING,
        UPGRADE,
    ] {
        headers.remove(name);
    }
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    name == CONNECTION
        || name == KEEP_ALIVE
        || name == PROXY_CONNECTION
        || name == TE
        || name == TRAILER
        || name == TRANSFER_ENCODING
        || name == UPGRADE
}

fn append_forwarded_for(headers: &mut HeaderMap, client: &HeaderValue) {
    if !headers.contains_key(&X_FORWARDED_FOR) {
        headers.insert(X_FORWARDED_FOR, client.clone());
        return;
    }
    // Several fields of a list-valued header are one comma-separated list (RFC 9110 §5.3).
    let mut joined = Vec::new();
    for value in headers.get_all(&X_FORWARDED_FOR) {
        joined.extend_from_slice(value.as_bytes());
        joined.extend_from_slice(b", ");
    }
    joined.extend_from_slice(client.as_bytes());
    if let Ok(value) = HeaderValue::from_bytes(&joined) {
        headers.insert(X_FORWARDED_FOR, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(version: Version, uri: &str, headers: &[(&str, &str)]) -> request::Parts {
        let mut b = http::Request::builder().version(version).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    fn shown(h: &HeaderMap) -> Vec<String> {
        h.iter()
            .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap()))
            .collect()
    }

    #[test]
    fn hop_by_hop_fields_and_those_connection_names_are_removed() {
        let mut p = request(
            Version::HTTP_11,
            "/a?b=1",
            &[
                ("host", "api"),
                ("connection", "keep-alive, x-secret"),
                ("x-secret", "1"),
                ("keep-alive", "timeout=5"),
                ("te", "trailers"),
                ("upgrade", "websocket"),
                ("x-forwarded-for", "10.0.0.1"),
                ("x-forwarded-for", "10.0.0.2"),
                ("accept", "*/*"),
            ],
        );
        prepare_request(&mut p, &HeaderValue::from_static("127.0.0.1"));
        assert_eq!(
            shown(&p.headers),
            [
                "host: api",
                "accept: */*",
                "x-forwarded-for: 10.0.0.1, 10.0.0.2, 127.0.0.1",
                "via: 1.1 bellwether",
            ]
        );
        assert_eq!(p.uri, "/a?b=1");
    }

    #[test]
    fn an_http2_request_gets_a_host_and_an_origin_form_uri() {
        let mut p = request(Version::HTTP_2, "http://api.local:8080/x", &[]);
        prepare_request(&mut p, &HeaderValue::from_static("::1"));
        assert_eq!(p.version, Version::HTTP_11);
        assert_eq!(p.uri, "/x");
        assert_eq!(
            shown(&p.headers),
            [
                "via: 2 bellwether",
                "x-forwarded-for: ::1",
                "host: api.local:8080"
            ]
        );
    }

    #[test]
    fn responses_lose_hop_by_hop_fields_and_gain_via() {
        let (mut parts, ()) = http::Response::builder()
            .header("transfer-encoding", "chunked")
            .header("connection", "close")
            .header("content-type", "text/plain")
            .body(())
            .unwrap()
            .into_parts();
        prepare_response(&mut parts);
        assert_eq!(
            shown(&parts.headers),
            ["content-type: text/plain", "via: 1.1 bellwether"]
        );
    }
}
