//! Replica counts written as absolute numbers or as a percentage of the desired replicas.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `maxSurge: 1` or `maxSurge: 25%`, as in Kubernetes Deployments and Argo Rollouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    Count(u32),
    Percent(u32),
}

impl Scale {
    /// Resolves against `replicas`. Surge rounds up and unavailability rounds down, as in
    /// Kubernetes, so that a rolling update always makes progress and never over-drains.
    pub fn resolve(self, replicas: u32, round_up: bool) -> u32 {
        match self {
            Scale::Count(n) => n,
            Scale::Percent(p) => {
                let scaled = u64::from(replicas) * u64::from(p);
                let v = if round_up {
                    scaled.div_ceil(100)
                } else {
                    scaled / 100
                };
                u32::try_from(v).unwrap_or(u32::MAX)
            }
        }
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scale::Count(n) => write!(f, "{n}"),
            Scale::Percent(p) => write!(f, "{p}%"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_like_kubernetes() {
        assert_eq!(Scale::Percent(25).resolve(3, true), 1);
        assert_eq!(Scale::Percent(25).resolve(3, false), 0);
        assert_eq!(Scale::Percent(50).resolve(4, false), 2);
        assert_eq!(Scale::Count(2).resolve(10, true), 2);
    }
}
