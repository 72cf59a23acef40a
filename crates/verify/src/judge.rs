//! Whether an answer satisfies a check's expectations. Pure: the adapters hand in what they
//! measured and get back every rule that did not hold, each saying what was seen and what was
//! expected.

use bellwether_core::json_path::json_path;
use bellwether_core::spec::{BodyMatch, Expect, JsonExpect};
use serde_json::Value;

/// What an HTTP answer showed.
pub(crate) struct Answer<'a> {
    pub status: u16,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
}

/// Every expectation `answer` fails, in the order they are written; empty when it passes.
pub(crate) fn http(expect: &Expect, answer: &Answer<'_>) -> Vec<String> {
    let mut failures = Vec::new();
    if !expect.status.iter().any(|r| r.contains(answer.status)) {
        let wanted: Vec<String> = expect.status.iter().map(ToString::to_string).collect();
        failures.push(format!(
            "status {} (expected {})",
            answer.status,
            wanted.join(" or ")
        ));
    }
    for header in &expect.headers {
        let got = answer.headers.get_all(header.name.as_str());
        let values: Vec<String> = got
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        match (&header.value, values.is_empty()) {
            (_, true) => failures.push(format!("no `{}` header", header.name)),
            (Some(wanted), false) if !values.iter().any(|v| v == wanted) => failures.push(format!(
                "header `{}` is {:?} (expected {wanted:?})",
                header.name,
                values.join(", ")
            )),
            _ => {}
        }
    }
    let text = String::from_utf8_lossy(answer.body);
    match &expect.body {
        Some(BodyMatch::Contains(needle)) if !text.contains(needle.as_str()) => {
            failures.push(format!(
                "body does not contain {needle:?}: {}",
                excerpt(&text)
            ));
        }
        Some(BodyMatch::Regex(pattern)) => match regex::Regex::new(pattern) {
            Ok(re) if re.is_match(&text) => {}
            Ok(_) => failures.push(format!(
                "body does not match /{pattern}/: {}",
                excerpt(&text)
            )),
            Err(e) => failures.push(format!("`{pattern}` is not a regular expression: {e}")),
        },
        _ => {}
    }
    if !expect.json.is_empty() {
        match serde_json::from_slice::<Value>(answer.body) {
            Ok(doc) => {
                for rule in &expect.json {
                    if let Some(failure) = json(rule, &doc) {
                        failures.push(failure);
                    }
                }
            }
            Err(e) => failures.push(format!("body is not JSON ({e}): {}", excerpt(&text))),
        }
    }
    failures
}

fn json(rule: &JsonExpect, doc: &Value) -> Option<String> {
    match json_path(doc, &rule.path) {
        Err(e) => Some(e),
        Ok(None) => Some(format!(
            "nothing at {} (expected {})",
            rule.path, rule.equals
        )),
        Ok(Some(got)) if same(got, &rule.equals) => None,
        Ok(Some(got)) => Some(format!("{} is {got} (expected {})", rule.path, rule.equals)),
    }
}

/// JSON equality, except that numbers compare by value (`1` is `1.0`).
fn same(got: &Value, wanted: &Value) -> bool {
    match (got.as_f64(), wanted.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => got == wanted,
    }
}

/// `$.status=ok` as the command line writes it: the value is JSON when it parses as JSON
/// (`true`, `3`, `"x"`), a string otherwise.
pub fn parse_json_expect(text: &str) -> Result<JsonExpect, String> {
    let (path, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not PATH=VALUE (e.g. `$.status=ok`)"))?;
    let path = path.trim();
    json_path(&Value::Null, path)?;
    let equals = serde_json::from_str(value.trim()).unwrap_or_else(|_| Value::from(value.trim()));
    Ok(JsonExpect {
        path: path.to_owned(),
        equals,
    })
}

/// How many whole days from `now` to `not_after` (Unix seconds); negative once expired.
pub(crate) fn days_left(not_after: i64, now: i64) -> f64 {
    (not_after - now) as f64 / 86_400.0
}

/// The rule on a certificate's remaining validity.
pub(crate) fn certificate(days_left: f64, min_days: Option<u32>) -> Option<String> {
    let min = min_days?;
    if days_left >= f64::from(min) {
        None
    } else if days_left < 0.0 {
        Some(format!(
            "certificate expired {:.1} days ago (expected at least {min} days left)",
            -days_left
        ))
    } else {
        Some(format!(
            "certificate expires in {days_left:.1} days (expected at least {min})"
        ))
    }
}

/// The start of a body for a message: one line, at most 120 characters.
pub(crate) fn excerpt(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.trim();
    match flat.char_indices().nth(120) {
        Some((end, _)) => format!("{}…", &flat[..end]),
        None if flat.is_empty() => "(empty)".to_owned(),
        None => flat.to_owned(),
    }
}

#[cfg(test)]
mod tests;
