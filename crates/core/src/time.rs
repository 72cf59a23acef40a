//! Time as data: instants are milliseconds on the caller's clock, durations are `std::time::Duration`.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// An instant, in milliseconds since an epoch chosen by the caller (the Unix epoch in production,
/// zero in simulations). The core never reads a clock; it only compares the instants it is given.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub fn from_millis(ms: u64) -> Self {
        Self(ms)
    }

    pub fn as_millis(self) -> u64 {
        self.0
    }

    /// The instant `d` after this one, saturating instead of overflowing.
    pub fn after(self, d: Duration) -> Self {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self(self.0.saturating_add(ms))
    }

    /// How long after `earlier` this instant is; zero if it is not after it.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t+{}ms", self.0)
    }
}

/// Formats a duration the way people write them in `bellwether.yaml`: `90s`, `2m`, `1h30m`, `250ms`.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let mut s = ms / 1000;
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if s >= size {
            out.push_str(&format!("{}{unit}", s / size));
            s %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_durations_as_written_in_config() {
        let cases = [
            (0, "0s"),
            (250, "250ms"),
            (1_000, "1s"),
            (120_000, "2m"),
            (5_430_000, "1h30m30s"),
        ];
        for (ms, want) in cases {
            assert_eq!(human_duration(Duration::from_millis(ms)), want, "{ms}ms");
        }
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(
            Timestamp(u64::MAX).after(Duration::from_secs(1)),
            Timestamp(u64::MAX)
        );
        assert_eq!(Timestamp(5).since(Timestamp(9)), Duration::ZERO);
    }
}
