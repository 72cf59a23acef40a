//! `dora: {targets: …}`: the figures a team aims for, shown beside the measured ones.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::time::human_duration;

/// The targets of the four DORA figures; each is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoraTargets {
    /// At least this many deployments per period.
    pub deployment_frequency: Option<Frequency>,
    /// A median lead time for changes at most this long.
    pub lead_time: Option<Duration>,
    /// At most this share of rollouts failed, in basis points (`15%` is 1500).
    pub change_failure_rate: Option<u32>,
    /// A median time to restore at most this long, and no failure left unrestored longer.
    pub time_to_restore: Option<Duration>,
}

impl DoraTargets {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// `daily` (one per day), `weekly`, `monthly` (30 days), `hourly`, or `N/day`, `N/week`, ….
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frequency {
    pub deployments: u32,
    pub per: Duration,
}

const HOUR: Duration = Duration::from_secs(3_600);
const DAY: Duration = Duration::from_secs(86_400);

/// The periods a frequency may be written per, by name.
pub const PERIODS: [(&str, &str, Duration); 4] = [
    ("hour", "hourly", HOUR),
    ("day", "daily", DAY),
    ("week", "weekly", Duration::from_secs(7 * 86_400)),
    ("month", "monthly", Duration::from_secs(30 * 86_400)),
];

impl Frequency {
    /// Reads `daily` or `3/day`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Some((_, _, per)) = PERIODS.iter().find(|(_, adverb, _)| *adverb == text) {
            return Some(Self {
                deployments: 1,
                per: *per,
            });
        }
        let (count, period) = text.split_once('/')?;
        let deployments: u32 = count.trim().parse().ok().filter(|n| *n > 0)?;
        let (_, _, per) = PERIODS.iter().find(|(noun, _, _)| *noun == period.trim())?;
        Some(Self {
            deployments,
            per: *per,
        })
    }
}

impl fmt::Display for Frequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let named = PERIODS.iter().find(|(_, _, per)| *per == self.per);
        match named {
            Some((_, adverb, _)) if self.deployments == 1 => f.write_str(adverb),
            Some((noun, _, _)) => write!(f, "{}/{noun}", self.deployments),
            None => write!(f, "{} per {}", self.deployments, human_duration(self.per)),
        }
    }
}
