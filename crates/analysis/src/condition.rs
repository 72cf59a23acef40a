//! Whether a measured value passes: compact thresholds (`error_rate <= 1%`, also relative to the
//! baseline) and `successCondition`/`failureCondition` expressions in CEL over `result` and
//! `baseline`. Pure: no I/O, no clock.
//!
//! The two conditions combine as in Argo Rollouts: with only a success condition, a value that
//! does not satisfy it fails; with only a failure condition, a value that does not satisfy it
//! passes; with both, the failure condition is checked first and a value that satisfies neither
//! is inconclusive.

mod expr;
mod threshold;

use bellwether_core::rollout::Verdict;
use bellwether_core::spec::{Condition, MetricSpec, Unit};

use crate::value::Value;

pub use expr::Expr;

/// A metric's conditions, with expressions compiled once for all its measurements.
#[derive(Debug)]
pub struct Conditions {
    unit: Unit,
    success: Option<Compiled>,
    failure: Option<Compiled>,
}

#[derive(Debug)]
enum Compiled {
    Threshold(threshold::Threshold),
    Expr(Expr),
}

/// What the conditions made of one value: the verdict and the comparison that decided it, as
/// people read it (`4.8% > 1%`, `failureCondition \`result > 0.5\` holds`).
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub verdict: Verdict,
    pub reason: String,
}

/// A condition that could not be evaluated: a value of the wrong type, an expression that does
/// not parse or does not give a boolean. The measurement is an error, retried like a provider's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConditionError(pub String);

/// One condition's answer: whether it holds, and how to say so either way.
struct Check {
    holds: bool,
    /// The value the texts are about when they do not name it themselves, e.g. `300ms`.
    subject: Option<String>,
    /// Read when the condition holds, e.g. `0.2% <= 1%`.
    when_holds: String,
    /// Read when it does not, e.g. `4.8% > 1%`.
    when_not: String,
}

impl Conditions {
    pub fn new(spec: &MetricSpec) -> Self {
        let compile = |c: &Option<Condition>, key: &'static str| {
            c.as_ref().map(|c| match c {
                Condition::Threshold { op, rhs } => {
                    Compiled::Threshold(threshold::Threshold::new(*op, *rhs))
                }
                Condition::Expr(text) => Compiled::Expr(Expr::compile(key, text)),
            })
        };
        Self {
            unit: spec.unit,
            success: compile(&spec.success, "successCondition"),
            failure: compile(&spec.failure, "failureCondition"),
        }
    }

    /// Whether judging a value needs the baseline revision's value too.
    pub fn needs_baseline(&self) -> bool {
        [&self.success, &self.failure]
            .into_iter()
            .flatten()
            .any(|c| match c {
                Compiled::Threshold(t) => t.is_relative(),
                Compiled::Expr(e) => e.mentions_baseline(),
            })
    }

    /// Judges `result` (and `baseline`, when the conditions compare with it).
    pub fn evaluate(
        &self,
        result: &Value,
        baseline: Option<&Value>,
    ) -> Result<Outcome, ConditionError> {
        let check = |c: &Compiled| match c {
            Compiled::Threshold(t) => t.check(self.unit, result, baseline),
            Compiled::Expr(e) => e.check(self.unit, result, baseline),
        };
        let success = self.success.as_ref().map(check).transpose()?;
        let failure = self.failure.as_ref().map(check).transpose()?;
        let outcome = |verdict, c: &Check, text: &str| Outcome {
            verdict,
            reason: match &c.subject {
                Some(subject) => format!("{subject}: {text}"),
                None => text.to_owned(),
            },
        };
        Ok(match (success, failure) {
            (_, Some(f)) if f.holds => outcome(Verdict::Failed, &f, &f.when_holds),
            (Some(s), _) if s.holds => outcome(Verdict::Successful, &s, &s.when_holds),
            (Some(s), None) => outcome(Verdict::Failed, &s, &s.when_not),
            (None, Some(f)) => outcome(Verdict::Successful, &f, &f.when_not),
            (Some(s), Some(f)) => {
                let both = format!("{}, and {}", s.when_not, f.when_not);
                outcome(Verdict::Inconclusive, &s, &both)
            }
            (None, None) => Outcome {
                verdict: Verdict::Successful,
                reason: format!("{} (no condition to judge it)", result.display(self.unit)),
            },
        })
    }
}

#[cfg(test)]
mod tests;
