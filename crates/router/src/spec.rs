//! The routing table as data: which revisions exist, their replicas and weights, header
//! routes, mirroring. The admin API reads and writes it as JSON; [`TableSpec::from_traffic`]
//! builds it from the rollout core's [`Traffic`].

mod traffic;

pub(crate) use traffic::revision_name;

use std::net::SocketAddr;

use bellwether_core::rollout::RevisionNumber;
use bellwether_core::spec::Weight;
use serde::{Deserialize, Serialize};

use crate::error::RouterError;

/// Everything one service's router needs to route a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSpec {
    /// The service's name: the `service` label of its signals.
    pub service: String,
    pub revisions: Vec<RevisionSpec>,
    /// Tried in order before the weights; the first match decides.
    #[serde(default)]
    pub header_routes: Vec<HeaderRouteSpec>,
    #[serde(default)]
    pub mirror: Option<MirrorSpec>,
}

/// One revision: its replicas and the share of weighted traffic it receives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionSpec {
    /// The `revision` label of its signals (`stable`, `canary`, `r4`).
    pub name: String,
    /// The number analysis asks the [`crate::Signals`] about.
    pub number: RevisionNumber,
    pub replicas: Vec<SocketAddr>,
    /// In basis points (10_000 is 100%).
    #[serde(default)]
    pub weight: Weight,
    #[serde(default)]
    pub balance: Balance,
}

/// How a revision spreads requests over its replicas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    /// The replica with the fewest requests in flight; ties go round the ring.
    #[default]
    LeastOutstanding,
    RoundRobin,
}

/// Requests whose header matches go to `revision`, whatever the weights.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderRouteSpec {
    pub revision: String,
    pub header: String,
    #[serde(flatten)]
    pub matcher: Matcher,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Matcher {
    Exact(String),
    Prefix(String),
    Regex(String),
}

/// A copy of this share of requests also goes to `revision`; its answers are discarded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorSpec {
    pub revision: String,
    /// In basis points.
    pub weight: Weight,
}

impl TableSpec {
    /// Checks what the compiled table relies on: unique names and numbers, known revisions
    /// in routes, and weights that sum to 100% (or are all zero: only header routes serve).
    pub fn validate(&self) -> Result<(), RouterError> {
        for (i, r) in self.revisions.iter().enumerate() {
            if self.revisions[..i].iter().any(|o| o.name == r.name) {
                return Err(RouterError::DuplicateRevision(r.name.clone()));
            }
            if self.revisions[..i].iter().any(|o| o.number == r.number) {
                return Err(RouterError::DuplicateNumber(r.number));
            }
        }
        let sum_bp: u32 = self
            .revisions
            .iter()
            .map(|r| u32::from(r.weight.basis_points()))
            .sum();
        if sum_bp != 0 && sum_bp != 10_000 {
            return Err(RouterError::WeightsDoNotSum { sum_bp });
        }
        for route in &self.header_routes {
            self.index_of(&route.revision)?;
        }
        if let Some(mirror) = &self.mirror {
            self.index_of(&mirror.revision)?;
        }
        Ok(())
    }

    /// The position of the revision called `name`.
    pub fn index_of(&self, name: &str) -> Result<usize, RouterError> {
        self.revisions
            .iter()
            .position(|r| r.name == name)
            .ok_or_else(|| RouterError::UnknownRevision {
                name: name.to_owned(),
                known: self.names(),
            })
    }

    fn names(&self) -> String {
        let names: Vec<&str> = self.revisions.iter().map(|r| r.name.as_str()).collect();
        names.join(", ")
    }

    /// Sets the named revisions' weights; the remainder goes to the first revision not named
    /// (the stable one, by convention listed first) and the others get nothing. So
    /// `canary=10` alone means 90/10.
    pub fn set_weights(&mut self, weights: &[(String, Weight)]) -> Result<(), RouterError> {
        let mut given = vec![None; self.revisions.len()];
        for (name, weight) in weights {
            given[self.index_of(name)?] = Some(*weight);
        }
        let sum: u32 = given
            .iter()
            .flatten()
            .map(|w| u32::from(w.basis_points()))
            .sum();
        let rest = 10_000u32
            .checked_sub(sum)
            .ok_or_else(|| RouterError::WeightsOverFull {
                given: weights
                    .iter()
                    .map(|(n, w)| format!("{n}={w}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let mut rest = Weight::from_basis_points(rest as u16).unwrap_or(Weight::ZERO);
        for (revision, weight) in self.revisions.iter_mut().zip(given) {
            revision.weight = weight.unwrap_or_else(|| std::mem::take(&mut rest));
        }
        // Naming every revision with all weights zero is allowed: only header routes serve.
        if !rest.is_zero() && sum != 0 {
            return Err(RouterError::WeightsDoNotSum { sum_bp: sum });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(names: &[&str]) -> TableSpec {
        TableSpec {
            service: "api".into(),
            revisions: names
                .iter()
                .enumerate()
                .map(|(i, n)| RevisionSpec {
                    name: (*n).into(),
                    number: i as u64 + 1,
                    replicas: vec![],
                    weight: Weight::ZERO,
                    balance: Balance::default(),
                })
                .collect(),
            header_routes: vec![],
            mirror: None,
        }
    }

    fn bp(s: &TableSpec) -> Vec<u16> {
        s.revisions
            .iter()
            .map(|r| r.weight.basis_points())
            .collect()
    }

    fn w(name: &str, pct: &str) -> (String, Weight) {
        (name.into(), pct.parse().unwrap())
    }

    #[test]
    fn unnamed_remainder_goes_to_the_first_unnamed_revision() {
        let mut s = spec(&["stable", "canary", "preview"]);
        s.set_weights(&[w("canary", "0.05")]).unwrap();
        assert_eq!(bp(&s), [9_995, 5, 0]);
        s.validate().unwrap();
        s.set_weights(&[w("stable", "0"), w("canary", "100")])
            .unwrap();
        assert_eq!(bp(&s), [0, 10_000, 0]);
    }

    #[test]
    fn bad_weights_and_names_are_refused_with_the_reason() {
        let mut s = spec(&["stable", "canary"]);
        let err = s
            .set_weights(&[w("stable", "60"), w("canary", "50")])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "weights given for stable=60%, canary=50% sum to more than 100%"
        );
        let err = s
            .set_weights(&[w("stable", "60"), w("canary", "30")])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "weights sum to 9000 basis points; they must sum to 10000 (100%) or be all zero"
        );
        let err = s.set_weights(&[w("blue", "5")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no revision is named `blue` (known: stable, canary)"
        );
        let mut dup = spec(&["a", "a"]);
        assert!(matches!(
            dup.validate(),
            Err(RouterError::DuplicateRevision(_))
        ));
        dup.revisions[1].name = "b".into();
        dup.revisions[1].number = 1;
        assert!(matches!(
            dup.validate(),
            Err(RouterError::DuplicateNumber(1))
        ));
    }
}
