//! Fuzz targets: each takes any bytes and must end in a value or an error, never a panic, a
//! hang or an abort. [`TARGETS`] names them for the AFL++ driver (`scripts/fuzz.sh`) and for
//! `tests/regressions.rs`, which replays every seed and every finding through them.

use std::collections::BTreeMap;

use bellwether_pipeline_core::expr::{Condition, Scope, Template, Value};

/// A fuzz target: its name (a directory under `fuzz/`) and its entry.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

pub const TARGETS: &[Target] = &[
    Target {
        name: "config",
        run: config,
    },
    Target {
        name: "expressions",
        run: expressions,
    },
    Target {
        name: "conditions",
        run: conditions,
    },
    Target {
        name: "webhook",
        run: webhook,
    },
    Target {
        name: "backend-http",
        run: backend_http,
    },
];

/// The target named `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// A `bellwether.yaml`: parsed, checked and lowered, or diagnostics.
fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = bellwether_config::load("bellwether.yaml", &text);
}

/// A `${{ }}` template and an `if:` condition, each evaluated against contexts like a run's.
fn expressions(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let json = serde_json::json!({
        "github": {"ref": "refs/heads/main", "head_ref": "x$(id)", "event": {"commits": [{"message": "m"}]}},
        "env": {"A": "1"},
        "matrix": {"os": "linux", "n": 3},
        "needs": {"build": {"result": "success", "outputs": {"v": "1.2"}}},
        "secrets": {"TOKEN": "t"},
    });
    let Value::Object(contexts) = Value::from_json(&json) else {
        return;
    };
    let contexts: BTreeMap<String, Value> = contexts;
    let scope = Scope::new(&contexts);
    if let Ok(template) = Template::parse(&text) {
        let _ = template.evaluate(&scope);
        let _ = template.render_script(&scope, true);
    }
    if let Ok(condition) = Condition::parse(&text) {
        let _ = condition.passes(&scope);
    }
}

/// An analysis condition (CEL, as Argo Rollouts writes them) judged on a value and a baseline.
fn conditions(data: &[u8]) {
    use bellwether_analysis::Value;
    let text = String::from_utf8_lossy(data);
    let expr = bellwether_analysis::condition::Expr::compile("successCondition", &text);
    let result = Value::List(vec![Value::Number(0.97), Value::Number(f64::NAN)]);
    let _ = expr.holds(&result, Some(&Value::Number(0.5)));
    let _ = expr.holds(&Value::Text(text.to_string()), None);
}

/// A webhook delivery's body, as each event it may claim to be; the first byte picks the
/// event.
fn webhook(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let event = ["push", "pull_request", "ping", "issues"][usize::from(which) % 4];
    let _ = bellwether_triggers::webhook::parse(Some(event), body);
    let _ = bellwether_triggers::webhook::verify(b"secret", body, std::str::from_utf8(body).ok());
}

/// A server's answer as the router and the load generator read it; the first byte says where the two reads split.
fn backend_http(data: &[u8]) {
    let Some((&split, bytes)) = data.split_first() else {
        return;
    };
    let _ = bellwether_http1::parse_answer(bytes, usize::from(split));
}
