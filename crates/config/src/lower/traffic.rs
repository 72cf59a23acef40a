//! A service's `trafficRouting`: exactly one router, each with the names it needs, and none
//! asked for what it cannot do (NGINX's canary annotations have no mirror).

use bellwether_core::spec::{
    CanaryStep, GatewayApiRouting, IstioRouting, NginxRouting, Strategy, TrafficRouting,
};

use crate::diagnostic::Sink;
use crate::model::{IstioConfig, TrafficRoutingConfig};
use crate::span::{Pos, Spanned};

pub(super) fn lower(
    written: Option<&Spanned<TrafficRoutingConfig>>,
    strategy: &Strategy,
    sink: &mut Sink<'_>,
) -> TrafficRouting {
    let Some(written) = written else {
        return TrafficRouting::Embedded;
    };
    let t = &written.value;
    let gateway = t
        .plugins
        .as_ref()
        .map(|p| (p.pos, p.value.gateway_api.as_ref()));
    let given = [t.istio.is_some(), t.nginx.is_some(), gateway.is_some()];
    if given.iter().filter(|&&g| g).count() != 1 {
        sink.error(
            written.pos,
            "trafficRouting names one router (expected exactly one of `istio`, `nginx` or `plugins: {argoproj-labs/gatewayAPI: {httpRoute: NAME}}`)",
        );
        return TrafficRouting::Embedded;
    }
    if let Some(istio) = &t.istio {
        return istio_routing(istio, sink).map_or(TrafficRouting::Embedded, TrafficRouting::Istio);
    }
    if let Some(nginx) = &t.nginx {
        let Some(stable_ingress) = required(
            &nginx.value.stable_ingress,
            nginx.pos,
            "nginx",
            "stableIngress",
            sink,
        ) else {
            return TrafficRouting::Embedded;
        };
        if let Some(step) = mirror_step(strategy) {
            sink.error(
                nginx.pos,
                format!("NGINX Ingress canary annotations cannot mirror requests, which canary step {step}'s `setMirrorRoute` asks for (expected `istio` or the Gateway API plugin, or no setMirrorRoute)"),
            );
        }
        return TrafficRouting::Nginx(NginxRouting { stable_ingress });
    }
    match gateway {
        Some((_, Some(plugin))) => {
            let route = required(
                &plugin.value.http_route,
                plugin.pos,
                "argoproj-labs/gatewayAPI",
                "httpRoute",
                sink,
            );
            let namespace = plugin
                .value
                .namespace
                .as_ref()
                .and_then(|n| object_name("namespace", n, sink));
            route.map_or(TrafficRouting::Embedded, |http_route| {
                TrafficRouting::GatewayApi(GatewayApiRouting {
                    http_route,
                    namespace,
                })
            })
        }
        Some((_, None)) | None => {
            sink.error(
                gateway.map_or(written.pos, |(pos, _)| pos),
                "no traffic router plugin bellwether knows (expected `argoproj-labs/gatewayAPI: {httpRoute: NAME}`)",
            );
            TrafficRouting::Embedded
        }
    }
}

fn istio_routing(istio: &Spanned<IstioConfig>, sink: &mut Sink<'_>) -> Option<IstioRouting> {
    let i = &istio.value;
    let (Some(vs), Some(dr)) = (&i.virtual_service, &i.destination_rule) else {
        sink.error(
            istio.pos,
            "istio needs `virtualService: {name}` and `destinationRule: {name, canarySubsetName, stableSubsetName}` (bellwether selects each revision by a DestinationRule subset)",
        );
        return None;
    };
    let virtual_service = required(&vs.value.name, vs.pos, "virtualService", "name", sink);
    for route in &vs.value.routes {
        if route.value.is_empty() {
            sink.error(route.pos, "an empty route name (expected the name of one of the VirtualService's HTTP routes)");
        }
    }
    let destination_rule = required(&dr.value.name, dr.pos, "destinationRule", "name", sink);
    let canary = required(
        &dr.value.canary_subset_name,
        dr.pos,
        "destinationRule",
        "canarySubsetName",
        sink,
    );
    let stable = required(
        &dr.value.stable_subset_name,
        dr.pos,
        "destinationRule",
        "stableSubsetName",
        sink,
    );
    let (virtual_service, destination_rule, canary_subset, stable_subset) =
        (virtual_service?, destination_rule?, canary?, stable?);
    if canary_subset == stable_subset {
        sink.error(
            dr.pos,
            format!("canarySubsetName and stableSubsetName are both `{stable_subset}` (expected two subsets)"),
        );
        return None;
    }
    Some(IstioRouting {
        virtual_service,
        routes: vs.value.routes.iter().map(|r| r.value.clone()).collect(),
        destination_rule,
        stable_subset,
        canary_subset,
    })
}

/// A name `within` must have, checked as a Kubernetes object name.
fn required(
    name: &Option<Spanned<String>>,
    within_pos: Pos,
    within: &str,
    key: &str,
    sink: &mut Sink<'_>,
) -> Option<String> {
    match name {
        Some(name) => object_name(key, name, sink),
        None => {
            sink.error(
                within_pos,
                format!("{within} has no `{key}` (expected the name of an object in the cluster)"),
            );
            None
        }
    }
}

/// Kubernetes object names are DNS subdomains: lowercase letters, digits, `-` and `.`.
fn object_name(key: &str, name: &Spanned<String>, sink: &mut Sink<'_>) -> Option<String> {
    let n = name.value.as_str();
    let alphanumeric =
        |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let valid = n.len() <= 253
        && alphanumeric(n.chars().next())
        && alphanumeric(n.chars().last())
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'));
    if valid {
        Some(n.to_owned())
    } else {
        sink.error(
            name.pos,
            format!("{key} `{n}` is not a Kubernetes object name (expected lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit)"),
        );
        None
    }
}

/// The first canary step (counted from 1) that sets a mirror.
fn mirror_step(strategy: &Strategy) -> Option<usize> {
    let Strategy::Canary(canary) = strategy else {
        return None;
    };
    canary
        .steps
        .iter()
        .position(|s| matches!(s, CanaryStep::SetMirrorRoute(Some(_))))
        .map(|i| i + 1)
}
