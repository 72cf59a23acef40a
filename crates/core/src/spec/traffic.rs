//! Where a service's routing table lives: bellwether's own router (the default), or the
//! cluster's objects, written by a traffic router of the platform (Gateway API, Istio, NGINX).

use serde::{Deserialize, Serialize};

/// How a service's traffic is split between its revisions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrafficRouting {
    /// bellwether's own router, on the service's `listen` address.
    #[default]
    Embedded,
    /// A Gateway API `HTTPRoute`: weights on its backendRefs.
    GatewayApi(GatewayApiRouting),
    /// An Istio `VirtualService` over a `DestinationRule`'s subsets.
    Istio(IstioRouting),
    /// An NGINX Ingress canary: a copy of the stable Ingress with the canary annotations.
    Nginx(NginxRouting),
}

impl TrafficRouting {
    pub fn is_embedded(&self) -> bool {
        *self == Self::Embedded
    }

    /// What people call it, in messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Embedded => "bellwether's router",
            Self::GatewayApi(_) => "a Gateway API HTTPRoute",
            Self::Istio(_) => "an Istio VirtualService",
            Self::Nginx(_) => "an NGINX Ingress",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayApiRouting {
    /// The user's HTTPRoute, whose rules naming the service's Services get the weights.
    pub http_route: String,
    /// Its namespace, when not the platform's.
    pub namespace: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IstioRouting {
    /// The user's VirtualService.
    pub virtual_service: String,
    /// The names of its HTTP routes that get the weights; empty: its only route.
    pub routes: Vec<String>,
    /// The user's DestinationRule, whose two subsets select a revision each.
    pub destination_rule: String,
    pub stable_subset: String,
    pub canary_subset: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NginxRouting {
    /// The user's Ingress routing to the stable Service; its copy routes to the canary's.
    pub stable_ingress: String,
}
