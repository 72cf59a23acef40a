//! What names may look like, and references to names declared elsewhere in the file.

use crate::diagnostic::Sink;
use crate::span::Spanned;
use crate::suggest::did_you_mean;

/// Service names become process, URL and Kubernetes object names, so they follow the strictest
/// of those: an RFC 1035 label.
pub(super) fn service(name: &Spanned<String>, sink: &mut Sink<'_>) {
    let n = name.value.as_str();
    let valid = n.len() <= 63
        && n.starts_with(|c: char| c.is_ascii_lowercase())
        && !n.ends_with('-')
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        sink.error(
            name.pos,
            format!(
                "service name `{n}` is not valid (expected lowercase letters, digits and `-`, starting with a letter, at most 63 characters, e.g. `api` or `media-worker`)"
            ),
        );
    }
}

/// Metric, provider and environment names: identifiers that references repeat.
pub(super) fn identifier(kind: &str, name: &Spanned<String>, sink: &mut Sink<'_>) {
    let n = name.value.as_str();
    let valid = !n.is_empty()
        && n.len() <= 63
        && !n.starts_with(['-', '.'])
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !valid {
        sink.error(
            name.pos,
            format!("{kind} name `{n}` is not valid (expected letters, digits, `_`, `-` and `.`, at most 63 characters)"),
        );
    }
}

/// An environment variable name, as POSIX shells accept them.
pub(super) fn env_var(what: &str, name: &Spanned<String>, sink: &mut Sink<'_>) {
    let n = name.value.as_str();
    let valid = n.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        sink.error(
            name.pos,
            format!("{what} `{n}` is not a valid environment variable name (expected letters, digits and `_`, not starting with a digit)"),
        );
    }
}

/// Checks a secret's name (`what` says where it is written): a variable name, and not one of
/// the `GITHUB_` names the store reserves. Whether it may be used (it is not reserved).
pub(super) fn secret(what: &str, name: &Spanned<String>, sink: &mut Sink<'_>) -> bool {
    env_var(what, name, sink);
    let reserved = name.value.to_ascii_uppercase().starts_with("GITHUB_");
    if reserved {
        sink.error(
            name.pos,
            format!(
                "`{}` is not a secret name (names starting with GITHUB_ are reserved)",
                name.value
            ),
        );
    }
    !reserved
}

/// Checks that `reference` names one of `declared`; `kind` is what is named ("metric").
pub(super) fn reference(
    kind: &str,
    reference: &Spanned<String>,
    declared: &[&str],
    sink: &mut Sink<'_>,
) -> bool {
    let r = reference.value.as_str();
    if declared.contains(&r) {
        return true;
    }
    sink.error(
        reference.pos,
        format!(
            "unknown {kind} `{r}`{} (expected one of {})",
            did_you_mean(r, declared.iter().copied()),
            declared.join(", ")
        ),
    );
    false
}
