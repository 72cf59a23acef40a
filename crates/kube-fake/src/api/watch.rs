//! `watch=true`: a stream of JSON lines, each `{"type": ..., "object": ...}`, from the
//! resourceVersion asked for (its history replayed), or from now (the current objects as
//! `ADDED`); `BOOKMARK`s when asked for; an `ERROR` with `410 Expired` when that history is
//! gone. It ends at `timeoutSeconds`, when the client leaves, when it falls too far behind,
//! or when a script drops it.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use super::{Api, Params, flag, number, selector};
use crate::resource::Key;
use crate::status::Status;
use crate::store::{Change, Selector};

/// Watches end after this long when the client asks for no timeout, as the API server's do.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

pub(super) fn serve(api: &Api, collection: &Key, params: &Params) -> Result<Response, Status> {
    let selector = selector(params)?;
    let bookmarks = flag(params, "allowWatchBookmarks");
    let timeout =
        number::<u64>(params, "timeoutSeconds")?.map_or(DEFAULT_TIMEOUT, Duration::from_secs);
    let from = params
        .get("resourceVersion")
        .filter(|rv| !rv.is_empty() && *rv != "0")
        .map(|rv| {
            rv.parse::<u64>()
                .map_err(|_| Status::bad_request(format!("resourceVersion: invalid value {rv:?}")))
        })
        .transpose()?;
    let (sender, receiver) = mpsc::channel::<Bytes>(64);
    let stream = Stream {
        api: api.clone(),
        collection: collection.clone(),
        selector,
        sender,
    };
    tokio::spawn(stream.run(from, bookmarks, timeout));
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver
            .recv()
            .await
            .map(|line| (Ok::<_, Infallible>(line), receiver))
    });
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from_stream(body))
        .map_err(|e| Status::bad_request(e.to_string()))
}

struct Stream {
    api: Api,
    collection: Key,
    selector: Selector,
    sender: mpsc::Sender<Bytes>,
}

impl Stream {
    async fn run(self, from: Option<u64>, bookmarks: bool, timeout: Duration) {
        let mut drops = self.api.script.drops();
        drops.mark_unchanged();
        let (initial, subscription) = match from {
            None => {
                let (items, subscription) = self.api.store.subscribe_now(
                    self.collection.resource,
                    Some(&self.collection.namespace),
                    &self.selector,
                );
                (items, subscription)
            }
            Some(rv) => match self.api.store.subscribe(rv) {
                Ok(subscription) => (Vec::new(), subscription),
                Err(gone) => {
                    self.api.script.count_gone();
                    let _ = self.send("ERROR", gone.json()).await;
                    return;
                }
            },
        };
        for object in initial {
            if !self.send("ADDED", object).await {
                return;
            }
        }
        let mut seen = subscription.rv;
        for change in &subscription.replay {
            if !self.forward(change).await {
                return;
            }
        }
        let mut live = subscription.live;
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticks = tokio::time::interval(self.api.bookmark_interval);
        ticks.tick().await;
        loop {
            tokio::select! {
                change = live.recv() => match change {
                    Ok(change) => {
                        if change.rv <= seen {
                            continue;
                        }
                        seen = change.rv;
                        if !self.forward(&change).await {
                            return;
                        }
                    }
                    // Fallen behind, or the store is gone: the client resumes from its
                    // last resourceVersion.
                    Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => return,
                },
                _ = ticks.tick(), if bookmarks => {
                    let (api_version, kind) = self.collection.resource.type_meta();
                    let bookmark = json!({
                        "apiVersion": api_version,
                        "kind": kind,
                        "metadata": {"resourceVersion": seen.to_string()},
                    });
                    if !self.send("BOOKMARK", bookmark).await {
                        return;
                    }
                }
                _ = drops.changed() => return,
                () = &mut deadline => return,
                () = self.sender.closed() => return,
            }
        }
    }

    /// Sends a change if it is of this watch's objects; false once the client is gone.
    async fn forward(&self, change: &Change) -> bool {
        let mine = change.key.resource == self.collection.resource
            && change.key.namespace == self.collection.namespace
            && self.selector.matches(&change.object);
        !mine || self.send(change.kind.as_str(), change.object.clone()).await
    }

    async fn send(&self, kind: &str, object: Value) -> bool {
        let delay = self.api.script.watch_delay();
        if !delay.is_zero() {
            // A slow watch is still dropped when a script drops the watches.
            let mut drops = self.api.script.drops();
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = drops.changed() => return false,
            }
        }
        let mut line = json!({"type": kind, "object": object}).to_string();
        line.push('\n');
        self.sender.send(Bytes::from(line)).await.is_ok()
    }
}
