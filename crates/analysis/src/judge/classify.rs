//! One metric: canary against baseline, by the test's p-value in the harmful direction and the
//! mean ratio.

use bellwether_core::spec::Unit;

use super::{Classification, Direction, JudgedMetric, MetricJudgement, Series, mann_whitney};

pub(super) fn classify(spec: &JudgedMetric, series: &Series, alpha: f64) -> MetricJudgement {
    // Non-finite points are gaps (a ratio over no requests), not observations.
    let finite = |v: &[f64]| -> Vec<f64> { v.iter().copied().filter(|x| x.is_finite()).collect() };
    let (canary, baseline) = (finite(&series.canary), finite(&series.baseline));
    let mut j = MetricJudgement {
        metric: spec.name.clone(),
        group: spec.group.clone(),
        critical: spec.critical,
        classification: Classification::Pass,
        canary_points: canary.len(),
        baseline_points: baseline.len(),
        canary_mean: mean(&canary),
        baseline_mean: mean(&baseline),
        ratio: None,
        p_value: None,
        message: String::new(),
        evidence: None,
    };
    let name = &spec.name;
    let show = |v: Option<f64>| v.map_or("no data".to_owned(), |v| spec.unit.format(v));
    let means = format!(
        "mean {} vs {} over {} and {} points",
        show(j.canary_mean),
        show(j.baseline_mean),
        canary.len(),
        baseline.len()
    );
    let harmful_up = matches!(spec.direction, Direction::Increase | Direction::Either);
    if canary.is_empty() {
        j.classification = Classification::NoData;
        j.message = format!("{name}: no canary data");
        return j;
    }
    if baseline.is_empty() {
        // A signal the baseline never produced, such as a new error class: Kayenta ignores it.
        let nonzero = canary.iter().filter(|v| **v != 0.0).count();
        (j.classification, j.message) = if nonzero > 0 && harmful_up {
            j.ratio = Some(f64::INFINITY);
            let m = format!(
                "{name} appears only on the canary: {nonzero} of {} points above zero, {means}",
                canary.len()
            );
            (Classification::High, m)
        } else if nonzero == 0 {
            (
                Classification::Pass,
                format!("{name}: zero on the canary, absent on the baseline"),
            )
        } else {
            (Classification::NoData, format!("{name}: no baseline data"))
        };
        return j;
    }
    let (c, b) = (j.canary_mean.unwrap_or(0.0), j.baseline_mean.unwrap_or(0.0));
    let ratio = match (c, b) {
        (c, b) if b > 0.0 => c / b,
        (c, _) if c > 0.0 => f64::INFINITY,
        _ => 1.0,
    };
    j.ratio = Some(ratio);
    let Some(test) = mann_whitney(&canary, &baseline) else {
        j.message = format!("{name}: the same value throughout on both, {means}");
        return j;
    };
    let high = harmful_up && ratio >= spec.min_ratio;
    let low = matches!(spec.direction, Direction::Decrease | Direction::Either)
        && ratio <= 1.0 / spec.min_ratio;
    // Either direction is tested two-sided; a single harmful direction one-sided.
    let p = |one_sided: f64| match spec.direction {
        Direction::Either => test.p_two_sided,
        Direction::Increase | Direction::Decrease => one_sided,
    };
    let confidence = Unit::Ratio.format(1.0 - alpha);
    if high && test.u > mean_u(&canary, &baseline) && p(test.p_greater) < alpha {
        j.p_value = Some(p(test.p_greater));
        j.classification = Classification::High;
        j.message = format!(
            "{name} is higher on the canary: {means}, {} at {confidence} confidence",
            p_text(p(test.p_greater))
        );
    } else if low && test.u < mean_u(&canary, &baseline) && p(test.p_less) < alpha {
        j.p_value = Some(p(test.p_less));
        j.classification = Classification::Low;
        j.message = format!(
            "{name} is lower on the canary: {means}, {} at {confidence} confidence",
            p_text(p(test.p_less))
        );
    } else {
        let one_sided = if harmful_up {
            test.p_greater
        } else {
            test.p_less
        };
        j.p_value = Some(p(one_sided));
        j.message = format!("{name} passes: {means}, {}", p_text(p(one_sided)));
    }
    j
}

/// A metric tested only once, after the last interval, before it: not judged yet.
pub(super) fn undecided(spec: &JudgedMetric, points: (usize, usize)) -> MetricJudgement {
    MetricJudgement {
        metric: spec.name.clone(),
        group: spec.group.clone(),
        critical: spec.critical,
        classification: Classification::Undecided,
        canary_points: points.0,
        baseline_points: points.1,
        canary_mean: None,
        baseline_mean: None,
        ratio: None,
        p_value: None,
        message: format!("{}: tested after the last interval", spec.name),
        evidence: None,
    }
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// U when neither sample tends to be larger.
fn mean_u(x: &[f64], y: &[f64]) -> f64 {
    x.len() as f64 * y.len() as f64 / 2.0
}

/// `p = 0.0016`, or `p < 0.0001` where four decimals would read as zero.
pub(crate) fn p_text(p: f64) -> String {
    if p < 0.0001 {
        "p < 0.0001".to_owned()
    } else {
        format!("p = {p:.4}")
    }
}
