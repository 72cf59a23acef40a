//! A routing decision as the cluster's objects see it: a stable and a canary side, each a
//! revision behind a Service of bellwether's, with their weights, the header route to the
//! canary and the share mirrored to it.

use bellwether_controller::Routing;
use bellwether_core::rollout::RevisionNumber;
use bellwether_core::spec::{HeaderMatch, Weight};

use crate::names;

/// The header route's rule or route in a user's object, by which bellwether finds its own.
pub(crate) const HEADER_ROUTE: &str = "bellwether-header-route";

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Split {
    /// The label value by which the service's pods are selected.
    pub service_label: String,
    pub stable: RevisionNumber,
    /// The canary side's revision; none when only the stable side has anything.
    pub canary: Option<RevisionNumber>,
    pub stable_weight: Weight,
    pub canary_weight: Weight,
    pub header: Option<HeaderMatch>,
    /// The share of requests copied to the canary.
    pub mirror: Option<Weight>,
    /// The two Services bellwether owns: `<service>-stable` and `<service>-canary`.
    pub stable_service: String,
    pub canary_service: String,
    pub port: u16,
}

impl Split {
    /// `None` when nothing is routed yet (no revision has weight).
    pub(crate) fn of(routing: &Routing, port: u16) -> Option<Self> {
        let (stable, canary) = routing.sides()?;
        let traffic = &routing.traffic;
        let canary_weight = canary.map_or(Weight::ZERO, |c| traffic.weight_of(c));
        let header = canary.and_then(|c| {
            let (matched, to) = traffic.header_route.as_ref()?;
            (*to == c).then(|| matched.clone())
        });
        let mirror = canary.and_then(|c| traffic.mirror.filter(|(to, _)| *to == c).map(|m| m.1));
        let stem = names::dns_label(&routing.service, 63 - "-canary".len());
        Some(Self {
            service_label: names::dns_label(&routing.service, 63),
            stable,
            canary,
            stable_weight: canary_weight.complement(),
            canary_weight,
            header,
            mirror,
            stable_service: format!("{stem}-stable"),
            canary_service: format!("{stem}-canary"),
            port,
        })
    }
}

/// A regular expression for a header match, for routers without a prefix match.
pub(crate) fn header_regex(matched: &HeaderMatch) -> (&str, String) {
    match matched {
        HeaderMatch::Exact { header, value } => (header, format!("^{}$", escape(value))),
        HeaderMatch::Prefix { header, value } => (header, format!("^{}", escape(value))),
        HeaderMatch::Regex { header, pattern } => (header, pattern.clone()),
    }
}

fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if r"\.+*?()|[]{}^$".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
impl Split {
    /// Service `api`, revision 1 stable and 2 the canary at `canary` basis points.
    pub(crate) fn test(canary: u16) -> Self {
        let canary_weight = Weight::from_basis_points(canary).expect("a weight");
        Self {
            service_label: "api".into(),
            stable: 1,
            canary: Some(2),
            stable_weight: canary_weight.complement(),
            canary_weight,
            header: None,
            mirror: None,
            stable_service: "api-stable".into(),
            canary_service: "api-canary".into(),
            port: 8080,
        }
    }

    pub(crate) fn with_header(mut self, header: HeaderMatch) -> Self {
        self.header = Some(header);
        self
    }

    pub(crate) fn mirrored(mut self, share: u16) -> Self {
        self.mirror = Some(Weight::from_basis_points(share).expect("a weight"));
        self
    }

    /// Only the stable side: no canary.
    pub(crate) fn stable_only(mut self) -> Self {
        self.canary = None;
        self.canary_weight = Weight::ZERO;
        self.stable_weight = Weight::FULL;
        self
    }
}
