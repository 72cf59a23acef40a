use bellwether_core::spec::HeaderMatch;
use serde_json::{Value, json};

use super::edit;
use crate::traffic::split::Split;

fn route() -> Value {
    json!({"spec": {
        "parentRefs": [{"name": "edge"}],
        "rules": [
            {"matches": [{"path": {"type": "PathPrefix", "value": "/api"}}],
             "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {"add": [{"name": "x", "value": "1"}]}}],
             "backendRefs": [{"name": "api-stable", "port": 8080}]},
            {"backendRefs": [{"name": "other", "port": 80}]},
        ],
    }})
}

#[test]
fn weights_in_basis_points_a_header_rule_first_and_a_mirror_fraction() {
    let mut r = route();
    let split = Split::test(1250)
        .with_header(HeaderMatch::Prefix {
            header: "x-user".into(),
            value: "beta.".into(),
        })
        .mirrored(3333);
    edit(&mut r, &split).expect("edited");
    let rules = &r["spec"]["rules"];
    assert_eq!(
        rules[0],
        json!({
            "name": "bellwether-header-route",
            "matches": [{"path": {"type": "PathPrefix", "value": "/api"},
                         "headers": [{"type": "RegularExpression", "name": "x-user", "value": "^beta\\."}]}],
            "backendRefs": [{"kind": "Service", "name": "api-canary", "port": 8080}],
        })
    );
    assert_eq!(
        rules[1]["backendRefs"],
        json!([
            {"kind": "Service", "name": "api-stable", "port": 8080, "weight": 8750},
            {"kind": "Service", "name": "api-canary", "port": 8080, "weight": 1250},
        ])
    );
    let filters = rules[1]["filters"].as_array().expect("filters");
    assert_eq!(
        filters[0]["type"], "RequestHeaderModifier",
        "the user's filter stays"
    );
    assert_eq!(
        filters[1]["requestMirror"]["fraction"],
        json!({"numerator": 3333, "denominator": 10000})
    );
    assert_eq!(
        rules[2],
        json!({"backendRefs": [{"name": "other", "port": 80}]})
    );
    assert_eq!(r["spec"]["parentRefs"], json!([{"name": "edge"}]));

    // Cleared again: the header rule and the mirror go, the user's filter stays.
    edit(&mut r, &Split::test(0).stable_only()).expect("edited");
    let rules = r["spec"]["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), 2);
    assert_eq!(
        rules[0]["backendRefs"],
        json!([{"kind": "Service", "name": "api-stable", "port": 8080, "weight": 10000}])
    );
    assert_eq!(rules[0]["filters"].as_array().map(Vec::len), Some(1));
}

#[test]
fn a_route_without_the_services_is_refused_with_why() {
    let mut r = json!({"spec": {"rules": [{"backendRefs": [{"name": "other"}]}]}});
    let error = edit(&mut r, &Split::test(1000)).expect_err("refused");
    assert_eq!(
        error,
        "has no rule with a backendRef to Service `api-stable` (expected one, whose weights bellwether sets)"
    );
    let error = edit(&mut json!({"spec": {}}), &Split::test(1000)).expect_err("refused");
    assert!(error.starts_with("has no `spec.rules`"), "{error}");
}
