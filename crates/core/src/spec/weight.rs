//! Traffic weights, in hundredths of a percent so that canaries below 1% are exact.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A share of traffic between 0% and 100%, stored in basis points (1/100 of a percent).
///
/// Integer arithmetic keeps "weights sum to 100%" an exact invariant, and basis points
/// allow steps as fine as 0.01%.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(try_from = "u16", into = "u16")]
pub struct Weight(u16);

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeightError {
    #[error("weight {0}% is over 100%")]
    OverHundred(String),
    #[error("weight {0}% is negative")]
    Negative(String),
    #[error("weight {0}% is finer than 0.01%")]
    TooFine(String),
    #[error("`{0}` is not a percentage (expected e.g. `25`, `25%` or `0.5%`)")]
    NotANumber(String),
}

impl Weight {
    pub const ZERO: Weight = Weight(0);
    pub const FULL: Weight = Weight(10_000);

    /// A weight from basis points (10_000 = 100%).
    pub fn from_basis_points(bp: u16) -> Result<Self, WeightError> {
        if bp > 10_000 {
            return Err(WeightError::OverHundred(format_bp(u64::from(bp))));
        }
        Ok(Self(bp))
    }

    /// A weight from a whole percentage.
    pub fn from_percent(pct: u32) -> Result<Self, WeightError> {
        if pct > 100 {
            return Err(WeightError::OverHundred(pct.to_string()));
        }
        Ok(Self(pct as u16 * 100))
    }

    /// A weight from a fractional percentage such as `12.5`.
    pub fn from_percent_f64(pct: f64) -> Result<Self, WeightError> {
        let shown = trim_float(pct);
        if !pct.is_finite() {
            return Err(WeightError::NotANumber(shown));
        }
        if pct < 0.0 {
            return Err(WeightError::Negative(shown));
        }
        if pct > 100.0 {
            return Err(WeightError::OverHundred(shown));
        }
        let bp = pct * 100.0;
        if (bp - bp.round()).abs() > 1e-6 {
            return Err(WeightError::TooFine(shown));
        }
        Ok(Self(bp.round() as u16))
    }

    pub fn basis_points(self) -> u16 {
        self.0
    }

    /// The weight as a fraction in `0.0..=1.0`.
    pub fn fraction(self) -> f64 {
        f64::from(self.0) / 10_000.0
    }

    /// What remains of 100% after this weight.
    pub fn complement(self) -> Weight {
        Weight(10_000 - self.0)
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

/// Whole percentages for weights that sum to 100%, for routers that take integers out of
/// 100 (Istio): each weight rounded down, then the points still missing given one each to the
/// largest remainders (of equal ones, the smaller weight's, so that a small share such as a
/// 0.5% canary is not rounded away). So the result sums to exactly 100 when the
/// weights do, no weight moves by a point or more, and a weight of 0% stays 0: the missing
/// points are fewer than the weights with a remainder.
pub fn whole_percents(weights: &[Weight]) -> Vec<u16> {
    let mut percents: Vec<u16> = weights.iter().map(|w| w.0 / 100).collect();
    let total: u32 = weights.iter().map(|w| u32::from(w.0)).sum();
    let given: u32 = percents.iter().map(|&p| u32::from(p)).sum();
    let missing = (total / 100).saturating_sub(given) as usize;
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(weights[i].0 % 100), weights[i].0));
    for &i in order.iter().take(missing) {
        if let Some(p) = percents.get_mut(i) {
            *p += 1;
        }
    }
    percents
}

impl TryFrom<u16> for Weight {
    type Error = WeightError;
    fn try_from(bp: u16) -> Result<Self, Self::Error> {
        Weight::from_basis_points(bp)
    }
}

impl From<Weight> for u16 {
    fn from(w: Weight) -> u16 {
        w.0
    }
}

impl FromStr for Weight {
    type Err = WeightError;

    /// Parses `25`, `25%`, `0.5` or `0.5%`: all are percentages.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let num = t.strip_suffix('%').unwrap_or(t).trim();
        let pct: f64 = num
            .parse()
            .map_err(|_| WeightError::NotANumber(s.to_owned()))?;
        Weight::from_percent_f64(pct)
    }
}

impl fmt::Display for Weight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", format_bp(u64::from(self.0)))
    }
}

fn format_bp(bp: u64) -> String {
    let (whole, frac) = (bp / 100, bp % 100);
    match frac {
        0 => whole.to_string(),
        f if f % 10 == 0 => format!("{whole}.{}", f / 10),
        f => format!("{whole}.{f:02}"),
    }
}

fn trim_float(x: f64) -> String {
    let s = format!("{x}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_percentages() {
        for (input, bp, shown) in [
            ("10", 1000, "10%"),
            ("25%", 2500, "25%"),
            ("0.5%", 50, "0.5%"),
            ("12.25", 1225, "12.25%"),
            ("100%", 10_000, "100%"),
            ("0", 0, "0%"),
        ] {
            let w: Weight = input.parse().unwrap();
            assert_eq!(w.basis_points(), bp, "{input}");
            assert_eq!(w.to_string(), shown, "{input}");
        }
    }

    #[test]
    fn rejects_out_of_range_and_garbage() {
        assert_eq!(
            "101".parse::<Weight>(),
            Err(WeightError::OverHundred("101".into()))
        );
        assert_eq!(
            "-1".parse::<Weight>(),
            Err(WeightError::Negative("-1".into()))
        );
        assert_eq!(
            "0.001".parse::<Weight>(),
            Err(WeightError::TooFine("0.001".into()))
        );
        assert!(matches!(
            "ten".parse::<Weight>(),
            Err(WeightError::NotANumber(_))
        ));
    }

    #[test]
    fn complement_sums_to_full() {
        let w = Weight::from_basis_points(1234).unwrap();
        assert_eq!(w.basis_points() + w.complement().basis_points(), 10_000);
    }
}
