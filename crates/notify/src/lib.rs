//! Notifications: every notice a target wants is first written to an outbox in the event
//! store, then delivered by that target's own worker, in order, with retries
//! ([`bellwether_core::notify::backoff`]) until it is delivered or given up on after the
//! target's attempts (12 by default). A slow, dead or refusing receiver holds up
//! only its own worker: [`Notifier::send`] never waits on the network. Deliveries left
//! undelivered when the control plane stops are sent again when it starts (at least once: a
//! receiver dedupes by the `X-Bellwether-Delivery` header).

mod deliver;
mod notices;
mod outbox;

use std::collections::BTreeMap;
use std::sync::Arc;

use bellwether_core::notify::{Notice, backoff, wants};
use bellwether_core::platform::SecretSource;
use bellwether_core::spec::NotificationSpec;
use bellwether_store::Store;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use notices::{RolloutNotices, run_notice};
pub use outbox::{Delivery, Status, read};

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("the notification outbox cannot be written")]
    Store(#[from] bellwether_store::StoreError),
    #[error("a notification record cannot be encoded")]
    Codec(#[from] serde_json::Error),
}

/// Cheap to clone: every clone sends through the same workers.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    specs: Vec<NotificationSpec>,
    workers: BTreeMap<String, mpsc::UnboundedSender<Delivery>>,
    tasks: TaskTracker,
    stop: CancellationToken,
}

impl Notifier {
    /// Starts a worker per target of `specs`, first sending again what the outbox holds
    /// undelivered. `secrets` holds the addresses and signing keys the specs name.
    pub fn start(
        store: Arc<dyn Store>,
        specs: Vec<NotificationSpec>,
        secrets: Arc<dyn SecretSource>,
    ) -> Result<Self, NotifyError> {
        let pending = outbox::read(store.as_ref())?;
        let client = reqwest::Client::builder()
            .timeout(deliver::TIMEOUT)
            .build()
            .unwrap_or_default();
        let tasks = TaskTracker::new();
        let stop = CancellationToken::new();
        let mut workers = BTreeMap::new();
        for spec in &specs {
            let (tx, rx) = mpsc::unbounded_channel();
            for delivery in pending
                .iter()
                .filter(|d| d.target == spec.name && d.status == Status::Queued)
            {
                let _ = tx.send(delivery.clone());
            }
            let worker = Worker {
                store: Arc::clone(&store),
                spec: spec.clone(),
                secrets: Arc::clone(&secrets),
                client: client.clone(),
                stop: stop.clone(),
            };
            tasks.spawn(worker.run(rx));
            workers.insert(spec.name.clone(), tx);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                specs,
                workers,
                tasks,
                stop,
            }),
        })
    }

    /// Queues `notice` for every target that wants it: written to the outbox, then handed to
    /// the target's worker. Returns at once.
    pub fn send(&self, notice: &Notice) -> Result<(), NotifyError> {
        for spec in self.inner.specs.iter().filter(|s| wants(s, notice)) {
            let delivery = outbox::queue(self.inner.store.as_ref(), &spec.name, notice)?;
            if let Some(worker) = self.inner.workers.get(&spec.name) {
                let _ = worker.send(delivery);
            }
        }
        Ok(())
    }

    /// Stops the workers; what they have not delivered stays queued for the next start.
    pub async fn shutdown(&self) {
        self.inner.stop.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }
}

/// Delivers one target's notices, one at a time, in order.
struct Worker {
    store: Arc<dyn Store>,
    spec: NotificationSpec,
    secrets: Arc<dyn SecretSource>,
    client: reqwest::Client,
    stop: CancellationToken,
}

impl Worker {
    async fn run(self, mut queue: mpsc::UnboundedReceiver<Delivery>) {
        loop {
            let delivery = tokio::select! {
                () = self.stop.cancelled() => return,
                next = queue.recv() => match next {
                    Some(d) => d,
                    None => return,
                },
            };
            if !self.deliver(&delivery).await {
                return;
            }
        }
    }

    /// Tries until delivered or given up on; `false` when stopped on the way.
    async fn deliver(&self, delivery: &Delivery) -> bool {
        let mut attempt = delivery.attempts;
        loop {
            attempt += 1;
            let tried = tokio::select! {
                () = self.stop.cancelled() => return false,
                tried = deliver::once(&self.client, &self.spec, self.secrets.as_ref(), delivery) => tried,
            };
            let record = match &tried {
                Ok(()) => outbox::delivered(self.store.as_ref(), &delivery.id, attempt),
                Err(failure) if attempt >= self.spec.attempts => {
                    outbox::gave_up(self.store.as_ref(), &delivery.id, attempt, &failure.reason)
                }
                Err(failure) => {
                    outbox::failed(self.store.as_ref(), &delivery.id, attempt, &failure.reason)
                }
            };
            if let Err(e) = record {
                tracing::warn!(target = %self.spec.name, error = %e, "cannot record a notification's delivery");
            }
            match tried {
                Ok(()) => return true,
                Err(_) if attempt >= self.spec.attempts => {
                    tracing::warn!(target = %self.spec.name, delivery = %delivery.id, "notification given up on after {attempt} attempts");
                    return true;
                }
                Err(failure) => {
                    let wait = backoff(attempt, failure.retry_after);
                    tokio::select! {
                        () = self.stop.cancelled() => return false,
                        () = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
    }
}
