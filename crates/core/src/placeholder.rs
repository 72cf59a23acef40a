//! The placeholders of a metric's queries, URLs, headers, bodies and commands: `{{service}}`,
//! `{{revision}}` and `{{args.NAME}}`. One grammar for the file's validation, which checks
//! every placeholder names something, and the analysis, which fills them in.

use std::fmt;

/// What a placeholder stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placeholder<'a> {
    /// The service's name.
    Service,
    /// The number of the revision under analysis (the canary's, or the baseline's).
    Revision,
    /// An argument of the analysis, by name.
    Arg(&'a str),
}

/// A piece of a template: text as it is, or a placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Placeholder(Placeholder<'a>),
}

/// Why a template cannot be filled in, as people read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateError {
    Unclosed { text: String },
    Unknown { name: String },
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Unclosed { text } => {
                write!(
                    f,
                    "`{text}` opens a placeholder with {{{{ that is never closed"
                )
            }
            TemplateError::Unknown { name } => write!(
                f,
                "unknown placeholder `{{{{{name}}}}}` (expected {{{{service}}}}, {{{{revision}}}} or {{{{args.NAME}}}})"
            ),
        }
    }
}

/// Splits `text` into text and placeholders (spaces inside the braces allowed).
pub fn parse(text: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            pieces.push(Piece::Text(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(TemplateError::Unclosed {
                text: text.to_owned(),
            });
        };
        let name = after[..end].trim();
        let placeholder = match name {
            "service" => Placeholder::Service,
            "revision" => Placeholder::Revision,
            _ => match name.strip_prefix("args.") {
                Some(arg) if !arg.is_empty() => Placeholder::Arg(arg),
                _ => {
                    return Err(TemplateError::Unknown {
                        name: name.to_owned(),
                    });
                }
            },
        };
        pieces.push(Piece::Placeholder(placeholder));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_into_text_and_placeholders() {
        assert_eq!(
            parse("a{{ service }}b{{revision}}{{args.route}}"),
            Ok(vec![
                Piece::Text("a"),
                Piece::Placeholder(Placeholder::Service),
                Piece::Text("b"),
                Piece::Placeholder(Placeholder::Revision),
                Piece::Placeholder(Placeholder::Arg("route")),
            ])
        );
        assert_eq!(parse(""), Ok(vec![]));
        let error = |t| parse(t).unwrap_err().to_string();
        assert_eq!(
            error("{{args.}}"),
            "unknown placeholder `{{args.}}` (expected {{service}}, {{revision}} or {{args.NAME}})"
        );
        assert_eq!(
            error("x{{service"),
            "`x{{service` opens a placeholder with {{ that is never closed"
        );
    }
}
