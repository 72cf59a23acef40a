//! Reading YAML into the file model, and wording the parser's errors for people.

use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{Error, MessageFormatter, UserMessageFormatter};

use crate::diagnostic::{Diagnostics, Sink};
use crate::migrate;
use crate::model::{PipelineConfig, ProjectFile};
use crate::span::Pos;
use crate::suggest::did_you_mean;
use crate::{structure, tree};

/// Parses `source`; on failure, the first syntax or type error and, when the file is YAML,
/// every unknown key and misplaced mapping or list in it, with bellwether's spelling of each
/// Argo Rollouts key, all at once.
pub(crate) fn parse(file_name: &str, source: &str) -> Result<ProjectFile, Diagnostics> {
    // Snippets are for terminals; our diagnostics carry the position and a plain message.
    let options = serde_saphyr::options! { with_snippet: false };
    serde_saphyr::from_str_with_options::<ProjectFile>(source, options).map_err(|e| {
        let mut sink = Sink::new(file_name);
        let at = e.location().map(Pos::from_location).unwrap_or(Pos::UNKNOWN);
        let mut found: Vec<(Pos, String)> = Vec::new();
        if let Some(root) = tree::read(source) {
            found = migrate::hints(&root);
            for (pos, problem) in structure::problems(&root) {
                if !found.iter().any(|(p, _)| *p == pos) {
                    found.push((pos, problem));
                }
            }
        }
        // The parser's own error comes first in its place: a hint or the same unknown key
        // found by the walk says it better or alike.
        if let Some(i) = found.iter().position(|(pos, _)| *pos == at) {
            if !found[i].1.starts_with("Argo Rollouts") {
                found[i].1 = describe(&e);
            }
        } else {
            found.push((at, describe(&e)));
        }
        for (pos, message) in found {
            sink.error(pos, message);
        }
        sink.finish()
    })
}

/// Parses a GitHub Actions workflow file: one pipeline's keys at the top level. On failure,
/// the first error and every other unknown key and misplaced mapping or list, at once.
pub(crate) fn parse_workflow(file_name: &str, source: &str) -> Result<PipelineConfig, Diagnostics> {
    let options = serde_saphyr::options! { with_snippet: false };
    serde_saphyr::from_str_with_options::<PipelineConfig>(source, options).map_err(|e| {
        let mut sink = Sink::new(file_name);
        let at = e.location().map(Pos::from_location).unwrap_or(Pos::UNKNOWN);
        let mut found = tree::read(source)
            .map(|root| structure::problems_of(&root, Some("PipelineConfig")))
            .unwrap_or_default();
        match found.iter().position(|(pos, _)| *pos == at) {
            Some(i) => found[i].1 = describe(&e),
            None => found.push((at, describe(&e))),
        }
        for (pos, message) in found {
            sink.error(pos, message);
        }
        sink.finish()
    })
}

/// The error's message in the house style, without position (the diagnostic carries that).
fn describe(error: &Error) -> String {
    let error = original(error);
    let message = match error {
        Error::SerdeUnknownField {
            field, expected, ..
        } => structure::unknown_key(field, expected),
        Error::SerdeUnknownVariant {
            variant, expected, ..
        } => format!(
            "unknown value `{variant}`{} (expected one of {})",
            did_you_mean(variant, expected.iter().copied()),
            expected.join(", ")
        ),
        Error::SerdeMissingField { field, .. } => format!("missing key `{field}`"),
        Error::SerdeInvalidType {
            unexpected,
            expected,
            ..
        } => format!("expected {expected}, found {unexpected}"),
        Error::Unexpected { expected, .. } => match *expected {
            "mapping start" => "expected a mapping of keys to values here".to_owned(),
            "sequence start" => "expected a list here".to_owned(),
            "string scalar" => "expected a string here".to_owned(),
            other => format!("expected {other}"),
        },
        Error::DuplicateMappingKey { key: Some(key), .. } => {
            format!("duplicate key `{key}` (expected each key once)")
        }
        Error::Budget {
            breach: BudgetBreach::Depth { depth },
            ..
        } => {
            format!(
                "nested too deeply (expected at most {} levels)",
                depth.saturating_sub(1)
            )
        }
        Error::InvalidScalar { ty: "boolean", .. } => "expected true or false".to_owned(),
        Error::InvalidScalar { ty, .. } => format!("expected a {ty}"),
        Error::Message { msg, .. } => msg.clone(),
        other => UserMessageFormatter.format_message(other).into_owned(),
    };
    printable(&message)
}

/// The error an alias or snippet wrapper carries.
fn original(mut error: &Error) -> &Error {
    loop {
        error = match error.without_snippet() {
            Error::AliasError { error, .. } => error,
            other => return other,
        };
    }
}

/// Escapes control characters that a key or value from the file may carry, so that a
/// diagnostic is always one clean line.
fn printable(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for c in message.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
