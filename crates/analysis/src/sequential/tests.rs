use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::*;

fn close(got: f64, want: f64) {
    assert!((got - want).abs() < 1e-6, "got {got}, want {want}");
}

/// Intervals checked against SciPy: `betaln` for `ln M_n` and `brentq` for the boundaries,
/// with the prior `Beta(0.5, 49.5)` of a 1% threshold.
#[test]
fn intervals_match_scipy() {
    let cases = [
        ((9, 219), 0.011031799935466496, 0.10030198052059017),
        ((0, 500), 0.0, 0.008367888785300051),
        ((1, 54), 0.00016997661610557082, 0.11599783096454615),
        ((5, 1000), 0.0009123212851576523, 0.014806048321394932),
        ((3, 10), 0.007802931271420213, 0.8683069917485019),
    ];
    for ((hits, total), low, high) in cases {
        let i = share(Tally::new(hits, total), 0.01, 0.95);
        close(i.low, low);
        close(i.high, high);
    }
    let jeffreys = Sequence::new(Tally::new(9, 219), Prior::jeffreys(), 0.975).interval();
    close(jeffreys.low, 0.009179658679910361);
    close(jeffreys.high, 0.10880115442717425);
}

#[test]
fn an_interval_always_holds_the_observed_share_and_narrows_with_evidence() {
    let none = share(Tally::default(), 0.01, 0.95);
    assert_eq!((none.low, none.high), (0.0, 1.0));
    let mut width = f64::INFINITY;
    for total in [100, 1_000, 10_000, 100_000] {
        let t = Tally::new(total / 50, total);
        let i = share(t, 0.01, 0.95);
        assert!(i.low <= 0.02 && 0.02 <= i.high, "{i:?}");
        assert!(i.high - i.low < width);
        width = i.high - i.low;
    }
    // Every request a hit, or none: the interval reaches 1, or 0.
    assert_eq!(share(Tally::new(40, 40), 0.01, 0.95).high, 1.0);
    assert_eq!(share(Tally::new(0, 40), 0.01, 0.95).low, 0.0);
}

#[test]
fn one_failure_in_fifty_four_requests_decides_nothing_against_one_percent() {
    assert_eq!(
        share(Tally::new(1, 54), 0.01, 0.95).side_of(0.01),
        Side::Straddles
    );
    assert_eq!(
        share(Tally::new(9, 219), 0.01, 0.95).side_of(0.01),
        Side::Above
    );
    assert_eq!(
        share(Tally::new(0, 500), 0.01, 0.95).side_of(0.01),
        Side::Below
    );
}

#[test]
fn the_quick_decision_agrees_with_the_interval() {
    let mut rng = SmallRng::seed_from_u64(7);
    for _ in 0..2_000 {
        let total = rng.random_range(0..3_000);
        let hits = rng.random_range(0..=total / 10);
        let threshold = [0.0, 0.001, 0.01, 0.05, 0.5][rng.random_range(0..5)];
        let t = Tally::new(hits, total);
        assert_eq!(
            side_of_threshold(t, threshold, 0.95),
            share(t, threshold, 0.95).side_of(threshold),
            "{t:?} against {threshold}"
        );
    }
}

#[test]
fn a_threshold_of_zero_fails_at_the_first_hit_and_never_passes() {
    assert_eq!(
        share(Tally::new(0, 100_000), 0.0, 0.95).side_of(0.0),
        Side::Straddles
    );
    assert_eq!(
        share(Tally::new(1, 100_000), 0.0, 0.95).side_of(0.0),
        Side::Above
    );
}

#[test]
fn readings_subtract_their_origin_and_restart_after_a_reset() {
    let origin = Tally::new(3, 100);
    assert_eq!(Tally::new(5, 150).since(origin), Tally::new(2, 50));
    assert_eq!(Tally::new(1, 20).since(origin), Tally::new(1, 20));
    assert_eq!(Tally::new(7, 5), Tally::new(5, 5));
}

#[test]
fn a_difference_holds_both_revisions_at_half_the_risk() {
    let d = difference(Tally::new(9, 219), Tally::new(20, 2_000), 1.0, 0.95);
    let c = Sequence::new(Tally::new(9, 219), Prior::jeffreys(), 0.975).interval();
    let b = Sequence::new(Tally::new(20, 2_000), Prior::jeffreys(), 0.975).interval();
    close(d.low, c.low - b.high);
    close(d.high, c.high - b.low);
    let doubled = difference(Tally::new(9, 219), Tally::new(20, 2_000), 2.0, 0.95);
    close(doubled.low, c.low - 2.0 * b.high);
}

/// Requests of a revision whose true share is `p`: the first request at which the sequence
/// rules `p` out, if it does within `n` requests.
fn first_miss(rng: &mut SmallRng, p: f64, prior: Prior, n: u64) -> Option<u64> {
    let mut tally = Tally::default();
    for i in 1..=n {
        tally.total += 1;
        tally.hits += u64::from(rng.random_bool(p));
        if Sequence::new(tally, prior, 0.95).excludes(p) {
            return Some(i);
        }
    }
    None
}

/// The guarantee itself, by seeded simulation: looking after every one of 2,000 requests, the
/// sequence rules out the true share in at most 5% of runs. Over 1,000 runs the observed share
/// of such runs exceeds 8% with probability below 1e-4 even if the true rate were the full 5%
/// (a binomial tail), so this test does not fail by bad luck.
#[test]
fn the_true_share_is_ruled_out_in_at_most_five_percent_of_runs_however_often_one_looks() {
    let mut rng = SmallRng::seed_from_u64(12);
    for (p, prior) in [
        (0.005, Prior::centred_on(0.01)),
        (0.01, Prior::centred_on(0.01)),
        (0.05, Prior::centred_on(0.01)),
        (0.2, Prior::jeffreys()),
    ] {
        let runs = 1_000;
        let missed = (0..runs)
            .filter(|_| first_miss(&mut rng, p, prior, 2_000).is_some())
            .count();
        let rate = missed as f64 / runs as f64;
        assert!(
            rate <= 0.08,
            "p {p}: the true share was ruled out in {rate} of runs"
        );
    }
}

/// Buckets 1% wide, as the router's histogram: a latency in microseconds to its bucket's bound.
fn bucket(micros: f64) -> u64 {
    1.01f64.powf(micros.max(1.0).ln() / 1.01f64.ln()).ceil() as u64
}

fn latencies(samples: &[u64]) -> Latencies {
    let mut counts: std::collections::BTreeMap<u64, u64> = Default::default();
    for s in samples {
        *counts.entry(*s).or_default() += 1;
    }
    Latencies(counts.into_iter().collect())
}

#[test]
fn a_quantile_interval_brackets_the_observed_quantile_and_narrows() {
    let samples: Vec<u64> = (1..=1_000).collect();
    let (low, high) = latencies(&samples).quantile(0.5, 0.95);
    assert!(
        low <= 500 && high.is_some_and(|h| h >= 500),
        "{low} {high:?}"
    );
    let more: Vec<u64> = (1..=100_000).map(|i| i / 100 + 1).collect();
    let (low2, high2) = latencies(&more).quantile(0.5, 0.95);
    assert!(high2.unwrap() - low2 < high.unwrap() - low);
    // Too few requests to bound a p99 from above.
    assert_eq!(latencies(&samples[..50]).quantile(0.99, 0.95).1, None);
}

#[test]
fn readings_of_latencies_subtract_their_origin() {
    let origin = Latencies(vec![(10, 5), (20, 1)]);
    let now = Latencies(vec![(10, 7), (20, 1), (40, 3)]);
    assert_eq!(now.since(&origin), Latencies(vec![(10, 2), (40, 3)]));
    assert_eq!(origin.since(&now), origin);
}

/// The quantile's guarantee by seeded simulation: log-normal latencies in 1%-wide buckets, the
/// interval looked at every 50 requests up to 2,000; the true p99 falls outside it in at most 5%
/// of runs. Over 300 runs, more than 10% would happen with probability below 1e-3 even at 5%.
#[test]
fn the_true_quantile_is_outside_its_interval_in_at_most_five_percent_of_runs() {
    use rand_distr::{Distribution, LogNormal};
    let mut rng = SmallRng::seed_from_u64(3);
    let lognormal = LogNormal::new(50_000f64.ln(), 0.5).unwrap();
    // The true p99 of the bucketed distribution: exp(mu + 2.326 sigma), bucketed.
    let p99 = bucket(50_000.0 * (2.326_f64 * 0.5).exp());
    let runs = 300;
    let mut missed = 0;
    for _ in 0..runs {
        let mut counts: std::collections::BTreeMap<u64, u64> = Default::default();
        for i in 1..=2_000 {
            let b = bucket(lognormal.sample(&mut rng));
            *counts.entry(b).or_default() += 1;
            if i % 50 != 0 {
                continue;
            }
            let (low, high) = Latencies(counts.clone().into_iter().collect()).quantile(0.99, 0.95);
            if low > p99 || high.is_some_and(|h| h < p99) {
                missed += 1;
                break;
            }
        }
    }
    let rate = f64::from(missed) / f64::from(runs);
    assert!(rate <= 0.10, "the true p99 was ruled out in {rate} of runs");
}
