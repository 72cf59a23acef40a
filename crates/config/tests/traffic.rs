//! `trafficRouting`: what each router lowers to, and every rule's exact message.

use bellwether_core::spec::{GatewayApiRouting, IstioRouting, NginxRouting, TrafficRouting};
use insta::assert_snapshot;

fn check(source: &str) -> String {
    let source = source.strip_prefix('\n').unwrap_or(source);
    match bellwether_config::load("bellwether.yaml", source) {
        Ok(loaded) if loaded.warnings.is_empty() => "ok".to_owned(),
        Ok(loaded) => format!("ok\n{}", loaded.warnings),
        Err(diagnostics) => diagnostics.to_string(),
    }
}

fn routing(source: &str) -> TrafficRouting {
    let loaded = bellwether_config::load("bellwether.yaml", source)
        .unwrap_or_else(|d| panic!("refused:\n{d}"));
    loaded.project.services["api"].traffic.clone()
}

#[test]
fn each_router_in_argo_rollouts_spellings() {
    let istio = r#"
services:
  api:
    run: {image: api:1}
    trafficRouting:
      istio:
        virtualService: {name: api-vs, routes: [primary]}
        destinationRule: {name: api-dr, canarySubsetName: canary, stableSubsetName: stable}
"#;
    assert_eq!(
        routing(istio),
        TrafficRouting::Istio(IstioRouting {
            virtual_service: "api-vs".into(),
            routes: vec!["primary".into()],
            destination_rule: "api-dr".into(),
            stable_subset: "stable".into(),
            canary_subset: "canary".into(),
        })
    );
    let nginx = "services:\n  api:\n    run: {image: api:1}\n    trafficRouting: {nginx: {stableIngress: api}}\n";
    assert_eq!(
        routing(nginx),
        TrafficRouting::Nginx(NginxRouting {
            stable_ingress: "api".into()
        })
    );
    let gateway = "services:\n  api:\n    run: {image: api:1}\n    trafficRouting:\n      plugins:\n        argoproj-labs/gatewayAPI: {httpRoute: api-route, namespace: edge}\n";
    assert_eq!(
        routing(gateway),
        TrafficRouting::GatewayApi(GatewayApiRouting {
            http_route: "api-route".into(),
            namespace: Some("edge".into()),
        })
    );
    let plain = "services:\n  api:\n    run: {image: api:1}\n";
    assert_eq!(routing(plain), TrafficRouting::Embedded);
}

#[test]
fn bad_traffic_sections() {
    assert_snapshot!(check(r#"
services:
  api:
    run: {image: api:1}
    trafficRouting: {}
"#), @"bellwether.yaml:4:21: trafficRouting names one router (expected exactly one of `istio`, `nginx` or `plugins: {argoproj-labs/gatewayAPI: {httpRoute: NAME}}`)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {image: api:1}
    trafficRouting:
      nginx: {stableIngress: api}
      istio: {virtualService: {name: api}}
"#), @"bellwether.yaml:5:7: trafficRouting names one router (expected exactly one of `istio`, `nginx` or `plugins: {argoproj-labs/gatewayAPI: {httpRoute: NAME}}`)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {image: api:1}
    trafficRouting:
      istio: {virtualService: {name: api-vs}}
"#), @"bellwether.yaml:5:14: istio needs `virtualService: {name}` and `destinationRule: {name, canarySubsetName, stableSubsetName}` (bellwether selects each revision by a DestinationRule subset)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {image: api:1}
    trafficRouting:
      istio:
        virtualService: {routes: [""]}
        destinationRule: {name: Api_DR, canarySubsetName: same, stableSubsetName: same}
"#), @"bellwether.yaml:6:25: virtualService has no `name` (expected the name of an object in the cluster)
bellwether.yaml:6:35: an empty route name (expected the name of one of the VirtualService's HTTP routes)
bellwether.yaml:7:33: name `Api_DR` is not a Kubernetes object name (expected lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {image: api:1}
    trafficRouting:
      nginx: {}
"#), @"bellwether.yaml:5:14: nginx has no `stableIngress` (expected the name of an object in the cluster)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {image: api:1}
    strategy:
      canary:
        steps:
          - setWeight: 10
          - setMirrorRoute: {name: copy, percentage: 50}
    trafficRouting:
      nginx: {stableIngress: api}
"#), @"bellwether.yaml:10:14: NGINX Ingress canary annotations cannot mirror requests, which canary step 2's `setMirrorRoute` asks for (expected `istio` or the Gateway API plugin, or no setMirrorRoute)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {image: api:1}
    trafficRouting:
      plugins: {}
"#), @"bellwether.yaml:5:16: no traffic router plugin bellwether knows (expected `argoproj-labs/gatewayAPI: {httpRoute: NAME}`)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {image: api:1}
    trafficRouting:
      plugins:
        argoproj-labs/gatewayAPI: {namespace: "-edge"}
"#), @"bellwether.yaml:6:35: argoproj-labs/gatewayAPI has no `httpRoute` (expected the name of an object in the cluster)
bellwether.yaml:6:47: namespace `-edge` is not a Kubernetes object name (expected lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit)");
    assert_snapshot!(check(r#"
services:
  api:
    run: {image: api:1}
    trafficRouting:
      linkerd: {}
"#), @"bellwether.yaml:5:7: unknown key `linkerd` (expected one of istio, nginx, plugins)");
}
