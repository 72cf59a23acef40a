//! From the rollout core's [`Traffic`] to a [`TableSpec`]: how the rollout controller drives
//! the built-in router.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use bellwether_core::rollout::{RevisionNumber, Traffic};
use bellwether_core::spec::{HeaderMatch, Weight};

use super::{Balance, HeaderRouteSpec, Matcher, MirrorSpec, RevisionSpec, TableSpec};

/// What the controller's tables call revision `number`: `r<number>`.
pub(crate) fn revision_name(number: RevisionNumber) -> String {
    format!("r{number}")
}

impl TableSpec {
    /// The table that applies `traffic` to `service`, whose revisions run on `replicas`.
    /// Revisions are named `r<number>`. A blue-green preview is in the table with no weight,
    /// reachable by header routes; [`TableSpec::preview_of`] gives the table of a separate
    /// preview listener.
    pub fn from_traffic(
        service: &str,
        traffic: &Traffic,
        replicas: &BTreeMap<RevisionNumber, Vec<SocketAddr>>,
    ) -> Self {
        let mut numbers: Vec<RevisionNumber> = Vec::new();
        let referenced = traffic
            .weights
            .iter()
            .map(|(r, _)| *r)
            .chain(traffic.header_route.as_ref().map(|(_, r)| *r))
            .chain(traffic.preview)
            .chain(traffic.mirror.map(|(r, _)| r));
        for number in referenced {
            if !numbers.contains(&number) {
                numbers.push(number);
            }
        }
        let revisions = numbers
            .into_iter()
            .map(|number| RevisionSpec {
                name: revision_name(number),
                number,
                replicas: replicas.get(&number).cloned().unwrap_or_default(),
                weight: traffic.weight_of(number),
                balance: Balance::default(),
            })
            .collect();
        let header_routes = traffic
            .header_route
            .iter()
            .map(|(m, number)| header_route(m, *number))
            .collect();
        Self {
            service: service.to_owned(),
            revisions,
            header_routes,
            mirror: traffic.mirror.map(|(number, weight)| MirrorSpec {
                revision: revision_name(number),
                weight,
            }),
        }
    }

    /// Routes requests whose `header` is exactly `value` to revision `number`, ahead of every
    /// other route; the revision joins the table with no weight if it is not in it.
    pub fn route_header_to(
        &mut self,
        header: &str,
        value: &str,
        number: RevisionNumber,
        replicas: &BTreeMap<RevisionNumber, Vec<SocketAddr>>,
    ) {
        if !self.revisions.iter().any(|r| r.number == number) {
            self.revisions.push(RevisionSpec {
                name: revision_name(number),
                number,
                replicas: replicas.get(&number).cloned().unwrap_or_default(),
                weight: Weight::ZERO,
                balance: Balance::default(),
            });
        }
        self.header_routes.insert(
            0,
            HeaderRouteSpec {
                revision: revision_name(number),
                header: header.to_owned(),
                matcher: Matcher::Exact(value.to_owned()),
            },
        );
    }

    /// All traffic to the preview revision of `traffic`, if it has one.
    pub fn preview_of(
        service: &str,
        traffic: &Traffic,
        replicas: &BTreeMap<RevisionNumber, Vec<SocketAddr>>,
    ) -> Option<Self> {
        traffic
            .preview
            .map(|p| Self::from_traffic(service, &Traffic::all_to(p), replicas))
    }
}

fn header_route(m: &HeaderMatch, number: RevisionNumber) -> HeaderRouteSpec {
    let (header, matcher) = match m {
        HeaderMatch::Exact { header, value } => (header, Matcher::Exact(value.clone())),
        HeaderMatch::Prefix { header, value } => (header, Matcher::Prefix(value.clone())),
        HeaderMatch::Regex { header, pattern } => (header, Matcher::Regex(pattern.clone())),
    };
    HeaderRouteSpec {
        revision: format!("r{number}"),
        header: header.clone(),
        matcher,
    }
}

#[cfg(test)]
mod tests {
    use bellwether_core::spec::Weight;

    use super::*;

    #[test]
    fn a_canary_split_with_a_header_route_and_a_preview() {
        let mut traffic = Traffic::split(1, 2, Weight::from_basis_points(125).unwrap());
        traffic.header_route = Some((
            HeaderMatch::Prefix {
                header: "x-canary".into(),
                value: "yes".into(),
            },
            2,
        ));
        traffic.preview = Some(3);
        let addr: SocketAddr = "127.0.0.1:9001".parse().unwrap();
        let replicas = BTreeMap::from([(1, vec![addr]), (2, vec![addr, addr])]);
        let spec = TableSpec::from_traffic("api", &traffic, &replicas);
        spec.validate().unwrap();
        let shown: Vec<_> = spec
            .revisions
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    r.number,
                    r.replicas.len(),
                    r.weight.basis_points(),
                )
            })
            .collect();
        assert_eq!(
            shown,
            [("r1", 1, 1, 9_875), ("r2", 2, 2, 125), ("r3", 3, 0, 0)]
        );
        assert_eq!(spec.header_routes[0].revision, "r2");
        assert_eq!(spec.header_routes[0].matcher, Matcher::Prefix("yes".into()));
        assert_eq!(spec.mirror, None);
        traffic.mirror = Some((2, Weight::from_basis_points(2_500).unwrap()));
        let mirrored = TableSpec::from_traffic("api", &traffic, &replicas);
        mirrored.validate().unwrap();
        assert_eq!(
            mirrored.mirror,
            Some(MirrorSpec {
                revision: "r2".into(),
                weight: Weight::from_basis_points(2_500).unwrap(),
            })
        );
        let preview = TableSpec::preview_of("api", &traffic, &replicas).unwrap();
        assert_eq!(preview.revisions.len(), 1);
        assert_eq!(preview.revisions[0].weight, Weight::FULL);
        assert_eq!(
            TableSpec::preview_of("api", &Traffic::all_to(1), &replicas),
            None
        );
    }
}
