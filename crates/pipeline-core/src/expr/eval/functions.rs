//! The built-in functions, with GitHub Actions' semantics: string functions ignore case,
//! `contains` searches arrays by loose equality, `format` takes `{0}` placeholders.

use super::super::ast::{Expr, Function};
use super::super::value::Value;
use super::{EvalError, Scope, evaluate};

pub(super) fn call(
    function: Function,
    args: &[Expr],
    scope: &Scope<'_>,
) -> Result<Value, EvalError> {
    let values = args
        .iter()
        .map(|a| evaluate(a, scope))
        .collect::<Result<Vec<_>, _>>()?;
    let arg = |i: usize| values.get(i).cloned().unwrap_or_default();
    Ok(match function {
        Function::Contains => Value::Bool(contains(&arg(0), &arg(1))),
        Function::StartsWith => Value::Bool(lower(&arg(0)).starts_with(&lower(&arg(1)))),
        Function::EndsWith => Value::Bool(lower(&arg(0)).ends_with(&lower(&arg(1)))),
        Function::Format => Value::String(format(
            &arg(0).to_text(),
            values.get(1..).unwrap_or_default(),
        )?),
        Function::Join => {
            let separator = values.get(1).map_or_else(|| ",".to_owned(), Value::to_text);
            match arg(0) {
                Value::Array(items) => Value::String(
                    items
                        .iter()
                        .map(Value::to_text)
                        .collect::<Vec<_>>()
                        .join(&separator),
                ),
                other => Value::String(other.to_text()),
            }
        }
        Function::ToJson => Value::String(
            serde_json::to_string_pretty(&arg(0).to_json())
                .map_err(|e| EvalError(format!("toJSON: {e}")))?,
        ),
        Function::FromJson => {
            let text = arg(0).to_text();
            let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                EvalError(format!("fromJSON: `{}` is not JSON: {e}", shorten(&text)))
            })?;
            Value::from_json(&json)
        }
        Function::HashFiles => {
            let Some(files) = scope.files else {
                return Err(EvalError(
                    "hashFiles() reads the workspace, so it is only available in a job's steps"
                        .to_owned(),
                ));
            };
            let patterns: Vec<String> = values.iter().map(Value::to_text).collect();
            Value::String(
                files
                    .hash_files(&patterns)
                    .map_err(|e| EvalError(format!("hashFiles: {e}")))?,
            )
        }
        Function::Success | Function::Failure | Function::Always | Function::Cancelled => {
            return status(function, scope);
        }
    })
}

fn status(function: Function, scope: &Scope<'_>) -> Result<Value, EvalError> {
    let Some(status) = scope.status else {
        return Err(EvalError(format!(
            "{}() is only available in `if`",
            function.name()
        )));
    };
    Ok(Value::Bool(match function {
        Function::Success => status.success,
        Function::Failure => status.failure,
        Function::Cancelled => status.cancelled,
        _ => true,
    }))
}

fn lower(v: &Value) -> String {
    v.to_text().to_lowercase()
}

fn contains(haystack: &Value, needle: &Value) -> bool {
    match haystack {
        Value::Array(items) => items.iter().any(|item| item.loose_eq(needle)),
        other => lower(other).contains(&lower(needle)),
    }
}

/// `format('{0} and {1}', a, b)`; `{{` and `}}` stand for braces.
fn format(template: &str, args: &[Value]) -> Result<String, EvalError> {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut index = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(d) => index.push(d),
                        None => {
                            return Err(EvalError(format!(
                                "format: `{{{index}` has no closing `}}` in '{template}'"
                            )));
                        }
                    }
                }
                let i: usize = index.trim().parse().map_err(|_| {
                    EvalError(format!(
                        "format: `{{{index}}}` is not a placeholder like {{0}} in '{template}'"
                    ))
                })?;
                let value = args.get(i).ok_or_else(|| {
                    EvalError(format!(
                        "format: '{template}' uses {{{i}}} but has {} argument{}",
                        args.len(),
                        if args.len() == 1 { "" } else { "s" }
                    ))
                })?;
                out.push_str(&value.to_text());
            }
            '}' => {
                return Err(EvalError(format!(
                    "format: a lone `}}` in '{template}' (expected `}}}}` for a brace)"
                )));
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

fn shorten(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    let head: String = text.chars().take(MAX).collect();
    format!("{head}…")
}
