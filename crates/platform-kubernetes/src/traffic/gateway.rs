//! Gateway API: the user's HTTPRoute's rules whose backendRefs name the service's Services
//! get the two Services with their weights in basis points (HTTPRoute weights are relative
//! integers, so a split is exact), a `RequestMirror` filter to the canary's Service (its
//! `fraction` out of 10,000) while a mirror is set, and a rule named `bellwether-header-route`
//! before them while a header route is: the first such rule's matches with the header added.

#[cfg(test)]
mod tests;

use bellwether_core::spec::{GatewayApiRouting, HeaderMatch, Weight};
use serde_json::{Value, json};

use super::split::{HEADER_ROUTE, Split, header_regex};
use super::write::{Change, Kind, Write};

pub(super) fn writes(config: &GatewayApiRouting, split: &Split) -> Vec<Write> {
    let split = split.clone();
    vec![Write {
        kind: Kind::HttpRoute,
        name: config.http_route.clone(),
        namespace: config.namespace.clone(),
        change: Change::Edit(Box::new(move |route| edit(route, &split))),
    }]
}

fn backend(name: &str, port: u16, weight: Option<Weight>) -> Value {
    let mut backend = json!({"kind": "Service", "name": name, "port": port});
    if let Some(weight) = weight {
        backend["weight"] = json!(weight.basis_points());
    }
    backend
}

fn edit(route: &mut Value, split: &Split) -> Result<(), String> {
    let rules = route
        .pointer_mut("/spec/rules")
        .and_then(Value::as_array_mut)
        .ok_or(
            "has no `spec.rules` (expected a rule whose backendRefs name the service's Services)",
        )?;
    rules.retain(|rule| rule["name"] != HEADER_ROUTE);
    let names = [split.stable_service.as_str(), split.canary_service.as_str()];
    let weighted: Vec<usize> = (0..rules.len())
        .filter(|&i| {
            rules[i]["backendRefs"].as_array().is_some_and(|refs| {
                refs.iter()
                    .any(|b| b["name"].as_str().is_some_and(|n| names.contains(&n)))
            })
        })
        .collect();
    let Some(&first) = weighted.first() else {
        return Err(format!(
            "has no rule with a backendRef to Service `{}` (expected one, whose weights bellwether sets)",
            split.stable_service
        ));
    };
    let mut refs = vec![backend(
        &split.stable_service,
        split.port,
        Some(split.stable_weight),
    )];
    if split.canary.is_some() {
        refs.push(backend(
            &split.canary_service,
            split.port,
            Some(split.canary_weight),
        ));
    }
    for &i in &weighted {
        let rule = &mut rules[i];
        rule["backendRefs"] = json!(refs);
        let mut filters: Vec<Value> = rule["filters"].as_array().cloned().unwrap_or_default();
        filters.retain(|f| {
            f["type"] != "RequestMirror"
                || f["requestMirror"]["backendRef"]["name"] != split.canary_service.as_str()
        });
        if let Some(share) = split.mirror {
            filters.push(json!({
                "type": "RequestMirror",
                "requestMirror": {
                    "backendRef": backend(&split.canary_service, split.port, None),
                    "fraction": {"numerator": share.basis_points(), "denominator": 10_000},
                },
            }));
        }
        set_or_remove(rule, "filters", filters);
    }
    if let Some(header) = &split.header {
        let header = header_match(header);
        let mut matches: Vec<Value> = rules[first]["matches"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| vec![json!({})]);
        for m in &mut matches {
            let mut headers = m["headers"].as_array().cloned().unwrap_or_default();
            headers.push(header.clone());
            m["headers"] = json!(headers);
        }
        let rule = json!({
            "name": HEADER_ROUTE,
            "matches": matches,
            "backendRefs": [backend(&split.canary_service, split.port, None)],
        });
        rules.insert(0, rule);
    }
    Ok(())
}

/// Sets `key` to `list`, or leaves it out when `list` is empty.
pub(super) fn set_or_remove(object: &mut Value, key: &str, list: Vec<Value>) {
    if !list.is_empty() {
        object[key] = json!(list);
    } else if let Some(object) = object.as_object_mut() {
        object.remove(key);
    }
}

/// An HTTPRoute header match: `Exact`, else a `RegularExpression` (it has no prefix match).
fn header_match(matched: &HeaderMatch) -> Value {
    match matched {
        HeaderMatch::Exact { header, value } => {
            json!({"type": "Exact", "name": header, "value": value})
        }
        other => {
            let (header, pattern) = header_regex(other);
            json!({"type": "RegularExpression", "name": header, "value": pattern})
        }
    }
}
