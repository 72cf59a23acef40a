//! The watch of bellwether's pods in the namespace: a list, then a watch from its
//! resourceVersion with bookmarks, resumed from the last version seen when the connection
//! ends (a timeout, a dropped connection), and listed again when the API server says that
//! version is gone (`410 Gone`), so that no change is lost either way.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};

use crate::names;
use crate::shared::Shared;

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(5);
/// How long one watch request lasts before the API server ends it and it is made again.
const WATCH_SECONDS: u32 = 290;

/// How a watch connection ended.
enum Ended {
    /// Watch again from the last version seen.
    Resume,
    /// That version is gone: list again.
    Relist,
}

/// Runs until aborted.
pub(crate) async fn run(pods: Api<Pod>, shared: Arc<Shared>) {
    let selector = names::managed();
    let mut retry = FIRST_RETRY;
    loop {
        let listed = pods.list(&ListParams::default().labels(&selector)).await;
        let mut version = match listed {
            Ok(list) => {
                shared.relist(list.items);
                retry = FIRST_RETRY;
                list.metadata.resource_version.unwrap_or_default()
            }
            Err(error) => {
                tracing::warn!(
                    "cannot list pods: {}",
                    bellwether_core::error::chain(&error)
                );
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(LAST_RETRY);
                continue;
            }
        };
        loop {
            match watch(&pods, &shared, &selector, &mut version).await {
                Ok(Ended::Resume) => retry = FIRST_RETRY,
                Ok(Ended::Relist) => break,
                Err(error) => {
                    tracing::warn!(
                        "watch of pods failed: {}",
                        bellwether_core::error::chain(&error)
                    );
                    tokio::time::sleep(retry).await;
                    retry = (retry * 2).min(LAST_RETRY);
                }
            }
        }
    }
}

/// One watch request, its events taken in until it ends; `version` follows them.
async fn watch(
    pods: &Api<Pod>,
    shared: &Shared,
    selector: &str,
    version: &mut String,
) -> Result<Ended, kube::Error> {
    let params = WatchParams::default()
        .labels(selector)
        .timeout(WATCH_SECONDS);
    let stream = match pods.watch(&params, version).await {
        Ok(stream) => stream,
        Err(kube::Error::Api(status)) if status.code == 410 => return Ok(Ended::Relist),
        Err(error) => return Err(error),
    };
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event? {
            WatchEvent::Added(pod) | WatchEvent::Modified(pod) => {
                advance(version, pod.metadata.resource_version.as_deref());
                shared.upsert(&pod);
            }
            WatchEvent::Deleted(pod) => {
                advance(version, pod.metadata.resource_version.as_deref());
                if let Some(name) = &pod.metadata.name {
                    shared.remove(name);
                }
            }
            WatchEvent::Bookmark(bookmark) => {
                advance(version, Some(&bookmark.metadata.resource_version));
            }
            WatchEvent::Error(status) if status.code == 410 => return Ok(Ended::Relist),
            WatchEvent::Error(status) => return Err(kube::Error::Api(status)),
        }
    }
    Ok(Ended::Resume)
}

fn advance(version: &mut String, seen: Option<&str>) {
    if let Some(seen) = seen.filter(|v| !v.is_empty()) {
        seen.clone_into(version);
    }
}
