//! Anytime-valid inference for a share of requests (errors, successes, requests slower than a
//! latency threshold): a confidence sequence that may be looked at after every request while
//! the chance that it ever excludes the true share stays below `1 - confidence`. Pure.
//!
//! The sequence is Robbins' mixture martingale for Bernoulli data with a conjugate Beta(a, b)
//! mixing distribution. With `s` hits among `n` requests, for a candidate share `p`:
//!
//! ```text
//! M_n(p) = B(a + s, b + n - s) / B(a, b)  /  (p^s (1 - p)^(n - s))
//! ```
//!
//! is the likelihood of the data averaged over the Beta distribution, divided by its likelihood
//! at `p`. When `p` is the true share, `M_n(p)` is a non-negative martingale starting at 1, so by
//! Ville's inequality it ever reaches `1/α` with probability at most `α`, whenever and however
//! often it is looked at. The confidence sequence is every `p` with `M_n(p) < 1/α`: an interval
//! (`ln M_n` is convex in `p`), which always holds the observed share (there `M_n <= 1`).
//!
//! A threshold `share <= p0` therefore fails once the interval lies wholly above `p0`, passes
//! once it lies wholly below, and waits while it straddles; the chance of failing a revision
//! whose true share is at or below `p0` is at most `α` over the whole analysis, and so is the
//! chance of passing one above it. Comparisons with the baseline revision use an interval for
//! each revision at `α/2`: both hold together with probability `1 - α`, so the interval of
//! their difference does too.
//!
//! A quantile has a confidence sequence too (Howard & Ramdas, "Sequential estimation of
//! quantiles"): a latency `x` is ruled out as the q-quantile when the sequence of the share of
//! requests at most `x` lies wholly above `q` (the quantile is below `x`) or wholly below it
//! (the quantile is above). The interval's upper end only grows with the count, so an error at
//! any `x` implies one at the true quantile itself, a single share: each side errs with
//! probability at most its share of the risk, so each side gets half of it.
//!
//! The mixing distribution only decides how fast the sequence narrows, never its validity. For
//! a fixed threshold it is centred on the threshold, with the weight of `1/(2 min(p0, 1-p0))`
//! requests (Beta(0.5, 49.5) for 1%): near-optimal for shares close to the threshold, and a
//! share twenty times above it is still caught within a few dozen requests. Comparisons with
//! the baseline, whose scale is not known in advance, use Jeffreys' Beta(0.5, 0.5).

use serde::{Deserialize, Serialize};
use statrs::function::beta::ln_beta;

/// Hits among requests: the evidence for one share.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub hits: u64,
    pub total: u64,
}

impl Tally {
    pub fn new(hits: u64, total: u64) -> Self {
        Self {
            hits: hits.min(total),
            total,
        }
    }

    /// The observed share; `None` without requests.
    pub fn share(self) -> Option<f64> {
        (self.total > 0).then(|| self.hits as f64 / self.total as f64)
    }

    /// What was counted after `origin`, an earlier reading of the same counters. Counters that
    /// went backwards (a source that restarted) count from zero again.
    pub fn since(self, origin: Tally) -> Tally {
        if self.total < origin.total || self.hits < origin.hits {
            return self;
        }
        Tally::new(self.hits - origin.hits, self.total - origin.total)
    }
}

/// A confidence interval for a share, or for a difference of shares.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// The Beta(a, b) distribution the sequence mixes over.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prior {
    a: f64,
    b: f64,
}

impl Prior {
    /// Centred on `threshold`, weighing `1/(2 min(p0, 1-p0))` requests.
    pub fn centred_on(threshold: f64) -> Self {
        let p0 = threshold.clamp(1e-4, 1.0 - 1e-4);
        let weight = 0.5 / p0.min(1.0 - p0);
        Self {
            a: weight * p0,
            b: weight * (1.0 - p0),
        }
    }

    /// Jeffreys' Beta(0.5, 0.5), for shares whose scale is not known in advance.
    pub fn jeffreys() -> Self {
        Self { a: 0.5, b: 0.5 }
    }
}

/// The confidence sequence of one share at one confidence level.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sequence {
    tally: Tally,
    prior: Prior,
    /// `ln(1/α)`: the level `ln M_n` must reach to exclude a share.
    level: f64,
}

impl Sequence {
    /// `confidence` is `1 - α`, e.g. 0.95.
    pub fn new(tally: Tally, prior: Prior, confidence: f64) -> Self {
        let alpha = (1.0 - confidence).clamp(1e-12, 1.0);
        Self {
            tally,
            prior,
            level: (1.0 / alpha).ln(),
        }
    }

    /// `ln M_n(p)`.
    fn log_mixture(&self, p: f64) -> f64 {
        let Prior { a, b } = self.prior;
        let s = self.tally.hits as f64;
        let f = (self.tally.total - self.tally.hits) as f64;
        // 0 * ln 0 is 0: a share of 0 (or 1) explains no hits (or no misses) perfectly.
        let log_lik = |count: f64, q: f64| if count == 0.0 { 0.0 } else { count * q.ln() };
        ln_beta(a + s, b + f) - ln_beta(a, b) - log_lik(s, p) - log_lik(f, 1.0 - p)
    }

    /// Whether the sequence rules `p` out: `M_n(p) >= 1/α`.
    pub fn excludes(&self, p: f64) -> bool {
        self.log_mixture(p) >= self.level
    }

    /// The interval of shares not ruled out; `[0, 1]` without requests.
    pub fn interval(&self) -> Interval {
        let Some(observed) = self.tally.share() else {
            return Interval {
                low: 0.0,
                high: 1.0,
            };
        };
        let low = if self.excludes(0.0) {
            self.boundary(0.0, observed)
        } else {
            0.0
        };
        let high = if self.excludes(1.0) {
            self.boundary(1.0, observed)
        } else {
            1.0
        };
        Interval { low, high }
    }

    /// The share between `outside` (excluded) and `inside` (the observed share, never excluded)
    /// where the sequence's boundary lies, to within 1e-9.
    fn boundary(&self, mut outside: f64, mut inside: f64) -> f64 {
        for _ in 0..64 {
            let mid = (outside + inside) / 2.0;
            if self.excludes(mid) {
                outside = mid;
            } else {
                inside = mid;
            }
            if (inside - outside).abs() < 1e-9 {
                break;
            }
        }
        inside
    }
}

/// Where an interval lies with respect to a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Below,
    Straddles,
    Above,
}

impl Interval {
    pub fn side_of(self, limit: f64) -> Side {
        if self.high < limit {
            Side::Below
        } else if self.low > limit {
            Side::Above
        } else {
            Side::Straddles
        }
    }
}

/// The interval of one revision's share against a fixed threshold, with the prior centred on it.
pub fn share(tally: Tally, threshold: f64, confidence: f64) -> Interval {
    Sequence::new(tally, Prior::centred_on(threshold), confidence).interval()
}

/// Where [`share`]'s interval lies with respect to `threshold`, without computing the interval:
/// the threshold is outside it exactly when the sequence excludes it, and then the interval is
/// on the side of the observed share. This is what decides; the interval is for people.
pub fn side_of_threshold(tally: Tally, threshold: f64, confidence: f64) -> Side {
    let Some(observed) = tally.share() else {
        return Side::Straddles;
    };
    let sequence = Sequence::new(tally, Prior::centred_on(threshold), confidence);
    if !sequence.excludes(threshold) {
        Side::Straddles
    } else if observed > threshold {
        Side::Above
    } else {
        Side::Below
    }
}

/// The interval of `canary - factor * baseline`, each revision's share at half the risk so that
/// both intervals, and so the difference, hold together at `confidence`.
pub fn difference(canary: Tally, baseline: Tally, factor: f64, confidence: f64) -> Interval {
    let half = 1.0 - (1.0 - confidence) / 2.0;
    let c = Sequence::new(canary, Prior::jeffreys(), half).interval();
    let b = Sequence::new(baseline, Prior::jeffreys(), half).interval();
    Interval {
        low: c.low - factor * b.high,
        high: c.high - factor * b.low,
    }
}

/// Requests by latency bucket: `(upper bound, requests)`, ascending, each request in the first
/// bucket whose bound is at least its latency (the router's histogram, read since a revision's
/// first request).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latencies(pub Vec<(u64, u64)>);

impl Latencies {
    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, n)| n).sum()
    }

    /// What was counted after `origin`, an earlier reading of the same histogram; a bucket
    /// that went backwards (a source that restarted) counts from zero again, as a whole.
    pub fn since(&self, origin: &Latencies) -> Latencies {
        let mut out = Vec::with_capacity(self.0.len());
        for &(bound, n) in &self.0 {
            let before = origin
                .0
                .iter()
                .find(|(b, _)| *b == bound)
                .map_or(0, |(_, n)| *n);
            if n < before {
                return self.clone();
            }
            if n > before {
                out.push((bound, n - before));
            }
        }
        Latencies(out)
    }

    /// The observed quantile: the smallest bound with at least that share of requests at or
    /// below it (nearest rank, as the router's histogram answers).
    pub fn observed(&self, quantile: f64) -> u64 {
        let want = quantile * self.total() as f64;
        let mut at_most = 0;
        for &(bound, n) in &self.0 {
            at_most += n;
            if at_most as f64 >= want {
                return bound;
            }
        }
        0
    }

    /// The confidence sequence's interval for the `quantile` (0.99 for p99) at the buckets'
    /// precision (a quantile is the bound of the bucket it falls in): the quantile is at least
    /// the low end and at most the high end (`None` while no bound is ruled out as too large).
    /// A bound ruled out as too small rules out every latency up to the next bucket, where no
    /// request fell.
    pub fn quantile(&self, quantile: f64, confidence: f64) -> (u64, Option<u64>) {
        let total = self.total();
        let half = 1.0 - (1.0 - confidence) / 2.0;
        let prior = Prior::centred_on(quantile);
        let (mut low, mut high) = (0, None);
        let mut at_most = 0;
        for (i, &(bound, n)) in self.0.iter().enumerate() {
            at_most += n;
            let sequence = Sequence::new(Tally::new(at_most, total), prior, half);
            if !sequence.excludes(quantile) {
                continue;
            }
            if (at_most as f64) < quantile * total as f64 {
                low = self.0.get(i + 1).map_or(bound, |(next, _)| *next);
            } else {
                high = Some(bound);
                break;
            }
        }
        (low, high)
    }
}

#[cfg(test)]
mod tests;
