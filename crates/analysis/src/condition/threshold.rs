//! Compact thresholds: `result <op> value`, or relative to the baseline revision's value.

use bellwether_core::spec::{ConditionOp, Operand, Unit};

use super::{Check, ConditionError};
use crate::value::Value;

#[derive(Debug)]
pub(super) struct Threshold {
    op: ConditionOp,
    rhs: Operand,
}

impl Threshold {
    pub(super) fn new(op: ConditionOp, rhs: Operand) -> Self {
        Self { op, rhs }
    }

    pub(super) fn is_relative(&self) -> bool {
        self.rhs.is_relative()
    }

    pub(super) fn check(
        &self,
        unit: Unit,
        result: &Value,
        baseline: Option<&Value>,
    ) -> Result<Check, ConditionError> {
        let value = number("result", unit, result)?;
        let (limit, shown) = match self.rhs {
            Operand::Value(v) => (v, unit.format(v)),
            Operand::BaselinePlus(d) | Operand::BaselineTimes(d) => {
                let b = baseline.ok_or_else(|| {
                    ConditionError(
                        "the threshold compares with the baseline, which was not measured"
                            .to_owned(),
                    )
                })?;
                let b = number("baseline", unit, b)?;
                if let Operand::BaselinePlus(_) = self.rhs {
                    let sign = if d < 0.0 { "-" } else { "+" };
                    let limit = b + d;
                    let shown = format!(
                        "{} (baseline {} {sign} {})",
                        unit.format(limit),
                        unit.format(b),
                        unit.format(d.abs())
                    );
                    (limit, shown)
                } else {
                    let limit = b * d;
                    let shown = format!(
                        "{} (baseline {} * {})",
                        unit.format(limit),
                        unit.format(b),
                        Unit::Plain.format(d)
                    );
                    (limit, shown)
                }
            }
        };
        let v = unit.format(value);
        Ok(Check {
            holds: self.op.holds(value, limit),
            subject: None,
            when_holds: format!("{v} {} {shown}", self.op.symbol()),
            when_not: format!("{v} {} {shown}", negate(self.op).symbol()),
        })
    }
}

fn number(what: &str, unit: Unit, v: &Value) -> Result<f64, ConditionError> {
    v.as_number().ok_or_else(|| {
        ConditionError(format!(
            "{what} is {}, not a number, so a threshold cannot judge it",
            v.display(unit)
        ))
    })
}

/// The comparison that holds when `op` does not, for messages such as `4.8% > 1%`.
fn negate(op: ConditionOp) -> ConditionOp {
    match op {
        ConditionOp::Lt => ConditionOp::Ge,
        ConditionOp::Le => ConditionOp::Gt,
        ConditionOp::Gt => ConditionOp::Le,
        ConditionOp::Ge => ConditionOp::Lt,
        ConditionOp::Eq => ConditionOp::Ne,
        ConditionOp::Ne => ConditionOp::Eq,
    }
}
