//! The Mann-Whitney U test (Wilcoxon rank-sum) with the normal approximation, tie correction and
//! continuity correction: the same computation as
//! `scipy.stats.mannwhitneyu(x, y, use_continuity=True, method="asymptotic")`.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};

/// The test's statistic and its p-values for each alternative.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MannWhitney {
    /// U of the first sample: how many (x, y) pairs have x > y, ties counting one half.
    pub u: f64,
    /// The first sample tends to be larger.
    pub p_greater: f64,
    /// The first sample tends to be smaller.
    pub p_less: f64,
    pub p_two_sided: f64,
}

/// Compares `x` with `y`. `None` when either is empty or every value is the same, where ranks
/// carry no information. Values must be finite; callers drop the others first.
pub fn mann_whitney(x: &[f64], y: &[f64]) -> Option<MannWhitney> {
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    if x.is_empty() || y.is_empty() {
        return None;
    }
    let mut all: Vec<(f64, bool)> = x
        .iter()
        .map(|v| (*v, true))
        .chain(y.iter().map(|v| (*v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = n1 + n2;
    let mut rank_sum_x = 0.0;
    let mut ties = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        // Tied values share the mean of the ranks they span (ranks are 1-based).
        let rank = (i + j) as f64 / 2.0 + 1.0;
        let t = (j - i + 1) as f64;
        ties += t * t * t - t;
        rank_sum_x += rank * all[i..=j].iter().filter(|(_, from_x)| *from_x).count() as f64;
        i = j + 1;
    }
    let u1 = rank_sum_x - n1 * (n1 + 1.0) / 2.0;
    let u2 = n1 * n2 - u1;
    let mean = n1 * n2 / 2.0;
    let variance = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    if variance <= 0.0 {
        return None;
    }
    let sd = variance.sqrt();
    let normal = Normal::standard();
    let sf = |u: f64| normal.sf((u - mean - 0.5) / sd);
    Some(MannWhitney {
        u: u1,
        p_greater: sf(u1),
        p_less: sf(u2),
        p_two_sided: (2.0 * sf(u1.max(u2))).min(1.0),
    })
}
