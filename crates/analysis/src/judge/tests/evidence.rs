//! The judge on evidence since it began: regressions shown by confidence sequences, with the
//! effect-size guard inside the test; the early failure; and, by seeded simulation under random
//! failures, how rarely identical revisions are called a regression and how soon a real one is.

use bellwether_core::rollout::Verdict;
use bellwether_core::spec::Unit;
use bellwether_core::time::Timestamp;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Binomial, Distribution};

use super::super::{
    Classification, Direction, Evidence, JudgeConfig, JudgedMetric, Series, early, evidence, judge,
};
use crate::sequential::{Latencies, Tally};

/// 12:03:04 UTC on some day.
const SINCE: Timestamp = Timestamp(1_700_049_784_000);

fn rate(direction: Direction, critical: bool) -> JudgedMetric {
    JudgedMetric {
        direction,
        critical,
        min_sample: 50,
        ..JudgedMetric::new("error_rate", Unit::Ratio)
    }
}

fn shares(canary: (u64, u64), baseline: (u64, u64)) -> Evidence {
    let tally = |(hits, total)| Tally::new(hits, total);
    Evidence::of_shares(SINCE, tally(canary), tally(baseline), 0.95)
}

fn classified(metric: &JudgedMetric, e: &Evidence) -> (Classification, String) {
    let j = evidence::classify(metric, e, (0, 0));
    (j.classification, j.message)
}

#[test]
fn a_regression_is_the_canary_beyond_the_guard_with_confidence() {
    use Classification::*;
    use Direction::*;
    type Case = (
        &'static str,
        Direction,
        (u64, u64),
        (u64, u64),
        Classification,
    );
    let cases: [Case; 8] = [
        ("same share", Increase, (10, 1_000), (90, 9_000), Pass),
        ("far above", Increase, (15, 219), (50, 10_000), High),
        (
            "above, but only in the harmful direction",
            Decrease,
            (15, 219),
            (50, 10_000),
            Pass,
        ),
        (
            "one failure in 54 says nothing yet",
            Increase,
            (1, 54),
            (45, 9_000),
            Pass,
        ),
        (
            "a new error class, the baseline clean",
            Either,
            (12, 400),
            (0, 4_000),
            High,
        ),
        (
            "below, harmful when lower",
            Decrease,
            (800, 1_000),
            (9_900, 10_000),
            Low,
        ),
        // 1.5% against 1% over 10,000 each is shown higher, but not 1.1× higher and more.
        (
            "above, within the guard",
            Increase,
            (150, 10_000),
            (100, 10_000),
            Pass,
        ),
        (
            "too few requests to pass",
            Increase,
            (0, 20),
            (10, 1_000),
            NoData,
        ),
    ];
    for (name, direction, canary, baseline, want) in cases {
        let (got, message) = classified(&rate(direction, false), &shares(canary, baseline));
        assert_eq!(got, want, "{name}: {message}");
    }
}

#[test]
fn messages_state_both_intervals_and_the_counts() {
    let metric = rate(Direction::Increase, false);
    let latency = JudgedMetric {
        min_sample: 50,
        ..JudgedMetric::new("latency_p99", Unit::Seconds)
    };
    // 1,000 requests each: the canary's slowest 5% at 400 ms, the baseline's at 100 ms.
    let histogram = |fast: u64, slow: u64| Latencies(vec![(fast, 950), (slow, 50)]);
    let quantiles = Evidence::of_quantiles(
        SINCE,
        0.99,
        &histogram(50_000, 400_000),
        &histogram(50_000, 100_000),
        0.95,
    );
    let messages = [
        classified(&metric, &shares((15, 219), (50, 10_000))).1,
        classified(&metric, &shares((10, 1_000), (90, 9_000))).1,
        classified(&metric, &shares((0, 20), (10, 1_000))).1,
        classified(&latency, &quantiles).1,
    ];
    insta::assert_snapshot!(messages.join("\n"), @"
    error_rate is higher on the canary: 6.849% vs 0.5% (95% CIs 2.306%–14.778% and 0.262%–0.85%; canary 15 of 219, baseline 50 of 10,000 requests since 12:03:04), above 1.1× the baseline
    error_rate passes: 1% vs 1% (95% CIs 0.22%–2.724% and 0.628%–1.495%; canary 10 of 1,000, baseline 90 of 9,000 requests since 12:03:04), no regression beyond 1.1× shown
    error_rate had too few canary requests: 20 since 12:03:04 (at least 50 needed)
    latency_p99 is higher on the canary: 400ms vs 100ms (95% CIs 400ms–400ms and 100ms–100ms; canary 1,000, baseline 1,000 requests since 12:03:04), above 1.1× the baseline
    ");
}

/// A judge of a critical error rate and two latency metrics in another group.
fn config() -> JudgeConfig {
    let latency = |name: &str| JudgedMetric {
        group: "latency".to_owned(),
        ..JudgedMetric::new(name, Unit::Seconds)
    };
    JudgeConfig {
        metrics: vec![
            rate(Direction::Increase, true),
            latency("latency_p50"),
            latency("latency_p99"),
        ],
        ..JudgeConfig::default()
    }
}

fn series(metric: &str, evidence: Option<Evidence>) -> Series {
    Series {
        metric: metric.to_owned(),
        canary: vec![0.1],
        baseline: vec![0.1],
        evidence,
    }
}

#[test]
fn the_judge_fails_early_only_when_no_later_evidence_could_save_the_canary() {
    let bad = shares((15, 219), (50, 10_000));
    let fine = shares((10, 1_000), (90, 9_000));
    let data = |errors: Evidence| {
        vec![
            series("error_rate", Some(errors)),
            series("latency_p50", None),
            series("latency_p99", None),
        ]
    };
    let j = early(&config(), &data(bad)).expect("a critical regression fails at once");
    assert_eq!(j.verdict, Verdict::Failed);
    let classes: Vec<Classification> = j.metrics.iter().map(|m| m.classification).collect();
    assert_eq!(
        classes,
        [
            Classification::High,
            Classification::Undecided,
            Classification::Undecided
        ],
        "metrics tested at the end are not judged yet"
    );
    assert_eq!(early(&config(), &data(fine)), None, "nothing shown yet");

    // Not critical, in a group of half the weight: 50 at best, below the marginal 75.
    let mut lenient = config();
    lenient.metrics[0].critical = false;
    let failed = early(&lenient, &data(bad)).expect("the score cannot reach 75");
    assert_eq!(failed.score, Some(50.0));
    // With the latency group weighing 80, the score may still reach 80: the judge goes on.
    lenient.group_weights = [("latency".to_owned(), 80.0)].into();
    assert_eq!(early(&lenient, &data(bad)), None);
    // At the end, the same evidence and passing latencies: 80, marginal.
    let j = judge(&lenient, &data(bad));
    assert_eq!((j.score, j.verdict), (Some(80.0), Verdict::Inconclusive));
}

/// Simulated judges: `intervals` of 10 s, 10 canary and 90 baseline requests a second, each
/// request failing independently (canary with `canary_p`, baseline with `baseline_p`), the
/// evidence read at the end of every interval. The interval of each judge's first regression.
fn first_regressions(
    runs: usize,
    intervals: u32,
    canary_p: f64,
    baseline_p: f64,
    seed: u64,
) -> Vec<Option<u32>> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let metric = rate(Direction::Increase, true);
    let failures = |rng: &mut SmallRng, n: u64, p: f64| {
        Binomial::new(n, p).expect("a probability").sample(rng)
    };
    (0..runs)
        .map(|_| {
            let (mut c, mut b) = (Tally::default(), Tally::default());
            (1..=intervals).find(|_| {
                // Poisson-like arrivals: 100 ± 10% canary requests an interval.
                let n = rng.random_range(90..=110);
                c = Tally::new(c.hits + failures(&mut rng, n, canary_p), c.total + n);
                let n = rng.random_range(810..=990);
                b = Tally::new(b.hits + failures(&mut rng, n, baseline_p), b.total + n);
                let e = Evidence::of_shares(SINCE, c, b, 0.95);
                evidence::classify(&metric, &e, (0, 0)).classification == Classification::High
            })
        })
        .collect()
}

/// Identical revisions at 1% errors, judged at each of 60 intervals (10 minutes): the
/// confidence sequences hold together with probability 95% at every look, so at most 5% of
/// judges may call a regression; 1,000 judges exceed 8% with probability below 10⁻⁴ if they
/// do. A canary at 5× its baseline is caught in nearly every judge, most within two minutes.
#[test]
fn identical_revisions_are_rarely_called_a_regression_and_a_real_one_is_caught() {
    let healthy = first_regressions(1_000, 60, 0.01, 0.01, 41);
    let false_alarms = healthy.iter().flatten().count();
    assert!(
        false_alarms <= 80,
        "{false_alarms} of 1,000 identical canaries called a regression"
    );
    let bad = first_regressions(1_000, 60, 0.05, 0.01, 42);
    let mut caught: Vec<u32> = bad.iter().flatten().copied().collect();
    assert!(
        caught.len() >= 990,
        "{} of 1,000 canaries at 5× caught",
        caught.len()
    );
    caught.sort_unstable();
    let median = caught[caught.len() / 2];
    assert!(
        median <= 12,
        "median detection after {median} intervals of 10 s"
    );
}
