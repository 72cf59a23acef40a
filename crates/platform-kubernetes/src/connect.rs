//! Finding the cluster: the kubeconfig named, else the pod's service account when bellwether
//! runs in a cluster, else the user's kubeconfig (`$KUBECONFIG`, `~/.kube/config`). The
//! namespace is the one asked for, else the kubeconfig context's (the service account's, in
//! a cluster).

use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// Where the service account's token is mounted in a pod.
const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// A client of the cluster and the namespace bellwether runs revisions in.
pub struct Connection {
    pub client: Client,
    pub namespace: String,
    /// The API server's address, for people.
    pub server: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot read the kubeconfig {path}")]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("cannot use the pod's service account to reach the cluster")]
    InCluster {
        #[source]
        source: kube::config::InClusterError,
    },
    #[error("no cluster given: pass --kubeconfig FILE, set $KUBECONFIG, or run in a cluster")]
    Infer {
        #[source]
        source: kube::config::InferConfigError,
    },
    #[error("cannot make a client of the cluster at {server}")]
    Client {
        server: String,
        #[source]
        source: kube::Error,
    },
}

pub async fn connect(
    kubeconfig: Option<&Path>,
    namespace: Option<&str>,
) -> Result<Connection, ConnectError> {
    let config = match kubeconfig {
        Some(path) => {
            let read = Kubeconfig::read_from(path).map_err(|source| ConnectError::Kubeconfig {
                path: path.to_owned(),
                source,
            })?;
            Config::from_custom_kubeconfig(read, &KubeConfigOptions::default())
                .await
                .map_err(|source| ConnectError::Kubeconfig {
                    path: path.to_owned(),
                    source,
                })?
        }
        None if Path::new(SERVICE_ACCOUNT_TOKEN).exists() => {
            Config::incluster().map_err(|source| ConnectError::InCluster { source })?
        }
        None => Config::infer()
            .await
            .map_err(|source| ConnectError::Infer { source })?,
    };
    let server = config.cluster_url.to_string();
    let namespace = namespace.map_or_else(|| config.default_namespace.clone(), str::to_owned);
    let client = Client::try_from(config).map_err(|source| ConnectError::Client {
        server: server.clone(),
        source,
    })?;
    Ok(Connection {
        client,
        namespace,
        server,
    })
}
