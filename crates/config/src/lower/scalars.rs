//! Range checks shared by every field of a kind: durations, replica scales and weights.

use std::time::Duration;

use bellwether_core::spec::{Scale, Weight, WeightError};
use bellwether_core::time::human_duration;

use crate::diagnostic::Sink;
use crate::span::{Pos, Spanned};
use crate::values::{DurationValue, Percent, ScaleValue};

/// Durations past this are almost certainly a slip (`30d` where `30s` was meant), and no rollout
/// step, probe or timeout needs them.
const MAX_DURATION: Duration = Duration::from_secs(30 * 86_400);

/// Whether zero is a meaningful value for a duration.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Zero {
    /// e.g. a pause or a delay: zero means "none".
    Allowed,
    /// e.g. an interval or a timeout: zero would spin or never succeed.
    Rejected,
}

/// Checks a duration named `what` (its key in the file); `None` after reporting a problem.
pub(super) fn duration(
    d: &Spanned<DurationValue>,
    what: &str,
    zero: Zero,
    sink: &mut Sink<'_>,
) -> Option<Duration> {
    duration_at(d.value, d.pos, what, zero, sink)
}

/// [`duration`] with a default for when the key is absent or its value is rejected.
pub(super) fn duration_or(
    d: Option<&Spanned<DurationValue>>,
    what: &str,
    zero: Zero,
    default: Duration,
    sink: &mut Sink<'_>,
) -> Duration {
    d.and_then(|d| duration(d, what, zero, sink))
        .unwrap_or(default)
}

pub(super) fn duration_at(
    d: DurationValue,
    pos: Pos,
    what: &str,
    zero: Zero,
    sink: &mut Sink<'_>,
) -> Option<Duration> {
    let Some(std) = d.to_std() else {
        sink.error(
            pos,
            format!("{what} {d} is negative (expected a duration like 30s, 5m or 1h)"),
        );
        return None;
    };
    if std.is_zero() && zero == Zero::Rejected {
        sink.error(
            pos,
            format!("{what} must be more than 0s (expected a duration like 1s or 30s)"),
        );
        return None;
    }
    if std > MAX_DURATION {
        let max = human_duration(MAX_DURATION);
        sink.error(
            pos,
            format!("{what} {d} is over the {max} limit (expected at most {max})"),
        );
        return None;
    }
    Some(std)
}

/// Checks a `maxSurge`/`maxUnavailable` value: a percentage may not pass 100%.
pub(super) fn scale(s: &Spanned<ScaleValue>, what: &str, sink: &mut Sink<'_>) -> Option<Scale> {
    match s.value.0 {
        Scale::Percent(p) if p > 100 => {
            sink.error(
                s.pos,
                format!(
                    "{what} {p}% is over 100% (expected a count like 1 or a percentage up to 100%)"
                ),
            );
            None
        }
        scale => Some(scale),
    }
}

/// Checks a traffic weight: 0–100% in steps of 0.01%.
pub(super) fn weight(p: &Spanned<Percent>, sink: &mut Sink<'_>) -> Option<Weight> {
    let error = match Weight::from_percent_f64(p.value.0) {
        Ok(w) => return Some(w),
        Err(e) => e,
    };
    let expected = match error {
        WeightError::TooFine(_) => "expected at most two decimals, e.g. 0.25%",
        WeightError::OverHundred(_) | WeightError::Negative(_) | WeightError::NotANumber(_) => {
            "expected 0–100%"
        }
    };
    sink.error(p.pos, format!("{error} ({expected})"));
    None
}
