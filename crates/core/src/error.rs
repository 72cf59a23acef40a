//! Errors as people read them.

use std::error::Error;

/// `error` and each of its causes, joined by ": ". An error that wraps another keeps it as its
/// `source` and leaves it out of its own message, so whatever shows an error to a person
/// (a response body, a log line, the CLI) shows this rather than the error's `Display` alone.
pub fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let message = e.to_string();
        // Some errors print their source in their own message too (rusqlite's, serde_json's
        // on I/O): it is said once.
        if !text.ends_with(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        cause = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot start the service")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read {path}")]
    struct Inner {
        path: String,
        #[source]
        source: std::io::Error,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("the store failed: {0}")]
    struct Repeats(#[source] std::io::Error);

    fn denied() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied")
    }

    #[test]
    fn every_cause_is_said_once_in_order() {
        let inner = Inner {
            path: "/etc/x".to_owned(),
            source: denied(),
        };
        assert_eq!(
            chain(&Outer(inner)),
            "cannot start the service: cannot read /etc/x: permission denied"
        );
        assert_eq!(chain(&denied()), "permission denied");
        assert_eq!(
            chain(&Repeats(denied())),
            "the store failed: permission denied"
        );
    }
}
