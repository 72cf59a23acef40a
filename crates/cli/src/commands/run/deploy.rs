//! Deploy steps for real: `bellwether run --server URL` (or `$BELLWETHER_SERVER`) starts each
//! deploy step's rollout through the control plane's API and follows it to its verdict.

use std::time::Duration;

use bellwether_api::{Commit, DeployRequest, ServiceView, paths};
use bellwether_core::rollout::Phase;
use bellwether_core::time::Timestamp;
use bellwether_pipeline_core::executor::LogSink;
use bellwether_runner::{DeployOrder, Deployed, Deployer};

use crate::commands::client::Client;

/// How often a deploy step looks at its rollout.
const LOOK: Duration = Duration::from_millis(250);

pub(crate) struct ApiDeployer {
    client: Client,
}

impl ApiDeployer {
    pub(crate) fn new(server: &str) -> anyhow::Result<Self> {
        Ok(Self {
            client: Client::new(server)?,
        })
    }

    /// A deployer presenting `token`: the control plane's own pipelines deploy as `pipelines`.
    pub(crate) fn with_token(server: &str, token: &str) -> anyhow::Result<Self> {
        let source = "the control plane's pipelines".to_owned();
        Ok(Self {
            client: Client::with_token(server, Some(token.to_owned()), Some(source))?,
        })
    }

    async fn follow(
        &self,
        order: DeployOrder,
        log: &mut dyn LogSink,
    ) -> Result<Vec<(String, String)>, String> {
        let request = DeployRequest {
            version: order.revision.clone(),
            environment: order.environment.clone(),
            run: Some(order.run),
            commit: order.commit.map(|c| Commit {
                sha: c.sha,
                committed_at: Timestamp::from_millis(c.committed_at_ms),
            }),
            ..DeployRequest::default()
        };
        let started: ServiceView = self
            .client
            .post(&paths::deploy(&order.service), &request)
            .await
            .map_err(|e| format!("cannot deploy {} {}: {e:#}", order.service, order.revision))?;
        let number = started.target.as_ref().map(|t| t.number);
        log.note(&format!(
            "rollout of {} to {} started: {}",
            order.service, order.revision, started.reason
        ));
        let mut said = started.reason;
        loop {
            tokio::time::sleep(LOOK).await;
            let view: ServiceView = self
                .client
                .get(&paths::service(&order.service))
                .await
                .map_err(|e| format!("lost the rollout of {}: {e:#}", order.service))?;
            if view.reason != said {
                log.note(&format!("{}: {}", order.service, view.reason));
                said.clone_from(&view.reason);
            }
            let ours = |r: &Option<bellwether_core::rollout::Revision>| {
                r.as_ref().map(|r| r.number) == number
            };
            match view.phase {
                Phase::Healthy if ours(&view.stable) => {
                    let revision = number.map_or_else(String::new, |n| n.to_string());
                    return Ok(vec![("revision".to_owned(), revision)]);
                }
                Phase::Degraded if ours(&view.target) => {
                    return Err(format!(
                        "the rollout of {} to {} was aborted: {}",
                        order.service, order.revision, view.reason
                    ));
                }
                Phase::Healthy | Phase::Degraded => {
                    return Err(format!(
                        "the rollout of {} to {} was superseded: {}",
                        order.service, order.revision, view.reason
                    ));
                }
                Phase::Progressing | Phase::Paused => {}
            }
        }
    }
}

impl Deployer for ApiDeployer {
    fn deploy<'a>(&'a self, order: DeployOrder, log: &'a mut dyn LogSink) -> Deployed<'a> {
        Box::pin(self.follow(order, log))
    }
}
