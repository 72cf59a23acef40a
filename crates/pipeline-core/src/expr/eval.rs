//! Evaluating an expression against the contexts of the moment.

mod functions;

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::ast::{BinaryOp, Expr};
use super::value::Value;

/// Why an expression could not be evaluated, e.g. `fromJSON` of text that is not JSON.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

/// What the status functions answer: about the job's needs in a job's `if`, about the
/// earlier steps in a step's `if`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// Nothing before failed, and nothing is being cancelled.
    pub success: bool,
    /// Something before failed.
    pub failure: bool,
    /// The run is being cancelled.
    pub cancelled: bool,
}

/// Hashes the files that match glob patterns in the workspace; the executor supplies it, since
/// the core reads no files. The empty string when nothing matches, as in GitHub Actions.
pub trait HashFiles {
    fn hash_files(&self, patterns: &[String]) -> Result<String, String>;
}

/// [`HashFiles`] as the executor answers it: each job instance has a workspace of its own,
/// so the executor is told which one the step that asks works in.
pub trait WorkspaceFiles {
    fn hash_files_in(&self, workspace: &str, patterns: &[String]) -> Result<String, String>;
}

/// Everything an expression may read while it is evaluated.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    /// Contexts by lowercase name: `github`, `env`, `matrix`, `needs`, `steps`…
    pub contexts: &'a BTreeMap<String, Value>,
    /// `None` where the status functions are not allowed (anywhere but an `if`).
    pub status: Option<Status>,
    /// `None` where `hashFiles` is not available (outside a job's steps).
    pub files: Option<&'a dyn HashFiles>,
}

impl<'a> Scope<'a> {
    pub fn new(contexts: &'a BTreeMap<String, Value>) -> Self {
        Self {
            contexts,
            status: None,
            files: None,
        }
    }

    pub fn with_status(self, status: Status) -> Self {
        Self {
            status: Some(status),
            ..self
        }
    }

    pub fn with_files(self, files: &'a dyn HashFiles) -> Self {
        Self {
            files: Some(files),
            ..self
        }
    }
}

/// A value, or the many values a `*` filter selected.
enum Eval {
    One(Value),
    Many(Vec<Value>),
}

impl Eval {
    fn into_value(self) -> Value {
        match self {
            Eval::One(v) => v,
            Eval::Many(items) => Value::Array(items),
        }
    }
}

/// Evaluates `expr` in `scope`.
pub fn evaluate(expr: &Expr, scope: &Scope<'_>) -> Result<Value, EvalError> {
    eval(expr, scope).map(Eval::into_value)
}

fn eval(expr: &Expr, scope: &Scope<'_>) -> Result<Eval, EvalError> {
    Ok(match expr {
        Expr::Literal(v) => Eval::One(v.clone()),
        Expr::Context(name) => Eval::One(
            scope
                .contexts
                .get(&name.to_ascii_lowercase())
                .cloned()
                .unwrap_or_default(),
        ),
        Expr::Property(e, name) => match eval(e, scope)? {
            Eval::One(v) => Eval::One(v.property(name).cloned().unwrap_or_default()),
            Eval::Many(items) => Eval::Many(
                items
                    .iter()
                    .filter_map(|v| v.property(name).cloned())
                    .collect(),
            ),
        },
        Expr::Index(e, key) => {
            let key = evaluate(key, scope)?;
            match eval(e, scope)? {
                Eval::One(v) => Eval::One(v.index(&key).cloned().unwrap_or_default()),
                Eval::Many(items) => Eval::Many(
                    items
                        .iter()
                        .filter_map(|v| v.index(&key).cloned())
                        .collect(),
                ),
            }
        }
        Expr::Star(e) => {
            let children = |v: Value| match v {
                Value::Array(items) => items,
                Value::Object(map) => map.into_values().collect(),
                _ => Vec::new(),
            };
            match eval(e, scope)? {
                Eval::One(v) => Eval::Many(children(v)),
                Eval::Many(items) => Eval::Many(items.into_iter().flat_map(children).collect()),
            }
        }
        Expr::Not(e) => Eval::One(Value::Bool(!evaluate(e, scope)?.is_truthy())),
        Expr::Binary(op, a, b) => Eval::One(binary(*op, a, b, scope)?),
        Expr::Call(function, args) => Eval::One(functions::call(*function, args, scope)?),
    })
}

fn binary(op: BinaryOp, a: &Expr, b: &Expr, scope: &Scope<'_>) -> Result<Value, EvalError> {
    let left = evaluate(a, scope)?;
    // `&&` and `||` short-circuit and return an operand, as in JavaScript and GitHub.
    match op {
        BinaryOp::And if !left.is_truthy() => return Ok(left),
        BinaryOp::Or if left.is_truthy() => return Ok(left),
        BinaryOp::And | BinaryOp::Or => return evaluate(b, scope),
        _ => {}
    }
    let right = evaluate(b, scope)?;
    let ordering = || left.loose_cmp(&right);
    Ok(Value::Bool(match op {
        BinaryOp::Eq => left.loose_eq(&right),
        BinaryOp::Ne => !left.loose_eq(&right),
        BinaryOp::Lt => ordering() == Some(Ordering::Less),
        BinaryOp::Le => matches!(ordering(), Some(Ordering::Less | Ordering::Equal)),
        BinaryOp::Gt => ordering() == Some(Ordering::Greater),
        BinaryOp::Ge => matches!(ordering(), Some(Ordering::Greater | Ordering::Equal)),
        BinaryOp::And | BinaryOp::Or => false,
    }))
}
