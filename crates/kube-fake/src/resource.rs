//! The resources this cluster serves, and where each lives in the API's paths.

/// A kind of object the fake API server keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    Pods,
    Secrets,
    ReplicaSets,
}

impl Resource {
    /// The resource a path names, under its group (`""` for the core group).
    pub fn from_path(group: &str, plural: &str) -> Option<Self> {
        match (group, plural) {
            ("", "pods") => Some(Self::Pods),
            ("", "secrets") => Some(Self::Secrets),
            ("apps/v1", "replicasets") => Some(Self::ReplicaSets),
            _ => None,
        }
    }

    /// `apiVersion` and `kind` of its objects.
    pub fn type_meta(self) -> (&'static str, &'static str) {
        match self {
            Self::Pods => ("v1", "Pod"),
            Self::Secrets => ("v1", "Secret"),
            Self::ReplicaSets => ("apps/v1", "ReplicaSet"),
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            Self::Pods => "pods",
            Self::Secrets => "secrets",
            Self::ReplicaSets => "replicasets",
        }
    }

    /// Whether a change of its `spec` bumps `metadata.generation`.
    pub fn has_generation(self) -> bool {
        self == Self::ReplicaSets
    }
}

/// Where an object lives.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Key {
    pub resource: Resource,
    pub namespace: String,
    pub name: String,
}
