//! A service's `trafficRouting`: where its routing table lives when bellwether's own router is
//! not it, in Argo Rollouts' spellings (`istio`, `nginx`, the Gateway API plugin).

use schemars::JsonSchema;
use serde::Deserialize;

use crate::span::Spanned;

/// The cluster's objects that split the service's traffic, on the kubernetes platform:
/// exactly one of `istio`, `nginx` or `plugins: {argoproj-labs/gatewayAPI: ...}`. Default:
/// bellwether's own router on `listen`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TrafficRoutingConfig {
    /// An Istio VirtualService's weights over a DestinationRule's two subsets.
    pub istio: Option<Spanned<IstioConfig>>,
    /// An NGINX Ingress canary: a copy of the stable Ingress with the canary annotations.
    pub nginx: Option<Spanned<NginxConfig>>,
    /// Argo Rollouts' traffic router plugins; `argoproj-labs/gatewayAPI` is the one known.
    pub plugins: Option<Spanned<PluginsConfig>>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IstioConfig {
    /// The VirtualService whose HTTP routes get the weights: `{name, routes}`.
    pub virtual_service: Option<Spanned<VirtualServiceConfig>>,
    /// The DestinationRule whose subsets select the stable and the canary revision:
    /// `{name, canarySubsetName, stableSubsetName}`.
    pub destination_rule: Option<Spanned<DestinationRuleConfig>>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VirtualServiceConfig {
    pub name: Option<Spanned<String>>,
    /// The names of the HTTP routes that get the weights. Default: the VirtualService's only
    /// HTTP route.
    #[serde(default)]
    pub routes: Vec<Spanned<String>>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DestinationRuleConfig {
    pub name: Option<Spanned<String>>,
    pub canary_subset_name: Option<Spanned<String>>,
    pub stable_subset_name: Option<Spanned<String>>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NginxConfig {
    /// The Ingress that routes to the service's stable Service (`<service>-stable`).
    pub stable_ingress: Option<Spanned<String>>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginsConfig {
    /// A Gateway API HTTPRoute: `{httpRoute, namespace}`.
    #[serde(rename = "argoproj-labs/gatewayAPI")]
    pub gateway_api: Option<Spanned<GatewayApiConfig>>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GatewayApiConfig {
    /// The HTTPRoute whose rules naming the service's Services get the weights.
    pub http_route: Option<Spanned<String>>,
    /// The HTTPRoute's namespace. Default: the platform's.
    pub namespace: Option<Spanned<String>>,
}
