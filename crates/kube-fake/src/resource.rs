//! The resources this cluster serves, and where each lives in the API's paths.

/// A kind of object the fake API server keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    Pods,
    Secrets,
    ReplicaSets,
    Services,
    Ingresses,
    /// Gateway API `HTTPRoute`s (`gateway.networking.k8s.io/v1`).
    HttpRoutes,
    /// Istio `VirtualService`s (`networking.istio.io/v1`).
    VirtualServices,
    /// Istio `DestinationRule`s (`networking.istio.io/v1`).
    DestinationRules,
}

impl Resource {
    pub const ALL: [Self; 8] = [
        Self::Pods,
        Self::Secrets,
        Self::ReplicaSets,
        Self::Services,
        Self::Ingresses,
        Self::HttpRoutes,
        Self::VirtualServices,
        Self::DestinationRules,
    ];

    /// The resource a path names, under its group and version (`v1` for the core group).
    pub fn from_path(group_version: &str, plural: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.type_meta().0 == group_version && r.plural() == plural)
    }

    /// `apiVersion` and `kind` of its objects.
    pub fn type_meta(self) -> (&'static str, &'static str) {
        match self {
            Self::Pods => ("v1", "Pod"),
            Self::Secrets => ("v1", "Secret"),
            Self::ReplicaSets => ("apps/v1", "ReplicaSet"),
            Self::Services => ("v1", "Service"),
            Self::Ingresses => ("networking.k8s.io/v1", "Ingress"),
            Self::HttpRoutes => ("gateway.networking.k8s.io/v1", "HTTPRoute"),
            Self::VirtualServices => ("networking.istio.io/v1", "VirtualService"),
            Self::DestinationRules => ("networking.istio.io/v1", "DestinationRule"),
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            Self::Pods => "pods",
            Self::Secrets => "secrets",
            Self::ReplicaSets => "replicasets",
            Self::Services => "services",
            Self::Ingresses => "ingresses",
            Self::HttpRoutes => "httproutes",
            Self::VirtualServices => "virtualservices",
            Self::DestinationRules => "destinationrules",
        }
    }

    /// Whether a change of its `spec` bumps `metadata.generation`.
    pub fn has_generation(self) -> bool {
        !matches!(self, Self::Pods | Self::Secrets)
    }
}

/// Where an object lives.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Key {
    pub resource: Resource,
    pub namespace: String,
    pub name: String,
}
