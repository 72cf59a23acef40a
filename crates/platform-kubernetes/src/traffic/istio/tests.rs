use bellwether_core::spec::{HeaderMatch, IstioRouting};
use serde_json::{Value, json};

use super::{edit_routes, edit_subsets};
use crate::traffic::split::Split;

fn config(routes: &[&str]) -> IstioRouting {
    IstioRouting {
        virtual_service: "api-vs".into(),
        routes: routes.iter().map(|&r| r.to_owned()).collect(),
        destination_rule: "api-dr".into(),
        stable_subset: "stable".into(),
        canary_subset: "canary".into(),
    }
}

fn service() -> Value {
    json!({"spec": {"hosts": ["api"], "http": [
        {"name": "primary", "timeout": "5s", "route": [{"destination": {"host": "api.ns.svc"}}]},
        {"name": "admin", "route": [{"destination": {"host": "admin"}}]},
    ]}})
}

#[test]
fn whole_percents_to_the_subsets_a_header_route_first_and_a_mirror() {
    let mut s = service();
    let split = Split::test(3350)
        .with_header(HeaderMatch::Exact {
            header: "X-Canary".into(),
            value: "yes".into(),
        })
        .mirrored(1250);
    edit_routes(&mut s, &config(&["primary"]), &split).expect("edited");
    let http = &s["spec"]["http"];
    assert_eq!(
        http[0],
        json!({"name": "bellwether-header-route",
               "match": [{"headers": {"x-canary": {"exact": "yes"}}}],
               "route": [{"destination": {"host": "api.ns.svc", "subset": "canary"}}]})
    );
    assert_eq!(
        http[1]["route"],
        json!([
            {"destination": {"host": "api.ns.svc", "subset": "stable"}, "weight": 66},
            {"destination": {"host": "api.ns.svc", "subset": "canary"}, "weight": 34},
        ])
    );
    assert_eq!(
        http[1]["mirror"],
        json!({"host": "api.ns.svc", "subset": "canary"})
    );
    assert_eq!(http[1]["mirrorPercentage"], json!({"value": 12.5}));
    assert_eq!(http[1]["timeout"], "5s", "the user's fields stay");
    assert_eq!(http[2]["route"][0]["destination"]["host"], "admin");

    edit_routes(&mut s, &config(&["primary"]), &Split::test(0).stable_only()).expect("edited");
    let http = s["spec"]["http"].as_array().expect("routes");
    assert_eq!(http.len(), 2);
    assert_eq!(
        http[0]["route"],
        json!([{"destination": {"host": "api.ns.svc", "subset": "stable"}, "weight": 100}])
    );
    assert!(http[0].get("mirror").is_none() && http[0].get("mirrorPercentage").is_none());
}

#[test]
fn routes_to_weight_must_be_named_or_alone() {
    let split = Split::test(1000);
    let error = edit_routes(&mut service(), &config(&[]), &split).expect_err("refused");
    assert_eq!(
        error,
        "has 2 HTTP routes (expected one, or the ones to weight named in `virtualService.routes`)"
    );
    let error = edit_routes(&mut service(), &config(&["missing"]), &split).expect_err("refused");
    assert_eq!(error, "has no HTTP route named `missing`");
    let mut alone = json!({"spec": {"http": [{"route": [{"destination": {"host": "api"}}]}]}});
    edit_routes(&mut alone, &config(&[]), &split).expect("its only route");
    assert_eq!(alone["spec"]["http"][0]["route"][1]["weight"], 10);
}

#[test]
fn subsets_select_revisions_by_label_and_keep_the_users_labels() {
    let mut rule = json!({"spec": {"host": "api", "subsets": [
        {"name": "stable", "labels": {"app": "api"}, "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}},
    ]}});
    edit_subsets(&mut rule, &config(&[]), &Split::test(2000)).expect("edited");
    assert_eq!(
        rule["spec"]["subsets"],
        json!([
            {"name": "stable", "labels": {"app": "api", "bellwether.dev/service": "api", "bellwether.dev/revision": "1"},
             "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}},
            {"name": "canary", "labels": {"bellwether.dev/service": "api", "bellwether.dev/revision": "2"}},
        ])
    );
}
