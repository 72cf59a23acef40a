//! Istio: the user's DestinationRule gets the revision label on its stable and canary subsets
//! (added when missing), and the user's VirtualService's HTTP routes named in `routes` (its
//! only one when none is named) route to those subsets with whole-percent weights that sum to
//! 100, the canary mirrored (`mirror`, `mirrorPercentage`) while a mirror is set; a route
//! named `bellwether-header-route` goes first while a header route is set, matching on the
//! header alone. The destinations' host is the one the route had.

#[cfg(test)]
mod tests;

use bellwether_core::spec::{HeaderMatch, IstioRouting, whole_percents};
use serde_json::{Value, json};

use super::split::{HEADER_ROUTE, Split};
use super::write::{Change, Kind, Write};
use crate::names;

pub(super) fn writes(config: &IstioRouting, split: &Split) -> Vec<Write> {
    let (rule, service) = (config.clone(), split.clone());
    let subsets = Write {
        kind: Kind::DestinationRule,
        name: config.destination_rule.clone(),
        namespace: None,
        change: Change::Edit(Box::new(move |dr| edit_subsets(dr, &rule, &service))),
    };
    let (vs, split) = (config.clone(), split.clone());
    let routes = Write {
        kind: Kind::VirtualService,
        name: config.virtual_service.clone(),
        namespace: None,
        change: Change::Edit(Box::new(move |v| edit_routes(v, &vs, &split))),
    };
    // The subsets first: a weight never goes to a subset that selects another revision.
    vec![subsets, routes]
}

fn edit_subsets(rule: &mut Value, config: &IstioRouting, split: &Split) -> Result<(), String> {
    let spec = rule
        .get_mut("spec")
        .filter(|s| s.is_object())
        .ok_or("has no `spec`")?;
    if !spec["subsets"].is_array() {
        spec["subsets"] = json!([]);
    }
    let subsets = spec["subsets"]
        .as_array_mut()
        .ok_or("has no `spec.subsets`")?;
    let sides = [
        (&config.stable_subset, Some(split.stable)),
        (&config.canary_subset, split.canary),
    ];
    for (name, revision) in sides {
        let Some(revision) = revision else { continue };
        let index = match subsets.iter().position(|s| s["name"] == name.as_str()) {
            Some(index) => index,
            None => {
                subsets.push(json!({"name": name}));
                subsets.len() - 1
            }
        };
        let subset = &mut subsets[index];
        if !subset["labels"].is_object() {
            subset["labels"] = json!({});
        }
        subset["labels"][names::SERVICE] = json!(split.service_label);
        subset["labels"][names::REVISION] = json!(revision.to_string());
    }
    Ok(())
}

fn edit_routes(service: &mut Value, config: &IstioRouting, split: &Split) -> Result<(), String> {
    let http = service
        .pointer_mut("/spec/http")
        .and_then(Value::as_array_mut)
        .ok_or("has no `spec.http` routes (expected the HTTP routes bellwether weights)")?;
    http.retain(|route| route["name"] != HEADER_ROUTE);
    let chosen: Vec<usize> = if config.routes.is_empty() {
        if http.len() != 1 {
            return Err(format!(
                "has {} HTTP routes (expected one, or the ones to weight named in `virtualService.routes`)",
                http.len()
            ));
        }
        vec![0]
    } else {
        let mut chosen = Vec::new();
        for name in &config.routes {
            let found = http.iter().position(|r| r["name"] == name.as_str());
            chosen.push(found.ok_or_else(|| format!("has no HTTP route named `{name}`"))?);
        }
        chosen
    };
    let percents = whole_percents(&[split.stable_weight, split.canary_weight]);
    let mut host = None;
    for &i in &chosen {
        let route = &mut http[i];
        let found = route["route"][0]["destination"]["host"]
            .as_str()
            .map(str::to_owned);
        let host = host.insert(found.ok_or_else(|| {
            format!("has no destination host in HTTP route {i} (expected `route: [{{destination: {{host: …}}}}]`)")
        })?).clone();
        let destination = |subset: &str| json!({"host": host, "subset": subset});
        let mut weighted =
            vec![json!({"destination": destination(&config.stable_subset), "weight": percents[0]})];
        if split.canary.is_some() {
            weighted.push(
                json!({"destination": destination(&config.canary_subset), "weight": percents[1]}),
            );
        }
        route["route"] = json!(weighted);
        if let Some(share) = split.mirror {
            route["mirror"] = destination(&config.canary_subset);
            route["mirrorPercentage"] = json!({"value": share.fraction() * 100.0});
        } else if let Some(route) = route.as_object_mut() {
            route.remove("mirror");
            route.remove("mirrorPercentage");
        }
    }
    if let (Some(header), Some(host)) = (&split.header, host) {
        let matched = match header {
            HeaderMatch::Exact { header, value } => (header, json!({"exact": value})),
            HeaderMatch::Prefix { header, value } => (header, json!({"prefix": value})),
            HeaderMatch::Regex { header, pattern } => (header, json!({"regex": pattern})),
        };
        // Istio matches header names in lowercase only.
        let name = matched.0.to_ascii_lowercase();
        http.insert(
            0,
            json!({
                "name": HEADER_ROUTE,
                "match": [{"headers": {name: matched.1}}],
                "route": [{"destination": {"host": host, "subset": config.canary_subset}}],
            }),
        );
    }
    Ok(())
}
