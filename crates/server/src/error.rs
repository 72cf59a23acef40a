//! Every failure leaves the server as an `ApiError` JSON body with the status its cause calls
//! for, including what axum would otherwise answer in plain text (bad bodies and queries,
//! unknown routes, wrong methods).

use axum::Json;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bellwether_api::ApiError;
use bellwether_controller::ControlError;
use bellwether_core::error::chain;

/// A failed request: the status and the sentence the client shows.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// A failure with `status` whose message is `error` and every cause under it.
    pub(crate) fn of(status: StatusCode, error: &dyn std::error::Error) -> Self {
        Self {
            status,
            message: chain(error),
        }
    }
}

impl From<ControlError> for Failure {
    fn from(error: ControlError) -> Self {
        let status = match &error {
            ControlError::UnknownService(_) => StatusCode::NOT_FOUND,
            ControlError::Rejected(_) => StatusCode::CONFLICT,
            ControlError::Invalid(_)
            | ControlError::Listen { .. }
            | ControlError::ListenAddress { .. } => StatusCode::BAD_REQUEST,
            ControlError::Store(_)
            | ControlError::Unstored(_)
            | ControlError::StoreClosed(_)
            | ControlError::StoreCall(_)
            | ControlError::DataDir { .. }
            | ControlError::Router { .. }
            | ControlError::EncodeRevision(_)
            | ControlError::NotStarted(_)
            | ControlError::Stopped => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::of(status, &error)
    }
}

impl From<BytesRejection> for Failure {
    fn from(rejection: BytesRejection) -> Self {
        Self {
            status: rejection.status(),
            message: format!("cannot read the request body: {}", rejection.body_text()),
        }
    }
}

impl From<QueryRejection> for Failure {
    fn from(rejection: QueryRejection) -> Self {
        // axum's text is "Failed to deserialize query string: <serde's reason>".
        let text = rejection.body_text();
        let reason = text.split_once(": ").map_or(text.as_str(), |(_, r)| r);
        Self::bad_request(format!("invalid query: {reason}"))
    }
}

impl From<PathRejection> for Failure {
    fn from(rejection: PathRejection) -> Self {
        Self::bad_request(format!("invalid path: {}", rejection.body_text()))
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = ApiError {
            error: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

pub(crate) async fn no_route(method: Method, uri: Uri) -> Failure {
    Failure {
        status: StatusCode::NOT_FOUND,
        message: format!("no route for {method} {}", uri.path()),
    }
}

pub(crate) async fn wrong_method(method: Method, uri: Uri) -> Failure {
    Failure {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: format!("{method} is not allowed on {}", uri.path()),
    }
}
