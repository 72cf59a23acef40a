//! The compiled routing table: what a request's headers and its turn decide. It is immutable;
//! the router swaps a whole new one in, so a request sees one table from start to end.

mod header;

use std::sync::Arc;

use http::HeaderMap;

use crate::config::RouterConfig;
use crate::error::RouterError;
use crate::replica::{Replica, Revision};
use crate::signals::Signals;
use crate::spec::TableSpec;
use header::HeaderRoute;

/// One basis point is the finest weight: a request's turn is a slot in `0..10_000`.
pub(crate) const SLOTS: u64 = 10_000;

#[derive(Debug)]
pub(crate) struct Table {
    pub(crate) service: String,
    revisions: Vec<Arc<Revision>>,
    /// Exclusive upper slot bound of each revision with weight, in table order.
    bounds: Vec<(u16, usize)>,
    routes: Vec<HeaderRoute>,
    mirror: Option<(usize, u16)>,
    /// For each revision, where a request it cannot take goes instead (see [`fallbacks`]).
    fallbacks: Vec<Option<usize>>,
}

impl Table {
    pub(crate) fn empty(service: &str) -> Self {
        Self {
            service: service.to_owned(),
            revisions: Vec::new(),
            bounds: Vec::new(),
            routes: Vec::new(),
            mirror: None,
            fallbacks: Vec::new(),
        }
    }

    /// Compiles `spec`, keeping from `previous` every revision and replica that did not change
    /// so that their connection pools, in-flight counts and ejections carry over.
    pub(crate) fn compile(
        spec: &TableSpec,
        previous: &Table,
        signals: &Signals,
        config: &RouterConfig,
    ) -> Result<Self, RouterError> {
        spec.validate()?;
        let old_replicas = || previous.revisions.iter().flat_map(|r| &r.replicas);
        let revisions = spec
            .revisions
            .iter()
            .map(|r| {
                let kept = previous.revisions.iter().find(|old| {
                    old.name == r.name
                        && old.number == r.number
                        && old.same_shape(&r.replicas, r.balance)
                });
                if let Some(kept) = kept {
                    return Arc::clone(kept);
                }
                let replicas = r
                    .replicas
                    .iter()
                    .map(|addr| match old_replicas().find(|old| old.addr == *addr) {
                        Some(old) => Arc::clone(old),
                        None => Arc::new(Replica::new(
                            *addr,
                            config.max_idle_per_replica,
                            config.base_ejection,
                            config.max_ejection,
                        )),
                    })
                    .collect();
                let signals = signals.revision(&spec.service, r.number, &r.name);
                Arc::new(Revision::new(
                    r.name.clone(),
                    r.number,
                    replicas,
                    r.balance,
                    signals,
                ))
            })
            .collect();
        let mut bounds = Vec::new();
        let mut upper = 0u16;
        for (i, r) in spec.revisions.iter().enumerate() {
            if !r.weight.is_zero() {
                upper += r.weight.basis_points();
                bounds.push((upper, i));
            }
        }
        let routes = spec
            .header_routes
            .iter()
            .map(|route| HeaderRoute::compile(route, spec.index_of(&route.revision)?))
            .collect::<Result<_, _>>()?;
        let mirror = match &spec.mirror {
            Some(m) if !m.weight.is_zero() => {
                Some((spec.index_of(&m.revision)?, m.weight.basis_points()))
            }
            _ => None,
        };
        Ok(Self {
            service: spec.service.clone(),
            fallbacks: fallbacks(spec),
            revisions,
            bounds,
            routes,
            mirror,
        })
    }

    /// The revision for a request: the first matching header route, else the weights at
    /// `slot` (in `0..10_000`). `None` when no revision has weight and no route matched.
    pub(crate) fn route(&self, headers: &HeaderMap, slot: u16) -> Option<&Arc<Revision>> {
        if let Some(route) = self.routes.iter().find(|r| r.matches(headers)) {
            return self.revisions.get(route.revision);
        }
        let (_, index) = self.bounds.iter().find(|(upper, _)| slot < *upper)?;
        self.revisions.get(*index)
    }

    /// Where a request routed to `revision` goes when no replica of it can take the request.
    pub(crate) fn fallback(&self, revision: &Arc<Revision>) -> Option<&Arc<Revision>> {
        let index = self
            .revisions
            .iter()
            .position(|r| Arc::ptr_eq(r, revision))?;
        self.revisions.get(self.fallbacks[index]?)
    }

    /// The revision that receives a copy of the request at `slot`, if any.
    pub(crate) fn mirror(&self, slot: u16) -> Option<&Arc<Revision>> {
        let (index, weight) = self.mirror?;
        (slot < weight).then(|| self.revisions.get(index)).flatten()
    }
}

/// Each revision's fallback: the table's stable revision, the one with the largest weight
/// (the first in table order of those with equal weight) that has replicas. The stable itself
/// has none, so a canary's requests fall back to the revision it is measured against, and the
/// stable's never go to a revision still being judged.
fn fallbacks(spec: &TableSpec) -> Vec<Option<usize>> {
    let stable = spec
        .revisions
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.weight.is_zero() && !r.replicas.is_empty())
        .max_by_key(|(i, r)| (r.weight, std::cmp::Reverse(*i)))
        .map(|(i, _)| i);
    (0..spec.revisions.len())
        .map(|i| stable.filter(|s| *s != i))
        .collect()
}

/// The `n`th request's slot. Stepping by 6181 (near 10_000 over the golden ratio, and coprime
/// with it) visits every slot once per 10_000 requests and spreads consecutive requests evenly,
/// so even a short interval sees its configured split within a request or two.
pub(crate) fn slot(n: u64) -> u16 {
    ((n % SLOTS) * 6181 % SLOTS) as u16
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use bellwether_core::spec::Weight;

    use super::*;
    use crate::spec::{Balance, HeaderRouteSpec, Matcher, MirrorSpec, RevisionSpec};

    fn spec(weights: &[u16]) -> TableSpec {
        let revisions = weights
            .iter()
            .enumerate()
            .map(|(i, bp)| RevisionSpec {
                name: format!("r{}", i + 1),
                number: i as u64 + 1,
                replicas: vec![SocketAddr::from(([127, 0, 0, 1], 9000 + i as u16))],
                weight: Weight::from_basis_points(*bp).unwrap(),
                balance: Balance::default(),
            })
            .collect();
        TableSpec {
            service: "api".into(),
            revisions,
            header_routes: vec![],
            mirror: None,
        }
    }

    fn compile(spec: &TableSpec, previous: &Table) -> Table {
        Table::compile(spec, previous, &Signals::new(), &RouterConfig::default()).unwrap()
    }

    fn shares(table: &Table, requests: u64) -> Vec<u64> {
        let mut counts = vec![0; 3];
        for n in 0..requests {
            let r = table.route(&HeaderMap::new(), slot(n)).unwrap();
            counts[(r.number - 1) as usize] += 1;
        }
        counts
    }

    #[test]
    fn slots_are_a_permutation_and_short_runs_are_even() {
        let mut seen = vec![false; SLOTS as usize];
        for n in 0..SLOTS {
            seen[slot(n) as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
        let table = compile(&spec(&[9_000, 1_000]), &Table::empty("api"));
        for start in [0, 137, 5_000] {
            let canary = (start..start + 100)
                .filter(|n| table.route(&HeaderMap::new(), slot(*n)).unwrap().number == 2)
                .count();
            assert!((9..=11).contains(&canary), "{canary} of 100 from {start}");
        }
    }

    #[test]
    fn weights_as_fine_as_one_basis_point_are_exact_over_ten_thousand_requests() {
        let table = compile(&spec(&[9_989, 1, 10]), &Table::empty("api"));
        assert_eq!(shares(&table, 10_000), [9_989, 1, 10]);
        assert_eq!(shares(&table, 20_000), [19_978, 2, 20]);
    }

    #[test]
    fn header_routes_win_over_weights_and_all_zero_weights_route_nothing() {
        let mut s = spec(&[0, 0, 0]);
        s.header_routes = vec![HeaderRouteSpec {
            revision: "r3".into(),
            header: "x-canary".into(),
            matcher: Matcher::Exact("1".into()),
        }];
        let table = compile(&s, &Table::empty("api"));
        let mut headers = HeaderMap::new();
        assert!(table.route(&headers, 0).is_none());
        headers.insert("x-canary", "1".parse().unwrap());
        assert_eq!(table.route(&headers, 0).unwrap().name, "r3");
    }

    #[test]
    fn a_weight_change_keeps_revisions_and_a_replica_change_keeps_replicas() {
        let first = compile(&spec(&[10_000, 0]), &Table::empty("api"));
        let second = compile(&spec(&[5_000, 5_000]), &first);
        assert!(Arc::ptr_eq(&first.revisions[0], &second.revisions[0]));
        let mut moved = spec(&[5_000, 5_000]);
        moved.revisions[1]
            .replicas
            .push(SocketAddr::from(([127, 0, 0, 1], 9000)));
        let third = compile(&moved, &second);
        assert!(!Arc::ptr_eq(&second.revisions[1], &third.revisions[1]));
        assert!(Arc::ptr_eq(
            &second.revisions[0].replicas[0],
            &third.revisions[1].replicas[1]
        ));
    }

    #[test]
    fn mirroring_copies_its_share() {
        let mut s = spec(&[10_000, 0]);
        s.mirror = Some(MirrorSpec {
            revision: "r2".into(),
            weight: Weight::from_basis_points(2_500).unwrap(),
        });
        let table = compile(&s, &Table::empty("api"));
        let mirrored = (0..SLOTS)
            .filter(|n| table.mirror(slot(*n)).is_some())
            .count();
        assert_eq!(mirrored, 2_500);
    }
}
