//! What `bellwether.yaml` did wrong, or questionably, and where: [`Diagnostic`] and the
//! [`Diagnostics`] of one file.

use std::fmt;

use crate::span::Pos;

/// Whether a diagnostic stops the file from loading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    /// The file loads, but something in it does not do what it seems to.
    Warning,
}

/// One finding, rendered as `file:line:column: message` (with `warning: ` before the message
/// for warnings). The message says what is wrong and what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}{at}: {severity}{message}", at = at(*.line, *.column))]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    /// 1-based; 0 when the position is unknown (the file as a whole).
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl Diagnostic {
    pub(crate) fn new(severity: Severity, file: &str, pos: Pos, message: String) -> Self {
        Self {
            severity,
            file: file.to_owned(),
            line: pos.line,
            column: pos.column,
            message,
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    pub fn pos(&self) -> Pos {
        Pos::new(self.line, self.column)
    }
}

/// `:line:column`, or nothing when the position is unknown.
fn at(line: u32, column: u32) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}:{column}")
    }
}

/// Errors are the default and carry no prefix; warnings say so.
impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Severity::Error => Ok(()),
            Severity::Warning => f.write_str("warning: "),
        }
    }
}

/// All the diagnostics of one file, in file order; displayed one per line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| !d.is_error())
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.0
    }

    pub(crate) fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    /// Orders by position so that output follows the file, whatever order the checks ran in.
    pub(crate) fn sort(&mut self) {
        self.0.sort_by_key(|d| (d.line, d.column));
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Collects the diagnostics of one pass over a file.
pub(crate) struct Sink<'a> {
    file: &'a str,
    out: Diagnostics,
    /// Diagnostics of other files this one refers to (workflow files), after its own.
    others: Vec<Diagnostic>,
}

impl<'a> Sink<'a> {
    pub(crate) fn new(file: &'a str) -> Self {
        Self {
            file,
            out: Diagnostics::default(),
            others: Vec::new(),
        }
    }

    /// Adds the diagnostics of another file, kept in their own order after this file's.
    pub(crate) fn absorb(&mut self, other: Diagnostics) {
        self.others.extend(other);
    }

    pub(crate) fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.out.push(Diagnostic::new(
            Severity::Error,
            self.file,
            pos,
            message.into(),
        ));
    }

    pub(crate) fn warning(&mut self, pos: Pos, message: impl Into<String>) {
        self.out.push(Diagnostic::new(
            Severity::Warning,
            self.file,
            pos,
            message.into(),
        ));
    }

    pub(crate) fn finish(mut self) -> Diagnostics {
        self.out.sort();
        // Another file's are absorbed once per use of it (a workflow called twice).
        for d in self.others {
            if !self.out.0.contains(&d) {
                self.out.push(d);
            }
        }
        self.out
    }
}
