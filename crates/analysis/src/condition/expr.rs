//! `successCondition`/`failureCondition` expressions in CEL (the Common Expression Language, via
//! the `cel` crate): `result` is the measured value and `baseline` the baseline revision's.

use std::sync::Arc;

use bellwether_core::spec::Unit;
use cel::{Context, Program};

use super::{Check, ConditionError};
use crate::value::Value;

/// A compiled expression, or why it does not compile (reported with every measurement, so that
/// the run shows it rather than the engine refusing to start).
pub struct Expr {
    key: &'static str,
    text: String,
    program: Result<Program, String>,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expr")
            .field("key", &self.key)
            .field("text", &self.text)
            .finish_non_exhaustive()
    }
}

impl Expr {
    /// `key` names the condition in messages: `successCondition` or `failureCondition`.
    pub fn compile(key: &'static str, text: &str) -> Self {
        let program = Program::compile(text).map_err(|e| e.to_string());
        Self {
            key,
            text: text.to_owned(),
            program,
        }
    }

    pub fn mentions_baseline(&self) -> bool {
        match &self.program {
            Ok(p) => p.references().has_variable("baseline"),
            Err(_) => self.text.contains("baseline"),
        }
    }

    /// Evaluates the expression to a boolean.
    pub fn holds(&self, result: &Value, baseline: Option<&Value>) -> Result<bool, ConditionError> {
        let (key, text) = (self.key, &self.text);
        let program = self.program.as_ref().map_err(|e| {
            ConditionError(format!("{key} `{text}` does not parse: {}", first_line(e)))
        })?;
        let mut context = Context::default();
        context.add_variable_from_value("result", to_cel(result));
        if let Some(b) = baseline {
            context.add_variable_from_value("baseline", to_cel(b));
        }
        match program.execute(&context) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            Ok(other) => Err(ConditionError(format!(
                "{key} `{text}` gave {other:?}, not true or false"
            ))),
            Err(e) => Err(ConditionError(format!(
                "{key} `{text}` could not be evaluated: {e}"
            ))),
        }
    }

    pub(super) fn check(
        &self,
        unit: Unit,
        result: &Value,
        baseline: Option<&Value>,
    ) -> Result<Check, ConditionError> {
        let holds = self.holds(result, baseline)?;
        let value = match baseline {
            Some(b) => format!("{} (baseline {})", result.display(unit), b.display(unit)),
            None => result.display(unit),
        };
        let (key, text) = (self.key, &self.text);
        Ok(Check {
            holds,
            subject: Some(value),
            when_holds: format!("{key} `{text}` holds"),
            when_not: format!("{key} `{text}` does not hold"),
        })
    }
}

fn to_cel(v: &Value) -> cel::Value {
    match v {
        Value::Number(n) => cel::Value::Float(*n),
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Text(t) => cel::Value::String(Arc::new(t.clone())),
        Value::List(items) => cel::Value::List(Arc::new(items.iter().map(to_cel).collect())),
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s).trim()
}
