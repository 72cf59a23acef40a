//! Per-revision golden signals: what every request through the router cost and returned,
//! kept in rolling windows and read by analysis through the core's [`SignalSource`].

mod window;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use bellwether_core::rollout::RevisionNumber;
use bellwether_core::signal::{Change, SignalSource, TrafficSample, TrafficTotals};
use tokio::sync::Notify;
use tokio::time::Instant;

use window::Windows;
pub(crate) use window::{Bucket, Outcome};

/// The signals of one revision of one service.
#[derive(Debug)]
pub struct RevisionSignals {
    service: String,
    number: RevisionNumber,
    name: String,
    started: Instant,
    in_flight: AtomicU64,
    windows: Mutex<Windows>,
    /// Requests completed since the revision started, and whether anyone waits for the next
    /// one: a request pays for waking them only when someone does.
    completed: AtomicU64,
    awaited: AtomicBool,
    completions: Notify,
}

impl RevisionSignals {
    fn new(service: &str, number: RevisionNumber, name: &str) -> Self {
        Self {
            service: service.to_owned(),
            number,
            name: name.to_owned(),
            started: Instant::now(),
            in_flight: AtomicU64::new(0),
            windows: Mutex::new(Windows::new()),
            completed: AtomicU64::new(0),
            awaited: AtomicBool::new(false),
            completions: Notify::new(),
        }
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    pub fn number(&self) -> RevisionNumber {
        self.number
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A request to this revision started; pair with [`RevisionSignals::finish`].
    pub(crate) fn start(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// A request started with [`RevisionSignals::start`] ended.
    pub(crate) fn finish(&self, outcome: &Outcome) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        let elapsed = self.started.elapsed();
        self.lock().record(elapsed, outcome);
        // Sequentially consistent with `completion_after`: either it sees this count or this
        // sees its flag.
        self.completed.fetch_add(1, Ordering::SeqCst);
        if self.awaited.load(Ordering::SeqCst) && self.awaited.swap(false, Ordering::SeqCst) {
            self.completions.notify_waiters();
        }
    }

    /// Returns once more than `seen` requests have completed since the revision started.
    async fn completion_after(&self, seen: u64) {
        loop {
            let notified = self.completions.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            self.awaited.store(true, Ordering::SeqCst);
            if self.completed.load(Ordering::SeqCst) > seen {
                return;
            }
            notified.await;
        }
    }

    /// The signals over the last `window`.
    pub fn sample(&self, window: Duration) -> TrafficSample {
        let in_flight = self.in_flight.load(Ordering::Relaxed);
        self.lock()
            .sample(self.started.elapsed(), window, in_flight)
    }

    /// The counts since the revision started; see [`SignalSource::totals`].
    pub fn totals(&self, slower_than: Option<Duration>) -> TrafficTotals {
        self.lock().totals(slower_than)
    }

    /// The latency distribution since the revision started; see [`SignalSource::latencies`].
    pub fn latencies(&self) -> Vec<(u64, u64)> {
        self.lock().latencies()
    }

    /// Everything since the revision started, and the requests in flight now.
    pub(crate) fn total(&self) -> (Bucket, u64) {
        let in_flight = self.in_flight.load(Ordering::Relaxed);
        let total = self.lock().total().cloned().unwrap_or_else(Bucket::new);
        (total, in_flight)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Windows> {
        // A panic while recording cannot leave the counters inconsistent enough to matter.
        self.windows.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Each revision's signals by service, then revision number: a service's revisions are found
/// without looking at any other service's. Services are hashed, not ordered: analysis looks a
/// revision up several times a second for each of thousands of services, and comparing names
/// down a tree of them cost more than the measurement.
type Registry = HashMap<String, BTreeMap<RevisionNumber, Arc<RevisionSignals>>>;

/// Every revision's signals, shared by all routers of one process. Cloning shares the registry.
#[derive(Clone, Debug, Default)]
pub struct Signals {
    revisions: Arc<RwLock<Registry>>,
}

impl Signals {
    pub fn new() -> Self {
        Self::default()
    }

    /// The signals of a revision, created on first use: a revision keeps its history across
    /// table swaps for as long as the process runs.
    pub fn revision(
        &self,
        service: &str,
        number: RevisionNumber,
        name: &str,
    ) -> Arc<RevisionSignals> {
        if let Some(found) = self.find(service, number) {
            return found;
        }
        let mut map = self
            .revisions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            map.entry(service.to_owned())
                .or_default()
                .entry(number)
                .or_insert_with(|| Arc::new(RevisionSignals::new(service, number, name))),
        )
    }

    /// Makes revision `number` of `service` known before a table routes to it, under the name
    /// the controller's tables give it, so that analysis started early reads "no requests
    /// yet" and waits, where an unknown revision would be an error.
    pub fn expect(&self, service: &str, number: RevisionNumber) {
        self.revision(service, number, &crate::spec::revision_name(number));
    }

    /// Forgets the signals of `service`'s revisions that `keep` refuses. A revision that no
    /// table routes to and no analysis reads needs no history, and keeping every one's would
    /// grow without bound over deploys; a table still holding one keeps it until replaced.
    pub fn retain(&self, service: &str, keep: impl Fn(RevisionNumber) -> bool) {
        let doomed = self
            .read()
            .get(service)
            .is_some_and(|revisions| revisions.keys().any(|n| !keep(*n)));
        if doomed {
            let mut map = self
                .revisions
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(revisions) = map.get_mut(service) {
                revisions.retain(|n, _| keep(*n));
                if revisions.is_empty() {
                    map.remove(service);
                }
            }
        }
    }

    /// Every revision known, ordered by service and revision number.
    pub fn all(&self) -> Vec<Arc<RevisionSignals>> {
        let registry = self.read();
        let mut services: Vec<_> = registry.iter().collect();
        services.sort_unstable_by_key(|(service, _)| *service);
        services
            .into_iter()
            .flat_map(|(_, revisions)| revisions.values().cloned())
            .collect()
    }

    fn find(&self, service: &str, number: RevisionNumber) -> Option<Arc<RevisionSignals>> {
        self.read().get(service)?.get(&number).cloned()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        self.revisions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl SignalSource for Signals {
    fn sample(
        &self,
        service: &str,
        revision: RevisionNumber,
        window: Duration,
    ) -> Option<TrafficSample> {
        self.find(service, revision).map(|r| r.sample(window))
    }

    fn totals(
        &self,
        service: &str,
        revision: RevisionNumber,
        slower_than: Option<Duration>,
    ) -> Option<TrafficTotals> {
        self.find(service, revision).map(|r| r.totals(slower_than))
    }

    fn latencies(&self, service: &str, revision: RevisionNumber) -> Option<Vec<(u64, u64)>> {
        self.find(service, revision).map(|r| r.latencies())
    }

    fn next_completion(&self, service: &str, revision: RevisionNumber) -> Option<Change> {
        let signals = self.find(service, revision)?;
        let seen = signals.completed.load(Ordering::SeqCst);
        Some(Box::pin(
            async move { signals.completion_after(seen).await },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_source_answers_for_known_revisions_over_the_paused_clock() {
        let signals = Signals::new();
        let canary = signals.revision("api", 2, "canary");
        assert!(Arc::ptr_eq(&canary, &signals.revision("api", 2, "canary")));
        canary.start();
        canary.start();
        tokio::time::advance(Duration::from_secs(5)).await;
        let outcome = Outcome {
            status: Some(503),
            latency: Duration::from_millis(3),
            bytes_in: 0,
            bytes_out: 5,
        };
        canary.finish(&outcome);
        let s = signals.sample("api", 2, Duration::from_secs(30)).unwrap();
        assert_eq!((s.requests, s.in_flight, s.errors()), (1, 1, 1));
        assert_eq!(s.window, Duration::from_secs(5));
        assert_eq!(signals.sample("api", 3, Duration::from_secs(30)), None);
        assert_eq!(signals.sample("web", 2, Duration::from_secs(30)), None);
    }

    #[tokio::test]
    async fn a_completion_wakes_those_waiting_for_one_even_when_it_came_before_they_waited() {
        let signals = Signals::new();
        let canary = signals.revision("api", 2, "canary");
        let outcome = Outcome {
            status: Some(200),
            latency: Duration::from_millis(1),
            bytes_in: 0,
            bytes_out: 0,
        };
        canary.start();
        canary.finish(&outcome);
        // Taken after that request: only a later one resolves it.
        let mut waiting = signals.next_completion("api", 2).unwrap();
        let pending = futures_pending(&mut waiting);
        assert!(
            pending,
            "resolved by a request completed before it was taken"
        );
        // Completed between taking the change and waiting on it: still seen.
        let early = signals.next_completion("api", 2).unwrap();
        canary.start();
        canary.finish(&outcome);
        tokio::time::timeout(Duration::from_secs(5), early)
            .await
            .unwrap();
        // Waiting already: woken by the next completion, as is every other waiter.
        let waiters = tokio::spawn(async move {
            tokio::join!(waiting, signals.next_completion("api", 2).unwrap());
        });
        tokio::task::yield_now().await;
        canary.start();
        canary.finish(&outcome);
        tokio::time::timeout(Duration::from_secs(5), waiters)
            .await
            .unwrap()
            .unwrap();
    }

    /// Polls a change once: whether it is still pending.
    fn futures_pending(change: &mut Change) -> bool {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        change.as_mut().poll(&mut cx).is_pending()
    }

    #[test]
    fn retain_forgets_only_the_revisions_of_that_service_it_refuses() {
        let signals = Signals::new();
        for (service, n) in [("api", 1), ("api", 2), ("api", 3), ("web", 1)] {
            signals.expect(service, n);
        }
        signals.retain("api", |n| n == 3);
        let left: Vec<(String, RevisionNumber)> = signals
            .all()
            .iter()
            .map(|r| (r.service().to_owned(), r.number()))
            .collect();
        assert_eq!(left, [("api".to_owned(), 3), ("web".to_owned(), 1)]);
    }
}
