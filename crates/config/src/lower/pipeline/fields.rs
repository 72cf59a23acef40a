//! What jobs and steps both have, checked the same way for each: ids, `env`, flags such as
//! `continue-on-error`, timeouts and shells.

use std::time::Duration;

use bellwether_pipeline_core::expr::Template;
use bellwether_pipeline_core::spec::{Flag, Shell};

use super::super::names;
use super::super::scalars::{Zero, duration};
use super::exprs::Place;
use crate::diagnostic::Sink;
use crate::model::FlagForm;
use crate::span::{Entries, Spanned};
use crate::values::{DurationValue, Whole};

/// GitHub's rule for job and step ids.
pub(super) fn job_id(id: &Spanned<String>, sink: &mut Sink<'_>) {
    let n = id.value.as_str();
    let valid = n.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        && n.len() <= 100;
    if !valid {
        sink.error(id.pos, format!("`{n}` is not a valid id (expected letters, digits, `-` and `_`, starting with a letter or `_`)"));
    }
}

pub(super) fn env_vars(
    env: &Entries<String>,
    place: &Place<'_>,
    sink: &mut Sink<'_>,
) -> Vec<(String, Template)> {
    env.iter()
        .filter_map(|(k, v)| {
            names::env_var("env name", k, sink);
            place.template(v, k.pos, sink).map(|t| (k.value.clone(), t))
        })
        .collect()
}

pub(super) fn flag(
    form: Option<&Spanned<FlagForm>>,
    place: &Place<'_>,
    sink: &mut Sink<'_>,
) -> Flag {
    match form.map(|f| (&f.value, f.pos)) {
        None => Flag::Const(false),
        Some((FlagForm::Bool(b), _)) => Flag::Const(*b),
        Some((FlagForm::Expr(text), pos)) => {
            let Some(template) = place.template(&Spanned::new(text.clone(), pos), pos, sink) else {
                return Flag::Const(false);
            };
            if template.as_literal().is_some() {
                sink.error(pos, format!("{}: `{text}` is not a boolean (expected true, false or an expression like ${{{{ matrix.experimental }}}})", place.field));
                return Flag::Const(false);
            }
            Flag::Expr(template)
        }
    }
}

pub(super) fn timeout(
    d: Option<&Spanned<DurationValue>>,
    minutes: Option<&Spanned<Whole<u32>>>,
    sink: &mut Sink<'_>,
) -> Option<Duration> {
    match (d, minutes) {
        (Some(_), Some(m)) => {
            sink.error(
                m.pos,
                "`timeout` and `timeout-minutes` are both set (expected one of them)",
            );
            None
        }
        (Some(d), None) => duration(d, "timeout", Zero::Rejected, sink),
        (None, Some(m)) if m.value.0 == 0 => {
            sink.error(
                m.pos,
                "timeout-minutes must be more than 0 (expected e.g. 30)",
            );
            None
        }
        (None, Some(m)) => {
            let millis = i64::from(m.value.0) * 60_000;
            duration(
                &Spanned::new(DurationValue::from_millis(millis), m.pos),
                "timeout-minutes",
                Zero::Rejected,
                sink,
            )
        }
        (None, None) => None,
    }
}

pub(super) fn shell(s: &Spanned<String>, sink: &mut Sink<'_>) -> Option<Shell> {
    Shell::parse(&s.value)
        .map_err(|e| sink.error(s.pos, e))
        .ok()
}
