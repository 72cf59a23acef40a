//! Label selectors as `labelSelector=` spells them: `key=value`, `key==value`, `key!=value`,
//! `key` (present) and `!key` (absent), joined by commas; all must hold.

use serde_json::Value;

use crate::status::Status;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Selector {
    requirements: Vec<Requirement>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    Absent(String),
}

impl Selector {
    /// Reads a selector; one this fake does not speak (set-based `in`, `notin`) is a 400.
    pub(crate) fn parse(text: &str) -> Result<Self, Status> {
        let mut requirements = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let requirement = if let Some((key, value)) = term.split_once("!=") {
                Requirement::NotEquals(key.trim().into(), value.trim().into())
            } else if let Some((key, value)) =
                term.split_once("==").or_else(|| term.split_once('='))
            {
                Requirement::Equals(key.trim().into(), value.trim().into())
            } else if let Some(key) = term.strip_prefix('!') {
                Requirement::Absent(key.trim().into())
            } else if term.contains(' ') || term.contains('(') {
                return Err(Status::bad_request(format!(
                    "unable to parse requirement {term:?}: only =, ==, != and existence are served"
                )));
            } else {
                Requirement::Exists(term.into())
            };
            requirements.push(requirement);
        }
        Ok(Self { requirements })
    }

    /// Whether `object`'s labels satisfy every requirement.
    pub(crate) fn matches(&self, object: &Value) -> bool {
        let labels = &object["metadata"]["labels"];
        self.requirements
            .iter()
            .all(|requirement| match requirement {
                Requirement::Equals(key, value) => labels[key].as_str() == Some(value),
                Requirement::NotEquals(key, value) => labels[key].as_str() != Some(value),
                Requirement::Exists(key) => !labels[key].is_null(),
                Requirement::Absent(key) => labels[key].is_null(),
            })
    }
}
