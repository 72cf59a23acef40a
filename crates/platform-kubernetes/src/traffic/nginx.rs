//! NGINX Ingress: bellwether's canary Ingress, `<stableIngress>-canary`, is the user's stable
//! Ingress copied afresh at each decision (its class, rules and TLS), every backend naming
//! the stable Service pointed at the canary's, with the canary annotations: the weight out of
//! `canary-weight-total` 10,000 (a split in basis points is exact), and the header route as
//! `canary-by-header` with `canary-by-header-value` (an exact match) or
//! `canary-by-header-pattern` (a prefix or a regular expression). NGINX has no mirror here;
//! config refuses a canary that sets one.

#[cfg(test)]
mod tests;

use bellwether_core::spec::{HeaderMatch, NginxRouting};
use serde_json::{Map, Value, json};

use super::split::{Split, header_regex};
use super::write::{Change, Kind, Write};
use crate::names;

const ANNOTATION: &str = "nginx.ingress.kubernetes.io/";

/// The canary Ingress's name.
pub(super) fn canary_ingress(config: &NginxRouting) -> String {
    let stem = names::dns_label(&config.stable_ingress, 253 - "-canary".len());
    format!("{stem}-canary")
}

pub(super) fn writes(config: &NginxRouting, split: &Split) -> Vec<Write> {
    let (name, split) = (canary_ingress(config), split.clone());
    let made = name.clone();
    vec![Write {
        kind: Kind::Ingress,
        name,
        namespace: None,
        change: Change::CopyOf {
            from: config.stable_ingress.clone(),
            make: Box::new(move |stable| canary_of(stable, &made, &split)),
        },
    }]
}

fn canary_of(stable: &Value, name: &str, split: &Split) -> Result<Value, String> {
    let mut spec = stable
        .get("spec")
        .filter(|s| s.is_object())
        .cloned()
        .ok_or("has no `spec`")?;
    let mut pointed = false;
    if let Some(rules) = spec["rules"].as_array_mut() {
        for path in rules
            .iter_mut()
            .filter_map(|r| r.pointer_mut("/http/paths").and_then(Value::as_array_mut))
            .flatten()
        {
            let service = &mut path["backend"]["service"]["name"];
            if *service == split.stable_service.as_str() {
                *service = json!(split.canary_service);
                pointed = true;
            }
        }
    }
    if !pointed {
        return Err(format!(
            "has no backend naming Service `{}` (expected the stable Ingress to route to it)",
            split.stable_service
        ));
    }
    if let Some(spec) = spec.as_object_mut() {
        spec.remove("defaultBackend");
    }
    let mut annotations = Map::new();
    if let Some(class) = stable.pointer("/metadata/annotations/kubernetes.io~1ingress.class") {
        annotations.insert("kubernetes.io/ingress.class".into(), class.clone());
    }
    let mut set = |key: &str, value: String| {
        annotations.insert(format!("{ANNOTATION}{key}"), json!(value));
    };
    set("canary", "true".into());
    set(
        "canary-weight",
        split.canary_weight.basis_points().to_string(),
    );
    set("canary-weight-total", "10000".into());
    match &split.header {
        Some(HeaderMatch::Exact { header, value }) => {
            set("canary-by-header", header.clone());
            set("canary-by-header-value", value.clone());
        }
        Some(other) => {
            let (header, pattern) = header_regex(other);
            set("canary-by-header", header.to_owned());
            set("canary-by-header-pattern", pattern);
        }
        None => {}
    }
    let namespace = stable.pointer("/metadata/namespace").cloned();
    Ok(json!({
        "apiVersion": Kind::Ingress.api_version(),
        "kind": Kind::Ingress.name(),
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {names::MANAGED_BY: names::MANAGER, names::SERVICE: split.service_label},
            "annotations": annotations,
        },
        "spec": spec,
    }))
}
