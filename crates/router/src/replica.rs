//! Revisions and their replicas: which replica takes the next request (least outstanding
//! requests or round robin), and passive ejection of replicas that fail.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bellwether_core::rollout::RevisionNumber;
use tokio::time::Instant;

use crate::pool::Pool;
use crate::signals::RevisionSignals;
use crate::spec::Balance;

/// One revision as the compiled table holds it. Immutable but for its counters, so a table
/// swap that only changes weights keeps the same `Arc` and its replicas keep their pools.
#[derive(Debug)]
pub(crate) struct Revision {
    pub(crate) name: String,
    pub(crate) number: RevisionNumber,
    pub(crate) replicas: Vec<Arc<Replica>>,
    pub(crate) balance: Balance,
    next: AtomicUsize,
    pub(crate) signals: Arc<RevisionSignals>,
}

impl Revision {
    pub(crate) fn new(
        name: String,
        number: RevisionNumber,
        replicas: Vec<Arc<Replica>>,
        balance: Balance,
        signals: Arc<RevisionSignals>,
    ) -> Self {
        Self {
            name,
            number,
            replicas,
            balance,
            next: AtomicUsize::new(0),
            signals,
        }
    }

    /// Whether this revision serves the same replicas the same way as a spec would.
    pub(crate) fn same_shape(&self, replicas: &[SocketAddr], balance: Balance) -> bool {
        self.balance == balance
            && self.replicas.len() == replicas.len()
            && self
                .replicas
                .iter()
                .zip(replicas)
                .all(|(r, a)| r.addr == *a)
    }

    /// The replica for the next request, never `avoid`. Ejected replicas are skipped unless
    /// every candidate is ejected: then the router tries them anyway rather than refuse, since
    /// an ejection is only a guess that the replica is down.
    pub(crate) fn pick(&self, avoid: Option<&Replica>) -> Option<&Arc<Replica>> {
        let n = self.replicas.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let candidates = (0..n)
            .map(|i| &self.replicas[(start + i) % n])
            .filter(|r| avoid.is_none_or(|a| !std::ptr::eq(Arc::as_ptr(r), a)));
        let healthy = candidates.clone().filter(|r| !r.is_ejected(now));
        match self.balance {
            Balance::RoundRobin => healthy.clone().next().or_else(|| candidates.clone().next()),
            Balance::LeastOutstanding => healthy
                .min_by_key(|r| r.outstanding())
                .or_else(|| candidates.min_by_key(|r| r.outstanding())),
        }
    }
}

/// One backend address of a revision, with its connection pool and health.
#[derive(Debug)]
pub(crate) struct Replica {
    pub(crate) addr: SocketAddr,
    pub(crate) pool: Pool,
    outstanding: AtomicUsize,
    born: Instant,
    consecutive_failures: AtomicU32,
    /// Nanoseconds after `born` until which the replica is skipped; 0 when it is not ejected.
    ejected_until: AtomicU64,
    base_ejection: Duration,
    max_ejection: Duration,
}

impl Replica {
    pub(crate) fn new(
        addr: SocketAddr,
        max_idle: usize,
        base_ejection: Duration,
        max_ejection: Duration,
    ) -> Self {
        Self {
            addr,
            pool: Pool::new(addr, max_idle),
            outstanding: AtomicUsize::new(0),
            born: Instant::now(),
            consecutive_failures: AtomicU32::new(0),
            ejected_until: AtomicU64::new(0),
            base_ejection,
            max_ejection,
        }
    }

    pub(crate) fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::Relaxed)
    }

    /// Counts a request in flight until the returned guard drops.
    pub(crate) fn begin(self: &Arc<Self>) -> InFlight {
        self.outstanding.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }

    fn is_ejected(&self, now: Instant) -> bool {
        let until = self.ejected_until.load(Ordering::Relaxed);
        until != 0 && nanos_since(self.born, now) < until
    }

    /// The replica answered: it is healthy again.
    pub(crate) fn succeeded(&self) {
        if self.consecutive_failures.load(Ordering::Relaxed) != 0 {
            self.consecutive_failures.store(0, Ordering::Relaxed);
            self.ejected_until.store(0, Ordering::Relaxed);
        }
    }

    /// The replica refused, timed out or broke a connection: eject it for a back-off that
    /// doubles with each consecutive failure.
    pub(crate) fn failed(&self) {
        let failures = self.consecutive_failures.fetch_add(1, Ordering::Relaxed);
        let backoff = self
            .base_ejection
            .saturating_mul(1u32 << failures.min(16))
            .min(self.max_ejection);
        let until = nanos_since(self.born, Instant::now() + backoff).max(1);
        self.ejected_until.store(until, Ordering::Relaxed);
    }
}

fn nanos_since(born: Instant, at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(born).as_nanos()).unwrap_or(u64::MAX)
}

/// A request in flight on a replica; dropping it ends the count.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Replica>);

impl InFlight {
    pub(crate) fn replica(&self) -> &Arc<Replica> {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.outstanding.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::Signals;

    fn revision(balance: Balance, n: u16) -> Revision {
        let replicas = (0..n)
            .map(|i| {
                let addr = SocketAddr::from(([127, 0, 0, 1], 9000 + i));
                Arc::new(Replica::new(
                    addr,
                    1,
                    Duration::from_secs(1),
                    Duration::from_secs(8),
                ))
            })
            .collect();
        let signals = Signals::new().revision("api", 1, "stable");
        Revision::new("stable".into(), 1, replicas, balance, signals)
    }

    fn port(r: Option<&Arc<Replica>>) -> u16 {
        r.map_or(0, |r| r.addr.port())
    }

    #[tokio::test(start_paused = true)]
    async fn least_outstanding_prefers_the_idle_replica_and_skips_the_ejected() {
        let rev = revision(Balance::LeastOutstanding, 3);
        let busy = rev.replicas[0].begin();
        let _busy2 = rev.replicas[1].begin();
        assert_eq!(port(rev.pick(None)), 9002);
        rev.replicas[2].failed();
        assert_eq!(rev.pick(None).unwrap().outstanding(), 1);
        drop(busy);
        assert_eq!(port(rev.pick(None)), 9000);
        assert_eq!(port(rev.pick(Some(&rev.replicas[0]))), 9001);
        // The back-off ends and the replica is back.
        tokio::time::advance(Duration::from_millis(1001)).await;
        let _more = rev.replicas[0].begin();
        assert_eq!(port(rev.pick(None)), 9002);
    }

    #[tokio::test(start_paused = true)]
    async fn ejection_backs_off_exponentially_up_to_the_cap_and_recovers_on_success() {
        let rev = revision(Balance::RoundRobin, 2);
        let r = &rev.replicas[0];
        for _ in 0..5 {
            r.failed();
        }
        tokio::time::advance(Duration::from_secs(7)).await;
        assert!(r.is_ejected(Instant::now()), "8 s cap not yet over");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(!r.is_ejected(Instant::now()));
        r.failed();
        r.succeeded();
        assert!(!r.is_ejected(Instant::now()));
    }

    #[tokio::test(start_paused = true)]
    async fn round_robin_turns_and_tries_ejected_replicas_when_nothing_else_is_left() {
        let rev = revision(Balance::RoundRobin, 2);
        let ports: Vec<u16> = (0..4).map(|_| port(rev.pick(None))).collect();
        assert_eq!(ports, [9000, 9001, 9000, 9001]);
        rev.replicas[0].failed();
        rev.replicas[1].failed();
        assert_ne!(port(rev.pick(None)), 0);
        assert_eq!(port(rev.pick(Some(&rev.replicas[1]))), 9000);
        let lonely = revision(Balance::RoundRobin, 1);
        assert!(lonely.pick(Some(&lonely.replicas[0])).is_none());
        assert!(revision(Balance::LeastOutstanding, 0).pick(None).is_none());
    }
}
