//! The judge on fixed data: the test against reference values computed independently, the
//! classifications, the score, and the canary-only failure that Kayenta's judge misses.

use bellwether_core::rollout::Verdict;
use bellwether_core::spec::Unit;

use super::{Classification, Direction, JudgeConfig, JudgedMetric, Series, judge, mann_whitney};

const HOLLANDER_WOLFE_X: [f64; 9] = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30];
#[expect(
    clippy::approx_constant,
    reason = "3.14 is a data point of the textbook sample"
)]
const HOLLANDER_WOLFE_Y: [f64; 9] = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
const TIES_X: [f64; 12] = [12., 15., 15., 18., 20., 20., 20., 25., 30., 31., 31., 40.];
const TIES_Y: [f64; 11] = [10., 11., 12., 12., 15., 15., 16., 18., 18., 20., 21.];

/// 40 intervals of a new error class's rate: zero in most, a few percent in 8 of them.
fn mostly_zero_canary() -> Vec<f64> {
    let mut v = vec![0.0; 40];
    for (i, rate) in [
        (3, 0.04),
        (8, 0.05),
        (12, 0.03),
        (17, 0.04),
        (22, 0.06),
        (27, 0.04),
        (33, 0.05),
        (39, 0.03),
    ] {
        v[i] = rate;
    }
    v
}

/// Reference values from SciPy 1.17.1 (NumPy 2.4.6):
/// `scipy.stats.mannwhitneyu(x, y, alternative=ALT, use_continuity=True, method="asymptotic")`
/// for ALT in "greater", "less", "two-sided"; the statistic is U of `x`.
#[test]
fn mann_whitney_matches_scipy() {
    let zeros = [0.0; 40];
    let canary = mostly_zero_canary();
    // (name, x, y, U, p greater, p less, p two-sided)
    type Reference<'a> = (&'a str, &'a [f64], &'a [f64], f64, f64, f64, f64);
    let cases: [Reference; 3] = [
        (
            "Hollander & Wolfe",
            &HOLLANDER_WOLFE_X,
            &HOLLANDER_WOLFE_Y,
            58.0,
            0.06645972909265946,
            0.9442044002897128,
            0.13291945818531892,
        ),
        (
            "ties",
            &TIES_X,
            &TIES_Y,
            104.5,
            0.009244534286401759,
            0.9921898136180324,
            0.018489068572803517,
        ),
        (
            "mostly zero against zero",
            &canary,
            &zeros,
            960.0,
            0.0015966718466811451,
            0.9984962584312974,
            0.0031933436933622903,
        ),
    ];
    for (name, x, y, u, greater, less, two_sided) in cases {
        let t = mann_whitney(x, y).unwrap();
        // The normal tail comes from statrs here and from SciPy there; they agree to ~1e-10.
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs();
        assert_eq!(t.u, u, "{name}: U");
        assert!(
            close(t.p_greater, greater),
            "{name}: greater {}",
            t.p_greater
        );
        assert!(close(t.p_less, less), "{name}: less {}", t.p_less);
        assert!(
            close(t.p_two_sided, two_sided),
            "{name}: two-sided {}",
            t.p_two_sided
        );
    }
}

#[test]
fn mann_whitney_needs_two_samples_that_differ_somewhere() {
    assert_eq!(mann_whitney(&[], &[1.0]), None);
    assert_eq!(mann_whitney(&[1.0, 1.0], &[1.0]), None);
}

fn metric(name: &str, direction: Direction) -> JudgedMetric {
    JudgedMetric {
        direction,
        ..JudgedMetric::new(name, Unit::Ratio)
    }
}

fn series(name: &str, canary: &[f64], baseline: &[f64]) -> Series {
    Series {
        metric: name.to_owned(),
        canary: canary.to_vec(),
        baseline: baseline.to_vec(),
        evidence: None,
    }
}

/// Steady values around `level`, with a little deterministic jitter.
fn steady(level: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| level * (1.0 + 0.02 * ((i * 7 % 5) as f64 - 2.0)))
        .collect()
}

#[test]
fn classifications() {
    use Classification::*;
    use Direction::*;
    type Case = (&'static str, Direction, Vec<f64>, Vec<f64>, Classification);
    let cases: [Case; 9] = [
        (
            "same level",
            Increase,
            steady(0.01, 30),
            steady(0.01, 30),
            Pass,
        ),
        (
            "clearly higher",
            Increase,
            steady(0.05, 30),
            steady(0.01, 30),
            High,
        ),
        (
            "higher, but only lower is harmful",
            Decrease,
            steady(0.05, 30),
            steady(0.01, 30),
            Pass,
        ),
        (
            "clearly lower",
            Decrease,
            steady(0.85, 30),
            steady(0.99, 30),
            Low,
        ),
        (
            "either catches lower",
            Either,
            steady(0.85, 30),
            steady(0.99, 30),
            Low,
        ),
        // Significant, but 3% apart: the effect-size guard (10%) lets it pass.
        (
            "significant but small",
            Increase,
            steady(0.0103, 30),
            steady(0.01, 30),
            Pass,
        ),
        ("no canary data", Increase, vec![], steady(0.01, 30), NoData),
        (
            "gaps are not data",
            Increase,
            vec![f64::NAN; 5],
            steady(0.01, 30),
            NoData,
        ),
        (
            "constant on both",
            Increase,
            vec![0.0; 30],
            vec![0.0; 30],
            Pass,
        ),
    ];
    for (name, direction, canary, baseline, want) in cases {
        let config = JudgeConfig {
            metrics: vec![metric("m", direction)],
            ..JudgeConfig::default()
        };
        let j = judge(&config, &[series("m", &canary, &baseline)]);
        assert_eq!(
            j.metrics[0].classification, want,
            "{name}: {}",
            j.metrics[0].message
        );
    }
}

/// Kayenta's blind spot: a failure only the canary has. A new error class on a few percent of
/// the canary's requests gives a mostly-zero series against a baseline of zeros, or no baseline
/// series at all. Both must fail the judgement, and an unchanged canary must pass.
#[test]
fn a_failure_only_on_the_canary_fails() {
    let new_errors = JudgedMetric {
        critical: true,
        ..metric("errors_new_class", Direction::Increase)
    };
    let config = JudgeConfig {
        metrics: vec![new_errors, metric("latency_p99", Direction::Increase)],
        ..JudgeConfig::default()
    };
    let latency = series("latency_p99", &steady(0.12, 40), &steady(0.12, 40));

    let zeros = series("errors_new_class", &mostly_zero_canary(), &[0.0; 40]);
    let j = judge(&config, &[zeros, latency.clone()]);
    assert_eq!(j.verdict, Verdict::Failed);
    assert_eq!(j.score, Some(0.0));
    insta::assert_snapshot!(j.message, @"critical metric regressed: errors_new_class is higher on the canary: mean 0.85% vs 0% over 40 and 40 points, p = 0.0016 at 95% confidence");

    let absent = series("errors_new_class", &mostly_zero_canary(), &[]);
    let j = judge(&config, &[absent, latency.clone()]);
    assert_eq!(j.verdict, Verdict::Failed);
    insta::assert_snapshot!(j.message, @"critical metric regressed: errors_new_class appears only on the canary: 8 of 40 points above zero, mean 0.85% vs no data over 40 and 0 points");

    let healthy = series("errors_new_class", &[0.0; 40], &[]);
    let j = judge(&config, &[healthy, latency]);
    assert_eq!(j.verdict, Verdict::Successful, "{}", j.message);
}

#[test]
fn groups_weights_and_thresholds_make_the_score() {
    let grouped = |name: &str, group: &str| JudgedMetric {
        group: group.to_owned(),
        ..metric(name, Direction::Increase)
    };
    let ok = |name: &str| series(name, &steady(0.01, 30), &steady(0.01, 30));
    let bad = |name: &str| series(name, &steady(0.05, 30), &steady(0.01, 30));
    let metrics = vec![
        grouped("e1", "errors"),
        grouped("e2", "errors"),
        grouped("l1", "latency"),
        grouped("l2", "latency"),
        grouped("r1", "resources"),
    ];
    let config = |weights: &[(&str, f64)]| JudgeConfig {
        group_weights: weights.iter().map(|(g, w)| ((*g).to_owned(), *w)).collect(),
        metrics: metrics.clone(),
        ..JudgeConfig::default()
    };
    // (weights, data, score, verdict)
    let cases = [
        (
            vec![],
            vec![ok("e1"), ok("e2"), ok("l1"), ok("l2"), ok("r1")],
            100.0,
            Verdict::Successful,
        ),
        // Unlisted groups share the rest equally: each third of 100; errors scores 50.
        (
            vec![],
            vec![ok("e1"), bad("e2"), ok("l1"), ok("l2"), ok("r1")],
            250.0 / 3.0,
            Verdict::Inconclusive,
        ),
        (
            vec![("errors", 60.0)],
            vec![ok("e1"), bad("e2"), ok("l1"), ok("l2"), ok("r1")],
            70.0,
            Verdict::Failed,
        ),
        (
            vec![("errors", 10.0)],
            vec![ok("e1"), bad("e2"), ok("l1"), ok("l2"), ok("r1")],
            95.0,
            Verdict::Successful,
        ),
        // A group without data neither scores nor counts as zero.
        (
            vec![("resources", 50.0)],
            vec![ok("e1"), ok("e2"), ok("l1"), ok("l2")],
            100.0,
            Verdict::Successful,
        ),
    ];
    for (weights, data, score, verdict) in cases {
        let j = judge(&config(&weights), &data);
        let got = j.score.unwrap();
        assert!(
            (got - score).abs() < 1e-9,
            "{weights:?}: score {got}, want {score}"
        );
        assert_eq!(j.verdict, verdict, "{weights:?}: {}", j.message);
    }
    let j = judge(&config(&[]), &[]);
    assert_eq!((j.score, j.verdict), (None, Verdict::Inconclusive));
}

#[test]
fn judgements_are_data() {
    let config = JudgeConfig {
        metrics: vec![metric("m", Direction::Increase)],
        ..JudgeConfig::default()
    };
    let j = judge(
        &config,
        &[series("m", &steady(0.05, 30), &steady(0.01, 30))],
    );
    let json = serde_json::to_value(&j).unwrap();
    assert_eq!(json["verdict"], "failed");
    assert_eq!(json["metrics"][0]["classification"], "high");
    insta::assert_snapshot!(j.message, @"score 0 (fail; pass at 95, marginal at 75): m is higher on the canary: mean 5% vs 1% over 30 and 30 points, p < 0.0001 at 95% confidence");
}

mod evidence;
