//! Traffic on a cluster: the controller's `TrafficRouter` seam as the cluster's own objects.
//! Each routing decision becomes a [`Split`] (`split.rs`: a stable and a canary side), then
//! the writes of the service's router plugin, one folder each of the same shape
//! (`gateway/`, `istio/`, `nginx/`: `<plugin>.rs` says which objects change and how, pure,
//! and `<plugin>/tests.rs` checks it on a user's object), made in order by `write.rs`. The
//! Gateway API and NGINX route to two Services bellwether owns, `<service>-stable` and
//! `<service>-canary`, selecting one revision each by its label; Istio selects revisions by
//! the user's DestinationRule subsets, keyed on the same label.

mod gateway;
#[cfg(test)]
mod golden;
mod istio;
mod nginx;
mod split;
mod write;

use std::future::Future;
use std::pin::Pin;

use bellwether_controller::{Routing, TrafficError, TrafficRouter};
use bellwether_core::rollout::RevisionNumber;
use bellwether_core::spec::{ServiceSpec, TrafficRouting};
use kube::Client;
use serde_json::json;

use crate::names;
use split::Split;
use write::{Change, Kind, Write, Writer};

/// Writes routing decisions in one namespace of a cluster.
pub struct KubernetesTraffic {
    writer: Writer,
    port: u16,
}

impl KubernetesTraffic {
    /// Writes in `options.namespace`, under `options.field_manager`; Services forward to
    /// `options.container_port`.
    pub fn new(client: Client, options: &crate::Options) -> Self {
        Self {
            writer: Writer {
                client,
                namespace: options.namespace.clone(),
                field_manager: options.field_manager.clone(),
            },
            port: options.container_port,
        }
    }
}

impl TrafficRouter for KubernetesTraffic {
    fn route<'a>(
        &'a self,
        _: &'a ServiceSpec,
        routing: &'a Routing,
    ) -> Pin<Box<dyn Future<Output = Result<(), TrafficError>> + Send + 'a>> {
        Box::pin(async move {
            let Some(split) = Split::of(routing, self.port) else {
                return Ok(());
            };
            let writes = writes(&routing.routing, &split);
            self.writer.write_all(writes).await.map_err(Into::into)
        })
    }
}

/// The writes of the service's router plugin for `split`, in the order they are made.
fn writes(routing: &TrafficRouting, split: &Split) -> Vec<Write> {
    match routing {
        TrafficRouting::Embedded => Vec::new(),
        TrafficRouting::GatewayApi(config) => {
            let mut writes = services(split);
            writes.extend(gateway::writes(config, split));
            writes
        }
        TrafficRouting::Istio(config) => istio::writes(config, split),
        TrafficRouting::Nginx(config) => {
            let mut writes = services(split);
            writes.extend(nginx::writes(config, split));
            writes
        }
    }
}

/// The stable side's Service, and the canary side's when it has a revision: applied before
/// any route names them, so a route never points at a Service that selects nothing new.
fn services(split: &Split) -> Vec<Write> {
    let service = |name: &str, revision: RevisionNumber| Write {
        kind: Kind::Service,
        name: name.to_owned(),
        namespace: None,
        change: Change::Apply(json!({
            "apiVersion": Kind::Service.api_version(),
            "kind": Kind::Service.name(),
            "metadata": {
                "name": name,
                "labels": {names::MANAGED_BY: names::MANAGER, names::SERVICE: split.service_label},
            },
            "spec": {
                "selector": {names::SERVICE: split.service_label, names::REVISION: revision.to_string()},
                "ports": [{"name": "http", "port": split.port, "targetPort": split.port}],
            },
        })),
    };
    let mut writes = vec![service(&split.stable_service, split.stable)];
    writes.extend(split.canary.map(|c| service(&split.canary_service, c)));
    writes
}
