//! HTTP/1.1 on the client's side as bytes (RFC 9112): the request head written, the response
//! head parsed, how long the response body is, and chunked bodies decoded. No I/O here: the
//! router's client for its backends and the load generator's read and write the bytes.

use bytes::{Buf, Bytes, BytesMut};
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version, request, response};

/// Header fields a response head may carry at most.
const MAX_HEADERS: usize = 128;
/// The longest chunk-size line or trailer field accepted.
const MAX_LINE: usize = 4096;

/// What is wrong with what a server sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Malformed {
    #[error("invalid response head: {0}")]
    Head(httparse::Error),
    #[error("invalid response head: bad status code {0}")]
    Status(u16),
    #[error("invalid response head: bad header field `{0}`")]
    Field(String),
    #[error("invalid response head: more than {MAX_HEADERS} header fields")]
    TooManyFields,
    #[error("invalid content-length")]
    ContentLength,
    #[error("the server switched protocols, which an HTTP/1.1 exchange cannot follow")]
    Upgrade,
    #[error("invalid chunked body: {0}")]
    Chunk(&'static str),
}

/// How the request body goes to the backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestFraming {
    /// No body at all.
    None,
    /// As it comes: the head carries its `content-length`.
    Sized,
    /// Length unknown in advance (a body streamed as it comes): chunked.
    Chunked,
}

impl RequestFraming {
    pub fn of(headers: &HeaderMap, body_is_empty: bool) -> Self {
        if headers.contains_key(CONTENT_LENGTH) {
            Self::Sized
        } else if body_is_empty {
            Self::None
        } else {
            Self::Chunked
        }
    }
}

/// Writes a request head: request line in origin form, the fields, and the framing.
pub fn encode_request_head(parts: &request::Parts, framing: RequestFraming) -> Vec<u8> {
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let fields: usize = parts
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    let mut out = Vec::with_capacity(parts.method.as_str().len() + target.len() + fields + 64);
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in &parts.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if framing == RequestFraming::Chunked {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Frames one piece of a chunked request body.
pub fn encode_chunk(data: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(data.len() + 20);
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out.freeze()
}

/// The end of a chunked request body, without trailers.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// How a response is framed: what a client needs to read its body and to know whether the
/// connection can carry another request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Framing {
    pub status: StatusCode,
    pub version: Version,
    pub body: BodyLength,
    /// The connection may carry another request once this response is read.
    pub keep_alive: bool,
    /// The head carried both a transfer coding and a length: the length is to be ignored.
    pub conflicting: bool,
}

/// A complete response head, taken off the front of the read buffer.
#[derive(Debug)]
pub struct ResponseHead {
    pub parts: response::Parts,
    pub body: BodyLength,
    /// The connection may carry another request once this response is read.
    pub keep_alive: bool,
}

/// How the end of a response body is known (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyLength {
    Sized(u64),
    Chunked,
    /// Everything until the server closes the connection.
    UntilClose,
}

/// One head parsed at the front of a buffer.
enum Parsed {
    Partial,
    /// An interim (1xx) response of this many bytes, to be skipped.
    Interim(usize),
    /// The final head: its length, how many of the fields it filled, and its framing.
    Final(usize, usize, Framing),
}

fn parse_one<'b>(
    buf: &'b [u8],
    method: &Method,
    fields: &mut [httparse::Header<'b>],
) -> Result<Parsed, Malformed> {
    let mut parsed = httparse::Response::new(fields);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(httparse::Error::TooManyHeaders) => return Err(Malformed::TooManyFields),
        Err(e) => return Err(Malformed::Head(e)),
    };
    let code = parsed.code.unwrap_or_default();
    let status = StatusCode::from_u16(code).map_err(|_| Malformed::Status(code))?;
    if status == StatusCode::SWITCHING_PROTOCOLS {
        return Err(Malformed::Upgrade);
    }
    if status.is_informational() {
        return Ok(Parsed::Interim(len));
    }
    let version = if parsed.version == Some(0) {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let fields = &*parsed.headers;
    let body = body_length(method, status, fields)?;
    // Both framings at once may be an attempt at response splitting: the transfer coding
    // wins, the length goes, and the connection is not trusted with another request
    // (RFC 9112 §6.3).
    let conflicting = has_field(fields, "transfer-encoding") && has_field(fields, "content-length");
    let keep_alive = body != BodyLength::UntilClose && persistent(version, fields) && !conflicting;
    let framing = Framing {
        status,
        version,
        body,
        keep_alive,
        conflicting,
    };
    Ok(Parsed::Final(len, fields.len(), framing))
}

/// Parses the response head at the front of `buf` and removes it, keeping only its framing:
/// a client that needs no header field allocates nothing. `Ok(None)`: more bytes are needed.
/// Interim (1xx) responses are removed and skipped.
pub fn take_response_framing(
    buf: &mut BytesMut,
    method: &Method,
) -> Result<Option<Framing>, Malformed> {
    loop {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        match parse_one(buf, method, &mut fields)? {
            Parsed::Partial => return Ok(None),
            Parsed::Interim(len) => buf.advance(len),
            Parsed::Final(len, _, framing) => {
                buf.advance(len);
                return Ok(Some(framing));
            }
        }
    }
}

/// Parses the response head at the front of `buf`, removing it. `Ok(None)`: more bytes are
/// needed. Interim (1xx) responses are removed and skipped.
pub fn parse_response_head(
    buf: &mut BytesMut,
    method: &Method,
) -> Result<Option<ResponseHead>, Malformed> {
    loop {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let (len, count, framing) = match parse_one(buf, method, &mut fields)? {
            Parsed::Partial => return Ok(None),
            Parsed::Interim(len) => {
                buf.advance(len);
                continue;
            }
            Parsed::Final(len, count, framing) => (len, count, framing),
        };
        // Field values share the head's bytes instead of being copied one by one.
        let base = buf.as_ptr() as usize;
        let fields: Vec<(Result<HeaderName, String>, usize, usize)> = fields[..count]
            .iter()
            .map(|h| {
                let name =
                    HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| h.name.to_string());
                let start = h.value.as_ptr() as usize - base;
                (name, start, start + h.value.len())
            })
            .collect();
        let head = buf.split_to(len).freeze();
        let mut headers = HeaderMap::with_capacity(fields.len());
        for (name, start, end) in fields {
            let name = name.map_err(Malformed::Field)?;
            let value = HeaderValue::from_maybe_shared(head.slice(start..end))
                .map_err(|_| Malformed::Field(name.to_string()))?;
            headers.append(name, value);
        }
        if framing.conflicting {
            headers.remove(CONTENT_LENGTH);
        }
        let mut parts = http::Response::new(()).into_parts().0;
        parts.status = framing.status;
        parts.version = framing.version;
        parts.headers = headers;
        return Ok(Some(ResponseHead {
            parts,
            body: framing.body,
            keep_alive: framing.keep_alive,
        }));
    }
}

/// The values of the fields named `name`, in order.
fn values<'a>(
    fields: &'a [httparse::Header<'_>],
    name: &'a str,
) -> impl DoubleEndedIterator<Item = &'a [u8]> {
    fields
        .iter()
        .filter(move |f| f.name.eq_ignore_ascii_case(name))
        .map(|f| f.value)
}

fn has_field(fields: &[httparse::Header<'_>], name: &str) -> bool {
    values(fields, name).next().is_some()
}

fn body_length(
    method: &Method,
    status: StatusCode,
    fields: &[httparse::Header<'_>],
) -> Result<BodyLength, Malformed> {
    if method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(BodyLength::Sized(0));
    }
    if let Some(last) = values(fields, "transfer-encoding").next_back() {
        let chunked = std::str::from_utf8(last)
            .ok()
            .and_then(|v| v.rsplit(',').next())
            .is_some_and(|coding| coding.trim().eq_ignore_ascii_case("chunked"));
        return Ok(if chunked {
            BodyLength::Chunked
        } else {
            BodyLength::UntilClose
        });
    }
    let mut length = None;
    for value in values(fields, "content-length") {
        // A list of identical values is one length (RFC 9110 §8.6); anything else is an error.
        for item in std::str::from_utf8(value)
            .map_err(|_| Malformed::ContentLength)?
            .split(',')
        {
            let item = item.trim();
            if item.is_empty() || !item.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Malformed::ContentLength);
            }
            let n: u64 = item.parse().map_err(|_| Malformed::ContentLength)?;
            if length.is_some_and(|l| l != n) {
                return Err(Malformed::ContentLength);
            }
            length = Some(n);
        }
    }
    Ok(length.map_or(BodyLength::UntilClose, BodyLength::Sized))
}

/// Whether the connection stays open after this response (RFC 9112 §9.3).
fn persistent(version: Version, fields: &[httparse::Header<'_>]) -> bool {
    let has = |token: &str| {
        values(fields, "connection")
            .filter_map(|v| std::str::from_utf8(v).ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    if version == Version::HTTP_10 {
        has("keep-alive")
    } else {
        !has("close")
    }
}

/// Parses `bytes` as a server's whole answer to a GET: a response head, then a chunked body
/// when it says so, arriving in two reads split at `split`; an answer or an error, never a
/// panic. The entry of the fuzz target `backend-http`.
#[doc(hidden)]
pub fn parse_answer(bytes: &[u8], split: usize) -> Result<(), Malformed> {
    let (first, rest) = bytes.split_at(split.min(bytes.len()));
    let mut buf = BytesMut::from(first);
    let head = match parse_response_head(&mut buf, &Method::GET)? {
        Some(head) => head,
        None => {
            buf.extend_from_slice(rest);
            match parse_response_head(&mut buf, &Method::GET)? {
                Some(head) => head,
                None => return Ok(()),
            }
        }
    };
    if head.body == BodyLength::Chunked {
        let mut chunked = Chunked::Size;
        while let Some(decoded) = chunked.decode(&mut buf)? {
            if decoded == Decoded::End {
                break;
            }
        }
    }
    Ok(())
}

/// Where a chunked body's decoder is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chunked {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
    Done,
}

/// What the decoder took from the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    Data(Bytes),
    End,
}

impl Chunked {
    /// Decodes from the front of `buf`; `Ok(None)` when more bytes are needed. Chunk
    /// extensions and trailer fields are read and dropped.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, Malformed> {
        loop {
            match *self {
                Self::Size => {
                    let Some(line) = take_line(buf)? else {
                        return Ok(None);
                    };
                    let digits = line[..].split(|&b| b == b';').next().unwrap_or_default();
                    let digits = digits.trim_ascii();
                    if digits.is_empty() || digits.len() > 15 {
                        return Err(Malformed::Chunk("bad chunk size"));
                    }
                    let size = std::str::from_utf8(digits)
                        .ok()
                        .and_then(|d| u64::from_str_radix(d, 16).ok())
                        .ok_or(Malformed::Chunk("bad chunk size"))?;
                    *self = if size == 0 {
                        Self::Trailers
                    } else {
                        Self::Data(size)
                    };
                }
                Self::Data(left) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                    let left = left - n as u64;
                    *self = if left == 0 {
                        Self::DataEnd
                    } else {
                        Self::Data(left)
                    };
                    return Ok(Some(Decoded::Data(buf.split_to(n).freeze())));
                }
                Self::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(None);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(Malformed::Chunk("chunk data longer than its size"));
                    }
                    buf.advance(2);
                    *self = Self::Size;
                }
                Self::Trailers => {
                    let Some(line) = take_line(buf)? else {
                        return Ok(None);
                    };
                    if line.is_empty() {
                        *self = Self::Done;
                    }
                }
                Self::Done => return Ok(Some(Decoded::End)),
            }
        }
    }
}

/// Takes one CRLF-terminated line off `buf`, without its end.
fn take_line(buf: &mut BytesMut) -> Result<Option<BytesMut>, Malformed> {
    match buf.windows(2).position(|w| w == b"\r\n") {
        Some(end) => {
            let mut line = buf.split_to(end + 2);
            line.truncate(end);
            Ok(Some(line))
        }
        None if buf.len() > MAX_LINE => Err(Malformed::Chunk("line too long")),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8], method: Method) -> (Result<Option<ResponseHead>, Malformed>, BytesMut) {
        let mut buf = BytesMut::from(bytes);
        let head = parse_response_head(&mut buf, &method);
        (head, buf)
    }

    #[test]
    fn a_request_head_is_written_in_origin_form_with_its_framing() {
        let (mut parts, ()) = http::Request::post("/a?b=1")
            .header("host", "api")
            .header("x-many", "1")
            .header("x-many", "2")
            .body(())
            .unwrap()
            .into_parts();
        assert_eq!(
            RequestFraming::of(&parts.headers, false),
            RequestFraming::Chunked
        );
        assert_eq!(
            String::from_utf8(encode_request_head(&parts, RequestFraming::Chunked)).unwrap(),
            "POST /a?b=1 HTTP/1.1\r\nhost: api\r\nx-many: 1\r\nx-many: 2\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        parts
            .headers
            .insert(CONTENT_LENGTH, HeaderValue::from_static("3"));
        assert_eq!(
            RequestFraming::of(&parts.headers, false),
            RequestFraming::Sized
        );
        assert_eq!(
            RequestFraming::of(&HeaderMap::new(), true),
            RequestFraming::None
        );
        assert_eq!(
            &encode_chunk(b"hello world, hi")[..],
            b"f\r\nhello world, hi\r\n"
        );
    }

    #[test]
    fn a_response_head_is_parsed_and_the_body_left_in_the_buffer() {
        let (head, rest) = parse(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\n\r\nhello",
            Method::GET,
        );
        let head = head.unwrap().unwrap();
        assert_eq!(head.parts.status, StatusCode::OK);
        assert_eq!(head.body, BodyLength::Sized(5));
        assert!(head.keep_alive);
        let values: Vec<_> = head.parts.headers.get_all("x-a").iter().collect();
        assert_eq!(values, ["1", "2"]);
        assert_eq!(&rest[..], b"hello");
    }

    #[test]
    fn a_partial_head_asks_for_more_and_interim_responses_are_skipped() {
        let (head, rest) = parse(b"HTTP/1.1 200 OK\r\nContent-Le", Method::GET);
        assert!(head.unwrap().is_none());
        assert_eq!(rest.len(), 27);
        let (head, rest) = parse(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n",
            Method::POST,
        );
        assert_eq!(head.unwrap().unwrap().parts.status, StatusCode::CREATED);
        assert!(rest.is_empty());
    }

    #[test]
    fn the_body_length_follows_rfc_9112() {
        let length = |head: &[u8], method| parse(head, method).0.map(|h| h.unwrap().body);
        assert_eq!(
            length(
                b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n",
                Method::HEAD
            ),
            Ok(BodyLength::Sized(0))
        );
        assert_eq!(
            length(b"HTTP/1.1 204 No Content\r\n\r\n", Method::GET),
            Ok(BodyLength::Sized(0))
        );
        assert_eq!(
            length(
                b"HTTP/1.1 304 Not Modified\r\ncontent-length: 9\r\n\r\n",
                Method::GET
            ),
            Ok(BodyLength::Sized(0))
        );
        assert_eq!(
            length(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\ncontent-length: 9\r\n\r\n",
                Method::GET
            ),
            Ok(BodyLength::Chunked)
        );
        assert_eq!(
            length(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n",
                Method::GET
            ),
            Ok(BodyLength::UntilClose)
        );
        assert_eq!(
            length(b"HTTP/1.1 200 OK\r\n\r\n", Method::GET),
            Ok(BodyLength::UntilClose)
        );
        assert_eq!(
            length(
                b"HTTP/1.1 200 OK\r\ncontent-length: 7, 7\r\n\r\n",
                Method::GET
            ),
            Ok(BodyLength::Sized(7))
        );
        for bad in ["7, 8", "-1", "+7", "", "0x10", "99999999999999999999999"] {
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {bad}\r\n\r\n");
            assert_eq!(
                length(head.as_bytes(), Method::GET),
                Err(Malformed::ContentLength),
                "{bad}"
            );
        }
    }

    #[test]
    fn persistence_depends_on_version_connection_and_framing() {
        let keep = |head: &[u8]| parse(head, Method::GET).0.unwrap().unwrap().keep_alive;
        assert!(keep(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"));
        assert!(!keep(
            b"HTTP/1.1 200 OK\r\nconnection: keep-alive, Close\r\ncontent-length: 0\r\n\r\n"
        ));
        assert!(!keep(b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n"));
        assert!(keep(
            b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n"
        ));
        assert!(!keep(b"HTTP/1.1 200 OK\r\n\r\n"));
        assert!(keep(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        ));
        let (both, _) = parse(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n",
            Method::GET,
        );
        let both = both.unwrap().unwrap();
        assert!(!both.keep_alive);
        assert!(!both.parts.headers.contains_key(CONTENT_LENGTH));
    }

    #[test]
    fn the_framing_alone_agrees_with_the_whole_head() {
        for wire in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"[..],
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 201 Created\r\nConnection: keep-alive\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n",
            b"HTTP/1.1 304 Not Modified\r\nconnection: close\r\n\r\n",
        ] {
            let (head, rest) = parse(wire, Method::GET);
            let head = head.unwrap().unwrap();
            let mut buf = BytesMut::from(wire);
            let framing = take_response_framing(&mut buf, &Method::GET)
                .unwrap()
                .unwrap();
            assert_eq!(framing.status, head.parts.status);
            assert_eq!(framing.version, head.parts.version);
            assert_eq!(framing.body, head.body);
            assert_eq!(framing.keep_alive, head.keep_alive);
            assert_eq!(buf, rest);
        }
        let mut partial = BytesMut::from(&b"HTTP/1.1 200 OK\r\n"[..]);
        assert_eq!(take_response_framing(&mut partial, &Method::GET), Ok(None));
        assert_eq!(partial.len(), 17);
    }

    #[test]
    fn malformed_heads_are_named() {
        let error = |head: &[u8]| parse(head, Method::GET).0.unwrap_err();
        assert!(matches!(
            error(b"HTTP/1.1 abc OK\r\n\r\n"),
            Malformed::Head(_)
        ));
        assert_eq!(
            error(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n"),
            Malformed::Upgrade
        );
        let many = format!("HTTP/1.1 200 OK\r\n{}\r\n", "x: 1\r\n".repeat(200));
        assert_eq!(error(many.as_bytes()), Malformed::TooManyFields);
    }

    #[test]
    fn chunked_bodies_decode_across_any_split_of_the_input() {
        let wire: &[u8] = b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
        for split in 0..wire.len() {
            let mut decoder = Chunked::Size;
            let mut buf = BytesMut::from(&wire[..split]);
            let mut data = Vec::new();
            let mut unfed = &wire[split..];
            let ended = loop {
                match decoder.decode(&mut buf).unwrap() {
                    Some(Decoded::Data(d)) => data.extend_from_slice(&d),
                    Some(Decoded::End) => break true,
                    None if unfed.is_empty() => break false,
                    None => {
                        buf.extend_from_slice(unfed);
                        unfed = &[];
                    }
                }
            };
            assert!(ended, "split at {split}");
            assert_eq!(data, b"hello, world", "split at {split}");
            buf.extend_from_slice(unfed);
            assert_eq!(&buf[..], b"NEXT", "split at {split}");
        }
    }

    #[test]
    fn bad_chunked_bodies_are_errors() {
        for wire in [
            &b"zz\r\n"[..],
            b"5\r\nhelloXX",
            b"\r\n",
            b"1234567890abcdef0\r\n",
        ] {
            let mut buf = BytesMut::from(wire);
            let mut decoder = Chunked::Size;
            let result = loop {
                match decoder.decode(&mut buf) {
                    Ok(Some(Decoded::Data(_))) => {}
                    other => break other,
                }
            };
            assert!(result.is_err(), "{:?}", String::from_utf8_lossy(wire));
        }
        let mut long = BytesMut::from(&[b'1'; MAX_LINE + 1][..]);
        assert!(Chunked::Size.decode(&mut long).is_err());
    }
}
