//! `successCondition`/`failureCondition` expressions in CEL, Argo Rollouts' expr-lang spellings
//! accepted (`bellwether-condition`): `result` is the measured value and `baseline` the
//! baseline revision's.
//!
//! A value has two shapes where Argo has one: a Prometheus instant vector of one series is a
//! number, so that `result >= 0.95` reads as written, and Argo's `result[0] >= 0.95`,
//! `len(result)` and `all(result, …)` read it as the vector it is. So a condition that cannot
//! be evaluated on the value as measured is evaluated on its other shape (a number as the list
//! of it, a list of one as its item), `baseline` likewise, and that answer counts if there is one.

use std::sync::Arc;

use bellwether_condition::{Program, context};
use bellwether_core::spec::Unit;

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
        let program = bellwether_condition::compile(text).map_err(|e| e.to_string());
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
        let as_measured = execute(program, to_cel(result), baseline.map(to_cel));
        let answer = match (as_measured, other_shape(result)) {
            (Err(e), Some(other)) => {
                let baseline = baseline.map(|b| other_shape(b).unwrap_or_else(|| to_cel(b)));
                execute(program, other, baseline).map_err(|_| e)
            }
            (answer, _) => answer,
        };
        match answer {
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

fn execute(
    program: &Program,
    result: cel::Value,
    baseline: Option<cel::Value>,
) -> Result<cel::Value, cel::ExecutionError> {
    let mut context = context();
    context.add_variable_from_value("result", result);
    if let Some(b) = baseline {
        context.add_variable_from_value("baseline", b);
    }
    program.execute(&context)
}

/// A number as the list of it, a list of one as its item: see the module's documentation.
fn other_shape(v: &Value) -> Option<cel::Value> {
    match v {
        Value::Number(_) => Some(cel::Value::List(Arc::new(vec![to_cel(v)]))),
        Value::List(items) if items.len() == 1 => Some(to_cel(&items[0])),
        _ => None,
    }
}

fn to_cel(v: &Value) -> cel::Value {
    match v {
        Value::Number(n) => cel::Value::Float(*n),
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Text(t) => cel::Value::String(Arc::new(t.clone())),
        Value::List(items) => cel::Value::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Map(members) => cel::Value::Map(
            members
                .iter()
                .map(|(k, v)| (k.as_str().into(), to_cel(v)))
                .collect::<std::collections::HashMap<cel::objects::Key, cel::Value>>()
                .into(),
        ),
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s).trim()
}
