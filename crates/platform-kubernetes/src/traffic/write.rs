//! The writes a traffic router asks for, and how they are made: bellwether's own Services by
//! server-side apply under its field manager; a user's route object read, edited and replaced
//! with its resourceVersion (a `409 Conflict` when it changed in between, and the controller
//! tries the whole decision again), so that everything bellwether does not set in it stays;
//! and bellwether's copy of a user's object (NGINX's canary Ingress) made from it afresh.
//!
//! A user's route objects are edited rather than applied because their route lists are atomic
//! to server-side apply: applying one rule's weights would take the whole list over.

use kube::Client;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::Value;

/// The kinds of object traffic routers write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Service,
    Ingress,
    HttpRoute,
    VirtualService,
    DestinationRule,
}

impl Kind {
    /// Group, version, kind and plural.
    fn parts(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Self::Service => ("", "v1", "Service", "services"),
            Self::Ingress => ("networking.k8s.io", "v1", "Ingress", "ingresses"),
            Self::HttpRoute => ("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes"),
            Self::VirtualService => (
                "networking.istio.io",
                "v1",
                "VirtualService",
                "virtualservices",
            ),
            Self::DestinationRule => (
                "networking.istio.io",
                "v1",
                "DestinationRule",
                "destinationrules",
            ),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        self.parts().2
    }

    /// `apiVersion`, as objects of this kind carry it.
    pub(crate) fn api_version(self) -> String {
        match self.parts() {
            ("", version, ..) => version.to_owned(),
            (group, version, ..) => format!("{group}/{version}"),
        }
    }

    fn resource(self) -> ApiResource {
        let (group, version, kind, plural) = self.parts();
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
    }
}

/// Changes a user's object in place; an error says what the object lacks.
pub(crate) type Edit = Box<dyn Fn(&mut Value) -> Result<(), String> + Send + Sync>;

/// Makes bellwether's object from a user's.
pub(crate) type Make = Box<dyn Fn(&Value) -> Result<Value, String> + Send + Sync>;

pub(crate) enum Change {
    /// An object bellwether owns, applied whole.
    Apply(Value),
    /// A user's object, edited.
    Edit(Edit),
    /// An object bellwether owns, made from the user's object `from` of the same kind.
    CopyOf { from: String, make: Make },
}

/// One object to write.
pub(crate) struct Write {
    pub kind: Kind,
    pub name: String,
    /// Its namespace, when not the platform's.
    pub namespace: Option<String>,
    pub change: Change,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    #[error("cannot write {kind} {namespace}/{name}")]
    Api {
        kind: &'static str,
        namespace: String,
        name: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error(
        "{kind} {namespace}/{name} does not exist (bellwether routes by it; expected it created beforehand)"
    )]
    Missing {
        kind: &'static str,
        namespace: String,
        name: String,
    },
    #[error("{kind} {namespace}/{name} {message}")]
    Shape {
        kind: &'static str,
        namespace: String,
        name: String,
        message: String,
    },
    #[error("{kind} {namespace}/{name} cannot be read as an object")]
    Decode {
        kind: &'static str,
        namespace: String,
        name: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Where writes go.
pub(crate) struct Writer {
    pub client: Client,
    pub namespace: String,
    pub field_manager: String,
}

impl Writer {
    /// Makes `writes` one after the other, stopping at the first that fails.
    pub(crate) async fn write_all(&self, writes: Vec<Write>) -> Result<(), WriteError> {
        for write in writes {
            self.write(write).await?;
        }
        Ok(())
    }

    async fn write(&self, write: Write) -> Result<(), WriteError> {
        let namespace = write
            .namespace
            .clone()
            .unwrap_or_else(|| self.namespace.clone());
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &namespace, &write.kind.resource());
        let kind = write.kind.name();
        let at = |name: &str| (kind, namespace.clone(), name.to_owned());
        let api_error = |name: &str, source: kube::Error| {
            let (kind, namespace, name) = at(name);
            WriteError::Api {
                kind,
                namespace,
                name,
                source: Box::new(source),
            }
        };
        let shape = |name: &str, message| {
            let (kind, namespace, name) = at(name);
            WriteError::Shape {
                kind,
                namespace,
                name,
                message,
            }
        };
        let post = PostParams {
            dry_run: false,
            field_manager: Some(self.field_manager.clone()),
        };
        match write.change {
            Change::Apply(object) => {
                let params = PatchParams::apply(&self.field_manager).force();
                api.patch(&write.name, &params, &Patch::Apply(&object))
                    .await
                    .map_err(|e| api_error(&write.name, e))?;
            }
            Change::Edit(edit) => {
                let current = self.read(&api, kind, &namespace, &write.name).await?;
                let mut edited = current.clone();
                edit(&mut edited).map_err(|m| shape(&write.name, m))?;
                if edited != current {
                    let object = decode(kind, &namespace, &write.name, edited)?;
                    api.replace(&write.name, &post, &object)
                        .await
                        .map_err(|e| api_error(&write.name, e))?;
                }
            }
            Change::CopyOf { from, make } => {
                let source = self.read(&api, kind, &namespace, &from).await?;
                let mut made = make(&source).map_err(|m| shape(&from, m))?;
                let existing = api
                    .get_opt(&write.name)
                    .await
                    .map_err(|e| api_error(&write.name, e))?;
                match existing {
                    Some(existing) => {
                        made["metadata"]["resourceVersion"] =
                            existing.metadata.resource_version.clone().into();
                        let object = decode(kind, &namespace, &write.name, made)?;
                        api.replace(&write.name, &post, &object).await
                    }
                    None => {
                        let object = decode(kind, &namespace, &write.name, made)?;
                        api.create(&post, &object).await
                    }
                }
                .map_err(|e| api_error(&write.name, e))?;
            }
        }
        Ok(())
    }

    async fn read(
        &self,
        api: &Api<DynamicObject>,
        kind: &'static str,
        namespace: &str,
        name: &str,
    ) -> Result<Value, WriteError> {
        let found = api.get_opt(name).await.map_err(|source| WriteError::Api {
            kind,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            source: Box::new(source),
        })?;
        let object = found.ok_or_else(|| WriteError::Missing {
            kind,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })?;
        serde_json::to_value(object).map_err(|source| WriteError::Decode {
            kind,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            source,
        })
    }
}

fn decode(
    kind: &'static str,
    namespace: &str,
    name: &str,
    object: Value,
) -> Result<DynamicObject, WriteError> {
    serde_json::from_value(object).map_err(|source| WriteError::Decode {
        kind,
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        source,
    })
}
