//! The judge within a run, on scripted samples: its schedule, points and gaps, errors, and the
//! messages of the verdicts the engine tests do not reach.

use std::collections::BTreeMap;
use std::time::Duration;

use bellwether_core::spec::{
    BuiltinMetric, Direction, JudgeSpec, JudgedMetricSpec, MetricSpec, ProviderSpec, Unit,
};
use bellwether_core::time::Timestamp;

use super::{JudgePlan, Sampled};
use crate::judge::Classification;
use crate::run::{Mode, Phase, Run};
use crate::sequential::Tally;
use crate::value::{Observation, Role, Value};

fn metric(name: &str) -> MetricSpec {
    let builtin = BuiltinMetric::from_name(name).expect("a builtin metric");
    MetricSpec {
        name: name.to_owned(),
        provider: ProviderSpec::Builtin {
            metric: builtin,
            window: Duration::from_secs(30),
            slower_than: None,
        },
        unit: builtin.unit(),
        interval: Duration::from_secs(1),
        count: None,
        initial_delay: Duration::ZERO,
        success: None,
        failure: None,
        failure_limit: 0,
        inconclusive_limit: 0,
        consecutive_error_limit: 1,
        dry_run: false,
        min_sample: 50,
        evidence: bellwether_core::spec::Evidence::Window,
        confidence: bellwether_core::spec::DEFAULT_CONFIDENCE,
        inconclusive: bellwether_core::spec::Inconclusive::Pause,
    }
}

/// A judge of `error_rate` and `latency_p99` (critical or not), three intervals of 10s.
fn plan(latency_critical: bool) -> JudgePlan {
    let judged = |name: &str, critical| JudgedMetricSpec {
        metric: name.to_owned(),
        direction: Direction::Increase,
        critical,
        group: "default".to_owned(),
        min_ratio: 1.1,
    };
    let spec = JudgeSpec {
        interval: Duration::from_secs(10),
        count: 3,
        confidence: 0.95,
        pass_score: 95.0,
        marginal_score: 75.0,
        group_weights: BTreeMap::new(),
        metrics: vec![
            judged("error_rate", false),
            judged("latency_p99", latency_critical),
        ],
    };
    JudgePlan::new(&spec, vec![metric("error_rate"), metric("latency_p99")])
}

fn traffic(value: f64, requests: u64) -> Observation {
    Observation::number(value).with_sample(requests, Duration::from_secs(10))
}

fn observed(canary: Observation, baseline: Observation) -> Sampled {
    Sampled::Observed { canary, baseline }
}

/// One interval where both metrics are the same on both revisions.
fn steady() -> Vec<(usize, Sampled)> {
    vec![
        (0, observed(traffic(0.01, 500), traffic(0.01, 500))),
        (1, observed(traffic(0.12, 500), traffic(0.12, 500))),
    ]
}

#[test]
fn the_judge_samples_at_the_end_of_each_interval_until_it_has_its_count() {
    let plan = plan(false);
    assert_eq!(
        plan.metrics[0].provider,
        ProviderSpec::Builtin {
            metric: BuiltinMetric::ErrorRate,
            window: Duration::from_secs(10),
            slower_than: None,
        },
        "a builtin point covers its interval"
    );
    // Without metrics the run would be successful at once; with the judge it waits for it.
    let mut run = Run::new(vec![], Mode::Blocking, Timestamp(5_000)).with_judge(plan);
    assert_eq!(run.phase, Phase::Running);
    let progress = |run: &Run| run.judge.as_ref().map(|j| j.message.clone());
    assert_eq!(
        progress(&run).as_deref(),
        Some("judge: 0 of 3 intervals of 10s sampled")
    );
    let mut due = Vec::new();
    while let Some(at) = run.next_due() {
        due.push(at.as_millis());
        run.record_judge(steady());
        if due.len() == 2 {
            assert_eq!(
                progress(&run).as_deref(),
                Some("judge: 1 of 3 intervals of 10s sampled")
            );
        }
    }
    assert_eq!(
        due,
        [5_000, 15_000, 25_000, 35_000],
        "an opening sample, then one at the end of each interval"
    );
    assert_eq!(run.phase, Phase::Successful);
    assert_eq!(
        run.message,
        "judge score 100/100 >= 95 over 3 intervals of 10s"
    );
    let judge = run.judge.as_ref().expect("a judge");
    assert!(judge.wanted().is_empty());
    assert_eq!(judge.series[1].canary, [Some(0.12); 3]);
    // Recorded runs are data, gaps and all, and read back the same.
    let json = serde_json::to_string(&run).expect("serializable");
    assert_eq!(serde_json::from_str::<Run>(&json).expect("readable"), run);
}

#[test]
fn points_gaps_and_errors() {
    let no_data = || Observation::no_data("no requests completed").with_sample(0, Duration::ZERO);
    // (name, the error_rate sample of one interval, canary and baseline points, errors)
    type Points = Vec<Option<f64>>;
    let cases: Vec<(&str, Sampled, Points, Points, u32)> = vec![
        (
            "a point on each side",
            observed(traffic(0.02, 500), traffic(0.01, 900)),
            vec![Some(0.02)],
            vec![Some(0.01)],
            0,
        ),
        (
            "fewer requests than the minimum sample is a gap",
            observed(traffic(0.5, 4), traffic(0.01, 900)),
            vec![None],
            vec![Some(0.01)],
            0,
        ),
        (
            "no data is a gap",
            observed(traffic(0.01, 900), no_data()),
            vec![Some(0.01)],
            vec![None],
            0,
        ),
        (
            "a provider error leaves no point",
            Sampled::Failed {
                role: Role::Canary,
                error: "connection refused".to_owned(),
            },
            vec![],
            vec![],
            1,
        ),
        (
            "a value that is no number is an error",
            observed(
                Observation::value(Value::Text("fast".to_owned())),
                traffic(0.01, 900),
            ),
            vec![],
            vec![],
            1,
        ),
    ];
    for (name, sample, canary, baseline, errors) in cases {
        let mut run = Run::new(vec![], Mode::Blocking, Timestamp(0)).with_judge(plan(false));
        run.record_judge(vec![]); // The opening sample.
        run.record_judge(vec![(0, sample)]);
        let s = &run.judge.as_ref().expect("a judge").series[0];
        assert_eq!(
            (&s.canary, &s.baseline, s.errors),
            (&canary, &baseline, errors),
            "{name}"
        );
        assert_eq!(run.phase, Phase::Running, "{name}");
    }
}

#[test]
fn messages_of_verdicts_without_enough_data() {
    let text = || Observation::value(Value::Text("fast".to_owned()));
    let few = || traffic(0.2, 10);
    let cases: Vec<(bool, Vec<(usize, Sampled)>)> = vec![
        // Every canary point short of the minimum sample.
        (
            false,
            vec![
                (0, observed(few(), traffic(0.01, 900))),
                (1, observed(few(), traffic(0.12, 900))),
            ],
        ),
        // A critical metric without data cannot pass, whatever the score.
        (
            true,
            vec![
                (0, observed(traffic(0.01, 900), traffic(0.01, 900))),
                (1, observed(few(), traffic(0.12, 900))),
            ],
        ),
        // Two errors in a row, past the limit of one.
        (false, vec![(1, observed(text(), traffic(0.12, 900)))]),
    ];
    let messages: Vec<String> = cases
        .into_iter()
        .map(|(critical, interval)| {
            let mut run = Run::new(vec![], Mode::Blocking, Timestamp(0)).with_judge(plan(critical));
            while run.next_due().is_some() {
                run.record_judge(interval.clone());
            }
            format!("{:?}: {}", run.phase, run.message)
        })
        .collect();
    insta::assert_snapshot!(messages.join("\n"), @r#"
    Inconclusive: judge inconclusive: no metric had data on both the canary and the baseline: error_rate had no canary data (no data or fewer than 50 requests in 3 of 3 intervals); latency_p99 had no canary data (no data or fewer than 50 requests in 3 of 3 intervals)
    Inconclusive: judge score 100/100, but a critical metric has no data: latency_p99 had no canary data (no data or fewer than 50 requests in 3 of 3 intervals, critical)
    Error: judge: latency_p99: measuring the canary failed: the judge compares numbers, and "fast" is not one (2 errors in a row, more than the 1 tolerated)
    "#);
}

#[test]
fn the_judge_decides_its_part_of_the_run() {
    // In a background run (a rolling update's analysis) a passing judge is done, and the run
    // goes on with its metrics; a failing one ends the run, whatever the metrics say.
    let mut run = Run::new(vec![metric("error_rate")], Mode::Background, Timestamp(0))
        .with_judge(plan(false));
    while run.judge_due_at().is_some() {
        run.record_judge(steady());
    }
    assert_eq!(run.judge.as_ref().map(|j| j.phase), Some(Phase::Successful));
    assert_eq!(run.phase, Phase::Running);
    assert_eq!(
        run.next_due(),
        Some(Timestamp(0)),
        "the metric is still due"
    );

    let worse = || {
        vec![
            (0, observed(traffic(0.01, 500), traffic(0.01, 500))),
            (1, observed(traffic(0.5, 500), traffic(0.12, 500))),
        ]
    };
    let mut run = Run::new(vec![metric("error_rate")], Mode::Background, Timestamp(0))
        .with_judge(plan(false));
    while run.judge_due_at().is_some() {
        run.record_judge(worse());
    }
    assert_eq!(run.phase, Phase::Failed);
    insta::assert_snapshot!(run.message, @"judge score 50/100 < 75: latency_p99 regressed (canary mean 500ms vs baseline 120ms, p = 0.0234)");
}

#[test]
fn units_follow_the_service_metrics() {
    let plan = plan(false);
    let units: Vec<Unit> = plan.config.metrics.iter().map(|m| m.unit).collect();
    assert_eq!(units, [Unit::Ratio, Unit::Seconds]);
}

/// An interval of `error_rate` read as running counts (the canary's and the baseline's totals
/// so far), with an unchanged `latency_p99` beside it.
fn counted(canary: (u64, u64), baseline: (u64, u64)) -> Vec<(usize, Sampled)> {
    let counts = |(hits, total): (u64, u64)| traffic(0.0, 500).with_tally(Tally::new(hits, total));
    vec![
        (0, observed(counts(canary), counts(baseline))),
        (1, observed(traffic(0.12, 500), traffic(0.12, 500))),
    ]
}

#[test]
fn counted_metrics_are_judged_on_everything_since_the_judge_began() {
    // The baseline served 50,000 requests before the judge began, 100 of them failed: the
    // opening sample is the origin, and only what follows counts. Then each interval the
    // canary serves 100 requests (10 failing), the baseline 900 (9 failing).
    let opening = ((0, 0), (100, 50_000));
    let interval = |n: u64, canary_errors: u64| {
        counted(
            (canary_errors * n, 100 * n),
            (100 + 9 * n, 50_000 + 900 * n),
        )
    };
    let mut run = Run::new(vec![], Mode::Blocking, Timestamp(0)).with_judge(plan(false));
    run.record_judge(counted(opening.0, opening.1));
    run.record_judge(interval(1, 10));
    let judge = run.judge.as_ref().expect("a judge");
    let evidence = judge.series[0]
        .evidence
        .expect("counted since the opening sample");
    assert_eq!(
        (evidence.canary.requests, evidence.baseline.requests),
        (100, 900)
    );
    assert_eq!(
        run.phase,
        Phase::Running,
        "10 of 100 is not yet beyond 1.1× of 9 of 900"
    );
    run.record_judge(interval(2, 10));
    assert_eq!(
        run.phase,
        Phase::Failed,
        "a regression fails before the last interval"
    );
    insta::assert_snapshot!(run.message, @"judge score 50/100 < 75 after 2 of 3 intervals, even counting the metrics not judged yet as passing: error_rate regressed (10% vs 1% (95% CIs 4.046%–19.37% and 0.338%–2.212%; canary 20 of 200, baseline 18 of 1,800 requests since 00:00:00))");

    // The same canary failing as often as the baseline passes, after the last interval.
    let mut run = Run::new(vec![], Mode::Blocking, Timestamp(0)).with_judge(plan(false));
    run.record_judge(counted(opening.0, opening.1));
    for n in 1..=3 {
        run.record_judge(interval(n, 1));
    }
    assert_eq!(run.phase, Phase::Successful);
    let judgement = run.judge.as_ref().and_then(|j| j.judgement.clone());
    let first = &judgement.expect("a judgement").metrics[0];
    assert_eq!(first.classification, Classification::Pass);
    insta::assert_snapshot!(first.message, @"error_rate passes: 1% vs 1% (95% CIs 0.04%–4.745% and 0.418%–1.959%; canary 3 of 300, baseline 27 of 2,700 requests since 00:00:00), no regression beyond 1.1× shown");
}
