//! The traffic seam for routing tables that live in the cluster: a service whose
//! `trafficRouting` names a cluster router hands each routing decision to the platform's
//! [`TrafficRouter`], which writes the objects that route it. bellwether's own router stays
//! what it is (`listener.rs`, fed by `actor/perform.rs` with the replicas' addresses); a
//! cluster router needs no addresses, only which revision is on which side.
//!
//! Traffic leaves a revision before it is scaled down: the controller holds the actions after
//! a decision until it is written, and a write that fails is tried again after 100 ms, doubling
//! to 5 s, each failure logged with why, while the service's other requests are answered.

use std::future::Future;
use std::pin::Pin;

use bellwether_core::rollout::{RevisionNumber, Traffic};
use bellwether_core::spec::{ServiceSpec, TrafficRouting};

/// Why a routing decision could not be written, for people: [`bellwether_core::error::chain`]
/// of it says what failed and why.
pub type TrafficError = Box<dyn std::error::Error + Send + Sync>;

/// One routing decision of a service routed by the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Routing {
    pub service: String,
    pub routing: TrafficRouting,
    /// The rollout's stable revision: the one on the stable side while it takes traffic.
    pub stable: Option<RevisionNumber>,
    pub traffic: Traffic,
}

impl Routing {
    /// The revision on the stable side and the one on the canary side, if any: the stable
    /// revision while it has weight, else the one with the largest; the canary side is the
    /// other revision that has weight, the header route or the mirror.
    pub fn sides(&self) -> Option<(RevisionNumber, Option<RevisionNumber>)> {
        let weighted = |r: RevisionNumber| self.traffic.weights.iter().any(|(n, _)| *n == r);
        // The first of equal weights: `max_by_key` keeps the last, so over them reversed.
        let largest = || {
            let weights = self.traffic.weights.iter().rev();
            weights.max_by_key(|(_, w)| *w).map(|(n, _)| *n)
        };
        let stable = self.stable.filter(|&s| weighted(s)).or_else(largest)?;
        let canary = self
            .traffic
            .weights
            .iter()
            .map(|(n, _)| *n)
            .chain(self.traffic.header_route.as_ref().map(|(_, n)| *n))
            .chain(self.traffic.mirror.map(|(n, _)| n))
            .find(|&n| n != stable);
        Some((stable, canary))
    }
}

/// Writes a service's routing decisions as the cluster's objects.
pub trait TrafficRouter: Send + Sync {
    /// Writes the objects that route as `routing` says; resolves once all are applied.
    fn route<'a>(
        &'a self,
        spec: &'a ServiceSpec,
        routing: &'a Routing,
    ) -> Pin<Box<dyn Future<Output = Result<(), TrafficError>> + Send + 'a>>;
}

#[cfg(test)]
mod tests {
    use bellwether_core::spec::{HeaderMatch, Weight};

    use super::*;

    fn routing(stable: Option<RevisionNumber>, traffic: Traffic) -> Routing {
        Routing {
            service: "api".into(),
            routing: TrafficRouting::Embedded,
            stable,
            traffic,
        }
    }

    fn pct(p: u32) -> Weight {
        Weight::from_percent(p).expect("a weight")
    }

    #[test]
    fn sides_keep_the_stable_revision_stable_while_it_has_weight() {
        let split = |w| Traffic::split(1, 2, pct(w));
        assert_eq!(routing(Some(1), split(10)).sides(), Some((1, Some(2))));
        assert_eq!(routing(Some(1), split(90)).sides(), Some((1, Some(2))));
        // Promoted: the new revision has it all, and is the stable side before it is marked so.
        assert_eq!(
            routing(Some(1), Traffic::all_to(2)).sides(),
            Some((2, None))
        );
        // A first deploy has no stable revision yet.
        assert_eq!(routing(None, Traffic::all_to(1)).sides(), Some((1, None)));
        assert_eq!(routing(None, Traffic::default()).sides(), None);
        let mut header = Traffic::all_to(1);
        let matched = HeaderMatch::Exact {
            header: "x-canary".into(),
            value: "yes".into(),
        };
        header.header_route = Some((matched, 2));
        assert_eq!(routing(Some(1), header).sides(), Some((1, Some(2))));
        let mut mirrored = Traffic::all_to(1);
        mirrored.mirror = Some((2, pct(50)));
        assert_eq!(routing(Some(1), mirrored).sides(), Some((1, Some(2))));
    }
}
