//! The language of an analysis's `successCondition` and `failureCondition`: CEL (the `cel`
//! crate) over `result` and `baseline`, in Argo Rollouts' expr-lang spellings too, so that a
//! condition pasted from an AnalysisTemplate means what it meant there. Before compiling,
//! outside string literals:
//!
//! - `and`, `or`, `not` become `&&`, `||`, `!`, and `nil` becomes `null`;
//! - `len(x)` becomes `size(x)`;
//! - `all(xs, {# > 0.9})` (braces optional) becomes `(xs).all(it0, it0 > 0.9)`, and likewise
//!   `any` (CEL's `exists`), `none` (`!exists`), `one` (`exists_one`), `filter`, `map` and
//!   `count` (`size(filter)`), `#` standing for the element.
//!
//! [`context`] adds expr-lang's `isNaN(x)` and `isInf(x)` to CEL's functions. [`compile`] is
//! the one way in, for `bellwether validate` and the analysis engine alike; its errors point
//! into the text as written. Pure: no I/O.

mod translate;

use std::fmt;

pub use cel::{Context, Program, Value};

/// A condition that does not parse, at a 1-based line and column of the text as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for SyntaxError {}

/// Translates `text` to CEL and compiles it; the first parse error, placed in `text`.
pub fn compile(text: &str) -> Result<Program, SyntaxError> {
    let translated = translate::translate(text);
    Program::compile(&translated.text).map_err(|errors| {
        let Some(first) = errors.errors.first() else {
            return SyntaxError {
                line: 1,
                column: 1,
                message: errors.to_string(),
            };
        };
        let (line, column) = first.pos;
        let offset = offset_of(&translated.text, line, column);
        let (line, column) = line_column(text, translated.source_offset(offset));
        SyntaxError {
            line,
            column,
            message: first.msg.clone(),
        }
    })
}

/// CEL's standard functions, and expr-lang's `isNaN` and `isInf`.
pub fn context<'a>() -> Context<'a, 'a> {
    let mut context = Context::default();
    // Neither name is CEL's, so neither conflicts with a declared overload.
    let _ = context.add_function("isNaN", |x: f64| x.is_nan());
    let _ = context.add_function("isInf", |x: f64| x.is_infinite());
    context
}

/// The byte offset of CEL's 1-based line and column (in characters) in `text`.
fn offset_of(text: &str, line: isize, column: isize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(usize::try_from(line - 1).unwrap_or(0))
        .map(str::len)
        .sum();
    let column = usize::try_from(column - 1).unwrap_or(0);
    text[line_start..]
        .char_indices()
        .nth(column)
        .map_or(text.len(), |(i, _)| line_start + i)
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests;
