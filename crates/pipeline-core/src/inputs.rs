//! Typed inputs of a manual run (`workflow_dispatch` in GitHub Actions): what is declared,
//! and how `--input name=value` becomes the `inputs` context.

use std::collections::BTreeMap;

use crate::expr::Value;

#[derive(Clone, Debug, PartialEq)]
pub struct InputSpec {
    pub name: String,
    pub description: Option<String>,
    pub kind: InputKind,
    pub default: Option<Value>,
    pub required: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputKind {
    String,
    Number,
    Boolean,
    Choice(Vec<String>),
}

impl InputKind {
    /// The value `text` stands for, or why it does not fit.
    pub fn coerce(&self, text: &str) -> Result<Value, String> {
        match self {
            InputKind::String => Ok(Value::string(text)),
            InputKind::Number => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .map(Value::Number)
                .ok_or_else(|| format!("`{text}` is not a number (expected e.g. 3 or 0.5)")),
            InputKind::Boolean => match text.trim() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(format!(
                    "`{text}` is not a boolean (expected true or false)"
                )),
            },
            InputKind::Choice(options) => {
                if options.iter().any(|o| o == text) {
                    Ok(Value::string(text))
                } else {
                    Err(format!(
                        "`{text}` is not one of the options (expected one of {})",
                        options.join(", ")
                    ))
                }
            }
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            InputKind::String => "string",
            InputKind::Number => "number",
            InputKind::Boolean => "boolean",
            InputKind::Choice(_) => "choice",
        }
    }

    /// What an optional input without a default holds: GitHub's empty values.
    pub(crate) fn empty(&self) -> Value {
        match self {
            InputKind::Boolean => Value::Bool(false),
            InputKind::Number => Value::Null,
            InputKind::String | InputKind::Choice(_) => Value::string(""),
        }
    }
}

/// The `inputs` context from the declared inputs and the `name=value` pairs given; every
/// problem at once when some do not fit.
pub fn resolve(
    declared: &[InputSpec],
    given: &[(String, String)],
) -> Result<BTreeMap<String, Value>, Vec<String>> {
    let mut problems = Vec::new();
    let mut values = BTreeMap::new();
    for (name, _) in given {
        if !declared.iter().any(|d| &d.name == name) {
            let names: Vec<&str> = declared.iter().map(|d| d.name.as_str()).collect();
            problems.push(if names.is_empty() {
                format!("unknown input `{name}` (this pipeline declares no inputs)")
            } else {
                format!(
                    "unknown input `{name}` (expected one of {})",
                    names.join(", ")
                )
            });
        }
    }
    for input in declared {
        let value = match given.iter().rev().find(|(n, _)| *n == input.name) {
            Some((_, text)) => match input.kind.coerce(text) {
                Ok(v) => v,
                Err(e) => {
                    problems.push(format!("input `{}`: {e}", input.name));
                    continue;
                }
            },
            None => match &input.default {
                Some(v) => v.clone(),
                None if input.required => {
                    problems.push(format!(
                        "input `{}` is required (expected --input {}=<{}>)",
                        input.name,
                        input.name,
                        input.kind.name()
                    ));
                    continue;
                }
                None => input.kind.empty(),
            },
        };
        values.insert(input.name.clone(), value);
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> Vec<InputSpec> {
        let input = |name: &str, kind, default: Option<Value>, required| InputSpec {
            name: name.to_owned(),
            description: None,
            kind,
            default,
            required,
        };
        vec![
            input(
                "environment",
                InputKind::Choice(vec!["staging".into(), "production".into()]),
                Some(Value::string("staging")),
                true,
            ),
            input("replicas", InputKind::Number, None, false),
            input("dry-run", InputKind::Boolean, None, false),
            input("reason", InputKind::String, None, true),
        ]
    }

    fn pairs(given: &[(&str, &str)]) -> Vec<(String, String)> {
        given
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn typed_values_and_defaults() {
        let values = resolve(
            &declared(),
            &pairs(&[("reason", "bad deploy"), ("replicas", "3")]),
        )
        .expect("valid");
        let shown: Vec<String> = values
            .iter()
            .map(|(k, v)| format!("{k}={}", v.to_json()))
            .collect();
        assert_eq!(
            shown,
            [
                "dry-run=false",
                "environment=\"staging\"",
                "reason=\"bad deploy\"",
                "replicas=3"
            ]
        );
    }

    #[test]
    fn every_problem_at_once() {
        let problems = resolve(
            &declared(),
            &pairs(&[
                ("environment", "prod"),
                ("replicas", "many"),
                ("dry-run", "yes"),
                ("colour", "red"),
            ]),
        )
        .err()
        .unwrap_or_default();
        insta::assert_snapshot!(problems.join("\n"), @"
        unknown input `colour` (expected one of environment, replicas, dry-run, reason)
        input `environment`: `prod` is not one of the options (expected one of staging, production)
        input `replicas`: `many` is not a number (expected e.g. 3 or 0.5)
        input `dry-run`: `yes` is not a boolean (expected true or false)
        input `reason` is required (expected --input reason=<string>)
        ");
    }
}
