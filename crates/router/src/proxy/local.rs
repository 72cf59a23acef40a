//! Answers the router gives itself when no backend can: a status and a sentence naming the
//! service and revision that failed.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use super::response::ResponseBody;

pub(crate) fn response(status: StatusCode, message: String) -> Response<ResponseBody> {
    let mut text = message;
    text.push('\n');
    let mut response = Response::new(ResponseBody::local(Bytes::from(text)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
