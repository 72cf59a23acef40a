//! The syntax tree of an expression, the functions it may call, and how it prints.

use std::fmt;

use super::value::{Value, format_number};

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Literal(Value),
    /// A context by name: `github`, `env`, `matrix`, `needs`, `steps`, `inputs`, `secrets`…
    Context(String),
    /// `a.b`
    Property(Box<Expr>, String),
    /// `a[b]`
    Index(Box<Expr>, Box<Expr>),
    /// `a.*` or `a[*]`: every element (or property value), so that later property accesses
    /// apply to each of them, e.g. `github.event.commits.*.message`.
    Star(Box<Expr>),
    Not(Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    Call(Function, Vec<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinaryOp {
    fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::And => "&&",
            BinaryOp::Or => "||",
        }
    }
}

/// The built-in functions. Names are matched ignoring case, as in GitHub Actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Function {
    Success,
    Failure,
    Always,
    Cancelled,
    Contains,
    StartsWith,
    EndsWith,
    Format,
    Join,
    ToJson,
    FromJson,
    HashFiles,
}

impl Function {
    pub const ALL: [Function; 12] = [
        Function::Success,
        Function::Failure,
        Function::Always,
        Function::Cancelled,
        Function::Contains,
        Function::StartsWith,
        Function::EndsWith,
        Function::Format,
        Function::Join,
        Function::ToJson,
        Function::FromJson,
        Function::HashFiles,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Function::Success => "success",
            Function::Failure => "failure",
            Function::Always => "always",
            Function::Cancelled => "cancelled",
            Function::Contains => "contains",
            Function::StartsWith => "startsWith",
            Function::EndsWith => "endsWith",
            Function::Format => "format",
            Function::Join => "join",
            Function::ToJson => "toJSON",
            Function::FromJson => "fromJSON",
            Function::HashFiles => "hashFiles",
        }
    }

    pub fn by_name(name: &str) -> Option<Function> {
        Self::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// The least and most arguments it takes (`None`: no limit).
    pub fn arity(self) -> (usize, Option<usize>) {
        match self {
            Function::Success | Function::Failure | Function::Always | Function::Cancelled => {
                (0, Some(0))
            }
            Function::Contains | Function::StartsWith | Function::EndsWith => (2, Some(2)),
            Function::Format => (1, None),
            Function::Join => (1, Some(2)),
            Function::ToJson | Function::FromJson => (1, Some(1)),
            Function::HashFiles => (1, None),
        }
    }

    /// `success()`, `failure()`, `always()` and `cancelled()` read the status of the run.
    pub fn is_status(self) -> bool {
        matches!(
            self,
            Function::Success | Function::Failure | Function::Always | Function::Cancelled
        )
    }
}

/// A context and the literal property names after it: `needs.build.outputs.version` is
/// `needs` with `[build, outputs, version]`. The path stops at the first computed index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub context: String,
    pub path: Vec<String>,
}

/// `github` values that whoever pushes or opens a pull request chooses.
const UNTRUSTED_GITHUB: &[&str] = &["head_ref", "actor", "triggering_actor"];
/// Properties of `github.event` that are numbers, hashes or flags, whoever sends the event.
const SAFE_EVENT: &[&str] = &[
    "number",
    "sha",
    "after",
    "before",
    "id",
    "created",
    "deleted",
    "forced",
    "merged",
    "draft",
    "action",
    "size",
    "head_sha",
    "conclusion",
];

impl Reference {
    /// Whether it reads text an outsider chooses: the branch a pull request comes from, who
    /// pushed, and anything of the event but its numbers, hashes and flags (titles, bodies,
    /// commit messages, author names, refs), as GitHub's advice on untrusted input lists them.
    pub fn is_untrusted(&self) -> bool {
        if !self.context.eq_ignore_ascii_case("github") {
            return false;
        }
        match self.path.first().map(String::as_str) {
            Some(key) if UNTRUSTED_GITHUB.contains(&key) => true,
            Some("event") => self
                .path
                .last()
                .is_none_or(|last| !SAFE_EVENT.contains(&last.as_str())),
            _ => false,
        }
    }
}

impl fmt::Display for Reference {
    /// As written, with its literal path: `github.event.pull_request.title`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.context)?;
        self.path.iter().try_for_each(|p| write!(f, ".{p}"))
    }
}

impl Expr {
    /// Calls `f` on this node and every node below it.
    pub fn walk(&self, f: &mut impl FnMut(&Expr)) {
        f(self);
        match self {
            Expr::Literal(_) | Expr::Context(_) => {}
            Expr::Property(e, _) | Expr::Star(e) | Expr::Not(e) => e.walk(f),
            Expr::Index(a, b) | Expr::Binary(_, a, b) => {
                a.walk(f);
                b.walk(f);
            }
            Expr::Call(_, args) => args.iter().for_each(|a| a.walk(f)),
        }
    }

    /// Every function called anywhere in the expression.
    pub fn calls(&self) -> Vec<Function> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let Expr::Call(function, _) = e {
                out.push(*function);
            }
        });
        out
    }

    /// Every context the expression reads, with the longest literal path after it.
    pub fn references(&self) -> Vec<Reference> {
        let mut out = Vec::new();
        self.collect_references(&mut out);
        out
    }

    fn collect_references(&self, out: &mut Vec<Reference>) {
        if let Some(reference) = self.reference() {
            out.push(reference);
        }
        match self {
            Expr::Literal(_) | Expr::Context(_) => {}
            // The chain itself was taken whole above; only computed indexes hold more.
            Expr::Property(e, _) | Expr::Star(e) => e.collect_inner(out),
            Expr::Index(a, b) => {
                a.collect_inner(out);
                b.collect_references(out);
            }
            Expr::Not(e) => e.collect_references(out),
            Expr::Binary(_, a, b) => {
                a.collect_references(out);
                b.collect_references(out);
            }
            Expr::Call(_, args) => args.iter().for_each(|a| a.collect_references(out)),
        }
    }

    /// Inside a chain already reported: only the indexes inside it may hold references.
    fn collect_inner(&self, out: &mut Vec<Reference>) {
        match self {
            Expr::Property(e, _) | Expr::Star(e) => e.collect_inner(out),
            Expr::Index(a, b) => {
                a.collect_inner(out);
                b.collect_references(out);
            }
            Expr::Context(_) => {}
            other => other.collect_references(out),
        }
    }

    /// The reference this node is the end of, if it is a chain starting at a context.
    fn reference(&self) -> Option<Reference> {
        let mut path: Vec<Option<String>> = Vec::new();
        let mut node = self;
        let context = loop {
            match node {
                Expr::Context(name) => break name.clone(),
                Expr::Property(e, name) => {
                    path.push(Some(name.clone()));
                    node = e;
                }
                Expr::Index(e, key) => {
                    path.push(match key.as_ref() {
                        Expr::Literal(Value::String(s)) => Some(s.clone()),
                        _ => None,
                    });
                    node = e;
                }
                Expr::Star(e) => {
                    path.push(None);
                    node = e;
                }
                _ => return None,
            }
        };
        path.reverse();
        Some(Reference {
            context,
            path: path.into_iter().map_while(|p| p).collect(),
        })
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Literal(v) => literal(v, f),
            Expr::Context(name) => f.write_str(name),
            Expr::Property(e, name) => write!(f, "{}.{name}", Dotted(e)),
            Expr::Index(e, key) => write!(f, "{}[{key}]", Dotted(e)),
            Expr::Star(e) => write!(f, "{}.*", Dotted(e)),
            Expr::Not(e) => write!(f, "!{e}"),
            Expr::Binary(op, a, b) => write!(f, "({a} {} {b})", op.symbol()),
            Expr::Call(function, args) => {
                write!(f, "{}(", function.name())?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// The left of `.` or `[`: a number needs parentheses, or `1.5.a` would read as one bad
/// number, and so does a `!`, which binds more loosely than property access.
struct Dotted<'a>(&'a Expr);

impl fmt::Display for Dotted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Expr::Literal(Value::Number(_)) | Expr::Not(_) => write!(f, "({})", self.0),
            other => write!(f, "{other}"),
        }
    }
}

/// Literals print so that they parse back to themselves.
fn literal(v: &Value, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match v {
        Value::Null => f.write_str("null"),
        Value::Bool(b) => write!(f, "{b}"),
        Value::Number(n) if n.is_nan() => f.write_str("NaN"),
        Value::Number(n) => f.write_str(&format_number(*n)),
        Value::String(s) => write!(f, "'{}'", s.replace('\'', "''")),
        // The parser makes no container literals; show them as the JSON they are.
        Value::Array(_) | Value::Object(_) => write!(f, "fromJSON('{}')", v.to_json()),
    }
}
