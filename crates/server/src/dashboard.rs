//! The web dashboard: one HTML page, a script and a style sheet, embedded in the binary and
//! served at `/`. The page holds no data: it reads the JSON API with the viewer's token (kept
//! in the tab's session storage, sent as a bearer header, never a cookie) and follows
//! `GET /v1/events` for live updates. A strict content security policy allows only these
//! files' own script and style, so text from the API can never run as code.

use axum::Extension;
use axum::Json;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bellwether_access::{Identity, Permission};
use serde::Serialize;

const INDEX: &str = include_str!("../dashboard/index.html");
const SCRIPT: &str = include_str!("../dashboard/app.js");
const STYLE: &str = include_str!("../dashboard/app.css");

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub(crate) async fn index() -> Response {
    asset(INDEX, "text/html; charset=utf-8")
}

pub(crate) async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

pub(crate) async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, kind),
        (header::CONTENT_SECURITY_POLICY, POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-cache"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// `GET /v1/whoami`: the identity of the token, and what it may do, so that a page shows
/// only the actions that would be allowed (the server decides again on each).
#[derive(Serialize)]
pub(crate) struct Whoami {
    #[serde(flatten)]
    identity: Identity,
    permissions: Vec<Permission>,
}

pub(crate) async fn whoami(Extension(who): Extension<Identity>) -> Json<Whoami> {
    let permissions = Permission::ALL
        .into_iter()
        .filter(|p| who.allows(*p))
        .collect();
    Json(Whoami {
        identity: who,
        permissions,
    })
}
