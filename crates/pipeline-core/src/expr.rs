//! The `${{ }}` expression language of GitHub Actions, so that pasted conditions and
//! interpolations mean what they meant there: literals, contexts, property access and
//! indexing (with `*` filters), `!`, comparisons, `&&`, `||`, and the built-in functions.
//!
//! [`parse`] makes an [`Expr`]; [`Template`] is a string with `${{ }}` parts and
//! [`Condition`] an `if:`; [`evaluate`] reads contexts from a [`Scope`], which also says
//! whether status functions are allowed and supplies `hashFiles` (the core reads no files).

mod ast;
mod eval;
mod parser;
mod template;
mod value;

pub use ast::{BinaryOp, Expr, Function, Reference};
pub use eval::{EvalError, HashFiles, Scope, Status, WorkspaceFiles, evaluate};
pub use parser::{ParseError, parse};
pub use template::{Condition, Part, Script, Template};
pub use value::Value;

#[cfg(test)]
mod tests;
