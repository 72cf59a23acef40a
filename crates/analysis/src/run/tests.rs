//! Every run-semantics rule as a table: a metric's settings, a script of measurement outcomes,
//! and the phase the metric and the run end in.

use std::time::Duration;

use bellwether_core::rollout::Verdict;
use bellwether_core::spec::{
    BuiltinMetric, Condition, ConditionOp, Evidence, Inconclusive, MetricSpec, Operand,
    ProviderSpec, Unit,
};
use bellwether_core::time::Timestamp;

use super::{Mode, Observed, Phase, Run};
use crate::condition::Conditions;
use crate::measurement::{Measurement, Waiting};
use crate::sequential::{Latencies, Tally};
use crate::value::{Observation, Role};

fn spec(name: &str) -> MetricSpec {
    MetricSpec {
        name: name.to_owned(),
        provider: ProviderSpec::Builtin {
            metric: BuiltinMetric::ErrorRate,
            window: Duration::from_secs(30),
            slower_than: None,
        },
        unit: Unit::Ratio,
        interval: Duration::from_secs(1),
        count: None,
        initial_delay: Duration::ZERO,
        success: None,
        failure: None,
        failure_limit: 0,
        inconclusive_limit: 0,
        consecutive_error_limit: 4,
        dry_run: false,
        min_sample: 50,
        evidence: Evidence::Window,
        confidence: 0.95,
        inconclusive: Inconclusive::Pause,
    }
}

/// `S` passed, `F` failed, `I` inconclusive, `W` waiting for requests, `E` a provider error.
fn measurement(metric: &str, outcome: char, at: Timestamp) -> Measurement {
    let (verdict, waiting) = match outcome {
        'S' => (Verdict::Successful, None),
        'F' => (Verdict::Failed, None),
        'I' => (Verdict::Inconclusive, None),
        'W' => (
            Verdict::Inconclusive,
            Some(Waiting::Sample {
                role: Role::Canary,
                needed: 50,
            }),
        ),
        'E' => (Verdict::Error, None),
        other => panic!("no outcome {other:?} in a test script"),
    };
    Measurement {
        metric: metric.to_owned(),
        at,
        verdict,
        waiting,
        value: None,
        baseline: None,
        condition: String::new(),
        sample: None,
        baseline_sample: None,
        window: None,
        message: format!("{metric} {outcome}"),
        dry_run: false,
        counted: None,
    }
}

/// Feeds the script to a one-metric run; returns the run's phase and how many measurements of
/// the script it consumed before it ended (or the script's length).
fn play(m: MetricSpec, mode: Mode, script: &str) -> (Phase, usize) {
    let mut run = Run::new(vec![m], mode, Timestamp(0));
    for (i, outcome) in script.chars().enumerate() {
        let Some(at) = run.due_at(0) else {
            return (run.phase, i);
        };
        let name = run.metrics[0].spec.name.clone();
        run.record(0, measurement(&name, outcome, at));
    }
    let consumed = script.len();
    (run.phase, consumed)
}

#[test]
fn limits_counts_and_errors() {
    use Phase::*;
    type Tweak = fn(&mut MetricSpec);
    let none: Tweak = |_| {};
    // Measurements come every second: the 301st comes five minutes after the first.
    let (five_minutes, almost) = ("W".repeat(301), "W".repeat(300));
    let cases: &[(&str, Tweak, Mode, &str, Phase, usize)] = &[
        (
            "one failure fails by default",
            none,
            Mode::Background,
            "SSF",
            Failed,
            3,
        ),
        (
            "failures up to the limit are tolerated",
            |m| m.failure_limit = 2,
            Mode::Background,
            "FSFSS",
            Running,
            5,
        ),
        (
            "one past the failure limit fails",
            |m| m.failure_limit = 2,
            Mode::Background,
            "FFFS",
            Failed,
            3,
        ),
        (
            "inconclusive by default on the first",
            none,
            Mode::Background,
            "SI",
            Inconclusive,
            2,
        ),
        (
            "inconclusive up to the limit",
            |m| m.inconclusive_limit = 1,
            Mode::Background,
            "ISS",
            Running,
            3,
        ),
        (
            "past the inconclusive limit",
            |m| m.inconclusive_limit = 1,
            Mode::Background,
            "ISI",
            Inconclusive,
            3,
        ),
        (
            "errors are retried up to the limit",
            none,
            Mode::Background,
            "EEEES",
            Running,
            5,
        ),
        (
            "one error past the limit",
            none,
            Mode::Background,
            "EEEEE",
            Error,
            5,
        ),
        (
            "errors must be consecutive",
            none,
            Mode::Background,
            "EEEESEEEES",
            Running,
            10,
        ),
        (
            "a zero error limit errs at once",
            |m| m.consecutive_error_limit = 0,
            Mode::Background,
            "E",
            Error,
            1,
        ),
        (
            "count ends the metric successfully",
            |m| m.count = Some(3),
            Mode::Background,
            "SSSS",
            Successful,
            3,
        ),
        (
            "errors do not count towards count",
            |m| m.count = Some(2),
            Mode::Background,
            "ESES",
            Successful,
            4,
        ),
        (
            "tolerated failures still succeed at count",
            |m| {
                m.count = Some(3);
                m.failure_limit = 1
            },
            Mode::Background,
            "SFS",
            Successful,
            3,
        ),
        (
            "background without count runs on",
            none,
            Mode::Background,
            "SSSSSSSS",
            Running,
            8,
        ),
        (
            "blocking without count takes one",
            none,
            Mode::Blocking,
            "SS",
            Successful,
            1,
        ),
        (
            "blocking honours count",
            |m| m.count = Some(3),
            Mode::Blocking,
            "SSSS",
            Successful,
            3,
        ),
        (
            "blocking fails like background",
            none,
            Mode::Blocking,
            "F",
            Failed,
            1,
        ),
        (
            "waiting never counts against the inconclusive limit",
            none,
            Mode::Background,
            "WWWWWS",
            Running,
            6,
        ),
        (
            "waiting then a failure fails",
            none,
            Mode::Background,
            "WWWF",
            Failed,
            4,
        ),
        (
            "a count of only waiting is inconclusive",
            |m| m.count = Some(3),
            Mode::Background,
            "WWW",
            Inconclusive,
            3,
        ),
        (
            "one judged measurement among waiting ones decides",
            |m| m.count = Some(3),
            Mode::Background,
            "WSW",
            Successful,
            3,
        ),
        (
            "blocking with too few requests waits",
            none,
            Mode::Blocking,
            "W",
            Running,
            1,
        ),
        (
            "blocking without count ends at its first judged measurement",
            none,
            Mode::Blocking,
            "WWWSS",
            Successful,
            4,
        ),
        (
            "blocking without count fails at a failure after waiting",
            none,
            Mode::Blocking,
            "WWF",
            Failed,
            3,
        ),
        (
            "errors while waiting are retried as ever",
            none,
            Mode::Blocking,
            "WEEEEWS",
            Successful,
            7,
        ),
        (
            "blocking without count waits up to five minutes",
            none,
            Mode::Blocking,
            &almost,
            Running,
            300,
        ),
        (
            "blocking without count gives up after five minutes",
            none,
            Mode::Blocking,
            &five_minutes,
            Inconclusive,
            301,
        ),
        (
            "blocking with count keeps its count when waiting",
            |m| m.count = Some(2),
            Mode::Blocking,
            "WW",
            Inconclusive,
            2,
        ),
        (
            "a dry-run failure never decides",
            |m| m.dry_run = true,
            Mode::Background,
            "FFFF",
            Successful,
            1,
        ),
    ];
    for (name, tweak, mode, script, phase, consumed) in cases {
        let mut m = spec("m");
        tweak(&mut m);
        assert_eq!(play(m, *mode, script), (*phase, *consumed), "{name}");
    }
}

#[test]
fn schedule_honours_initial_delay_and_interval() {
    let mut m = spec("m");
    m.initial_delay = Duration::from_secs(10);
    m.interval = Duration::from_millis(250);
    let mut run = Run::new(vec![m], Mode::Background, Timestamp(1_000));
    let mut due = Vec::new();
    for outcome in "SESS".chars() {
        let at = run.due_at(0).unwrap();
        due.push(at.as_millis());
        run.record(0, measurement("m", outcome, at));
    }
    assert_eq!(due, [11_000, 11_250, 11_500, 11_750]);
    assert_eq!(run.next_due(), Some(Timestamp(12_000)));
}

#[test]
fn only_a_waiting_background_metric_without_count_parks_and_resuming_starts_a_new_schedule() {
    let parks = |mode, count, script: &str| {
        let mut m = spec("m");
        m.count = count;
        let mut run = Run::new(vec![m], mode, Timestamp(0));
        for outcome in script.chars() {
            let at = run.due_at(0).unwrap();
            run.record(0, measurement("m", outcome, at));
        }
        run.park(0)
    };
    assert!(parks(Mode::Background, None, "SW"));
    assert!(
        !parks(Mode::Background, None, "WS"),
        "its latest was judged"
    );
    assert!(
        !parks(Mode::Background, None, "WE"),
        "its latest was an error"
    );
    assert!(
        !parks(Mode::Background, Some(5), "W"),
        "it ends by its count"
    );
    assert!(
        !parks(Mode::Blocking, None, "W"),
        "it ends by how long it waits"
    );

    let mut run = Run::new(vec![spec("m")], Mode::Background, Timestamp(0));
    run.record(0, measurement("m", 'W', Timestamp(0)));
    assert!(run.park(0));
    assert_eq!(run.due_at(0), None, "a parked metric is never due");
    run.resume(0, Timestamp(90_500));
    assert_eq!(run.due_at(0), Some(Timestamp(90_500)));
    run.record(0, measurement("m", 'S', Timestamp(90_500)));
    assert_eq!(run.due_at(0), Some(Timestamp(91_500)));

    // Concluding resumes a parked metric: it measures until it has a judged measurement.
    run.record(0, measurement("m", 'W', Timestamp(91_500)));
    assert!(run.park(0));
    run.conclude(Timestamp(120_000));
    assert_eq!(run.due_at(0), Some(Timestamp(120_000)));
    assert!(
        !run.park(0),
        "a concluding metric ends by how long it waits"
    );
}

#[test]
fn the_run_takes_the_worst_deciding_phase() {
    use Phase::*;
    // Each metric's script; the run's phase once all are played, in order. The first metric to
    // end badly ends the run, so later scripts may go unplayed.
    let cases: &[(&[&str], Mode, Phase)] = &[
        (&["S", "S"], Mode::Blocking, Successful),
        (&["S", "F"], Mode::Blocking, Failed),
        (&["I", "E"], Mode::Background, Inconclusive),
        (&["EEEEE", "I"], Mode::Background, Error),
        (&["S", "EEEEE", "F"], Mode::Blocking, Error),
        (&["S", "W"], Mode::Blocking, Running),
        (&["S", "WWS"], Mode::Blocking, Successful),
        (&["S", ""], Mode::Blocking, Running),
        (&["SSS", "S"], Mode::Background, Running),
    ];
    for (scripts, mode, want) in cases {
        let specs = (0..scripts.len()).map(|i| spec(&format!("m{i}"))).collect();
        let mut run = Run::new(specs, *mode, Timestamp(0));
        for (i, script) in scripts.iter().enumerate() {
            for outcome in script.chars() {
                if let Some(at) = run.metrics[i].due_at() {
                    run.record(i, measurement(&format!("m{i}"), outcome, at));
                }
            }
        }
        assert_eq!(run.phase, *want, "{scripts:?} {mode:?}");
    }
}

#[test]
fn dry_run_metrics_neither_decide_nor_hold_the_run() {
    let mut dry = spec("dry");
    dry.dry_run = true;
    let mut run = Run::new(vec![spec("real"), dry], Mode::Blocking, Timestamp(0));
    run.record(1, measurement("dry", 'F', Timestamp(0)));
    assert_eq!(run.metrics[1].phase, Phase::Failed);
    assert_eq!(run.phase, Phase::Running);
    run.record(0, measurement("real", 'S', Timestamp(0)));
    assert_eq!(run.phase, Phase::Successful);
    assert_eq!(run.message, "real S");

    let mut only = spec("dry");
    only.dry_run = true;
    let mut run = Run::new(vec![only], Mode::Blocking, Timestamp(0));
    run.record(0, measurement("dry", 'F', Timestamp(0)));
    assert_eq!(run.phase, Phase::Successful);
    assert_eq!(
        run.message,
        "only dry-run metrics, which never decide: dry F"
    );
    assert_eq!(
        Run::new(vec![], Mode::Blocking, Timestamp(0)).phase,
        Phase::Successful
    );
}

#[test]
fn measurements_after_the_end_are_ignored() {
    let mut run = Run::new(vec![spec("m")], Mode::Background, Timestamp(0));
    run.record(0, measurement("m", 'F', Timestamp(0)));
    run.record(0, measurement("m", 'S', Timestamp(1_000)));
    assert_eq!(run.phase, Phase::Failed);
    assert_eq!(run.metrics[0].counts.taken, 1);
    assert_eq!(run.due_at(0), None);
    assert_eq!(run.verdict(), Some(Verdict::Failed));
}

#[test]
fn messages_say_which_limit_was_crossed() {
    let mut m = spec("error_rate");
    m.failure_limit = 1;
    let mut run = Run::new(vec![m], Mode::Background, Timestamp(0));
    run.record(0, measurement("error_rate", 'F', Timestamp(0)));
    run.record(0, measurement("error_rate", 'F', Timestamp(1_000)));
    insta::assert_snapshot!(run.message, @"error_rate F (2 failed measurements, more than the 1 tolerated)");

    let mut m = spec("error_rate");
    m.count = Some(2);
    let mut run = Run::new(vec![m], Mode::Background, Timestamp(0));
    run.record(0, measurement("error_rate", 'W', Timestamp(0)));
    run.record(0, measurement("error_rate", 'W', Timestamp(1_000)));
    insta::assert_snapshot!(run.message, @"error_rate W (none of its 2 measurements had enough data to judge)");

    let mut run = Run::new(vec![spec("error_rate")], Mode::Blocking, Timestamp(0));
    run.record(0, measurement("error_rate", 'W', Timestamp(0)));
    run.record(0, measurement("error_rate", 'S', Timestamp(25_000)));
    insta::assert_snapshot!(run.message, @"error_rate S (judged after waiting 25s for enough data)");

    let mut run = Run::new(vec![spec("error_rate")], Mode::Blocking, Timestamp(0));
    run.record(0, measurement("error_rate", 'W', Timestamp(0)));
    run.record(0, measurement("error_rate", 'W', Timestamp(300_000)));
    insta::assert_snapshot!(run.message, @"error_rate W (gave up after waiting 5m: none of its 2 measurements had enough data to judge)");

    let mut run = Run::new(vec![spec("error_rate")], Mode::Background, Timestamp(0));
    for i in 0..5 {
        run.record(0, measurement("error_rate", 'E', Timestamp(i * 1_000)));
    }
    insta::assert_snapshot!(run.message, @"error_rate E (5 errors in a row, more than the 4 tolerated)");
}

#[test]
fn a_long_run_keeps_a_bounded_tail_and_exact_counts() {
    let mut run = Run::new(vec![spec("m")], Mode::Background, Timestamp(0));
    for i in 0..2_500 {
        run.record(0, measurement("m", 'S', Timestamp(i * 1_000)));
    }
    let m = &run.metrics[0];
    assert_eq!(m.counts.successful, 2_500);
    assert_eq!(m.measurements.len(), super::KEPT);
    assert_eq!(
        m.measurements[0].at,
        Timestamp((2_500 - super::KEPT as u64) * 1_000)
    );
}

#[test]
fn a_run_of_identical_waiting_measurements_keeps_only_its_latest() {
    let mut run = Run::new(vec![spec("m")], Mode::Background, Timestamp(0));
    run.record(0, measurement("m", 'S', Timestamp(0)));
    for i in 1..=100 {
        run.record(0, measurement("m", 'W', Timestamp(i * 1_000)));
    }
    run.record(0, measurement("m", 'S', Timestamp(101_000)));
    let m = &run.metrics[0];
    assert_eq!((m.counts.waiting, m.counts.successful), (100, 2));
    let kept: Vec<(Timestamp, bool)> = m
        .measurements
        .iter()
        .map(|m| (m.at, m.waiting.is_some()))
        .collect();
    assert_eq!(
        kept,
        [
            (Timestamp(0), false),
            (Timestamp(100_000), true),
            (Timestamp(101_000), false)
        ]
    );
}

/// `error_rate <= 1%` judged on every request since its first measurement.
fn cumulative() -> MetricSpec {
    let mut m = spec("error_rate");
    m.success = Some(Condition::Threshold {
        op: ConditionOp::Le,
        rhs: Operand::Value(0.01),
    });
    m.evidence = Evidence::Cumulative;
    m
}

/// The router's running counts, read by the builtin provider.
fn counts(errors: u64, requests: u64) -> Observed {
    let canary = Observation::number(0.0).with_tally(Tally::new(errors, requests));
    Observed::Answered {
        canary,
        baseline: None,
    }
}

#[test]
fn cumulative_evidence_counts_from_the_first_reading_and_waits_while_the_interval_straddles() {
    let spec = cumulative();
    let conditions = Conditions::new(&spec);
    let mut run = Run::new(vec![spec], Mode::Background, Timestamp(3_600_000));
    // Before the run: 500 failed of 1,000. The first reading is where counting starts.
    let first = run.observe(0, &conditions, Timestamp(3_600_000), counts(500, 1_000));
    insta::assert_snapshot!(first.unwrap().message, @"error_rate not judged: no requests to the canary since 01:00:00");
    let one_in_54 = run.observe(0, &conditions, Timestamp(3_612_000), counts(501, 1_054));
    let m = one_in_54.unwrap();
    assert_eq!(
        (m.verdict, m.waiting),
        (Verdict::Inconclusive, Some(Waiting::Evidence))
    );
    insta::assert_snapshot!(m.message, @"error_rate not judged yet: 1.852% (95% CI 0.017%–11.6%, 1 of 54 requests since 01:00:00) straddles 1%");
    assert_eq!(run.phase, Phase::Running);
    let bad = run.observe(0, &conditions, Timestamp(3_640_000), counts(509, 1_219));
    insta::assert_snapshot!(bad.unwrap().message, @"error_rate 4.11% (95% CI 1.103%–10.03%, 9 of 219 requests since 01:00:00) > 1%");
    assert_eq!(run.phase, Phase::Failed);
}

#[test]
fn a_clean_canary_passes_once_the_interval_lies_below_the_threshold() {
    let spec = cumulative();
    let conditions = Conditions::new(&spec);
    let mut run = Run::new(vec![spec], Mode::Blocking, Timestamp(0));
    run.observe(0, &conditions, Timestamp(0), counts(0, 0));
    run.observe(0, &conditions, Timestamp(1_000), counts(0, 300));
    assert_eq!(run.phase, Phase::Running);
    run.observe(0, &conditions, Timestamp(2_000), counts(0, 500));
    assert_eq!(run.phase, Phase::Successful);
    insta::assert_snapshot!(run.message, @"error_rate 0% (95% CI 0%–0.837%, 0 of 500 requests since 00:00:00) < 1% (judged after waiting 2s for enough data)");
}

#[test]
fn concluding_passes_what_has_passed_and_waits_for_the_rest_as_a_blocking_run_would() {
    let play = |inconclusive: Inconclusive, later: (u64, u64, u64)| {
        let mut spec = cumulative();
        spec.inconclusive = inconclusive;
        let conditions = Conditions::new(&spec);
        let mut run = Run::new(vec![spec], Mode::Background, Timestamp(0));
        run.observe(0, &conditions, Timestamp(0), counts(0, 0));
        run.observe(0, &conditions, Timestamp(9_000), counts(1, 54));
        assert_eq!(run.phase, Phase::Running, "a background run waits");
        run.conclude(Timestamp(10_000));
        let (at, errors, requests) = later;
        run.observe(0, &conditions, Timestamp(at), counts(errors, requests));
        (run.phase, run.message)
    };
    // More evidence after the steps ended decides, either way.
    assert_eq!(
        play(Inconclusive::Pause, (12_000, 1, 900)).0,
        Phase::Successful
    );
    assert_eq!(
        play(Inconclusive::Pause, (12_000, 20, 300)).0,
        Phase::Failed
    );
    // Still undecided five minutes after: the setting says what happens.
    let (phase, message) = play(Inconclusive::Pause, (310_000, 1, 60));
    assert_eq!(phase, Phase::Inconclusive);
    insta::assert_snapshot!(message, @"error_rate not judged yet: 1.667% (95% CI 0.016%–10.456%, 1 of 60 requests since 00:00:00) straddles 1% (gave up after waiting 5m: none of its 3 measurements had enough data to judge)");
    assert_eq!(play(Inconclusive::Fail, (310_000, 1, 60)).0, Phase::Failed);
    // `inconclusive: pass` does not wait: undecided at the end of the steps is a pass.
    let (phase, message) = play(Inconclusive::Pass, (310_000, 20, 300));
    assert_eq!(phase, Phase::Successful);
    insta::assert_snapshot!(message, @"error_rate not judged yet: 1.852% (95% CI 0.017%–11.6%, 1 of 54 requests since 00:00:00) straddles 1% (undecided when the canary's steps ended); inconclusive, so passed as `inconclusive: pass` asks");
    // A canary that had already passed passes at once.
    let spec = cumulative();
    let conditions = Conditions::new(&spec);
    let mut run = Run::new(vec![spec], Mode::Background, Timestamp(0));
    run.observe(0, &conditions, Timestamp(0), counts(0, 0));
    run.observe(0, &conditions, Timestamp(9_000), counts(0, 600));
    run.conclude(Timestamp(10_000));
    assert_eq!(run.phase, Phase::Successful);
}

#[test]
fn a_blocking_metric_that_gives_up_follows_the_inconclusive_setting() {
    for (setting, phase) in [
        (Inconclusive::Pause, Phase::Inconclusive),
        (Inconclusive::Pass, Phase::Successful),
        (Inconclusive::Fail, Phase::Failed),
    ] {
        let mut m = spec("m");
        m.inconclusive = setting;
        assert_eq!(play(m, Mode::Blocking, &"W".repeat(301)), (phase, 301));
    }
}

#[test]
fn a_latency_quantile_against_the_baselines_compares_two_quantile_intervals() {
    let mut spec = cumulative();
    spec.name = "latency_p99_vs_baseline".to_owned();
    spec.unit = Unit::Seconds;
    spec.provider = ProviderSpec::Builtin {
        metric: BuiltinMetric::Latency { permille: 990 },
        window: Duration::from_secs(30),
        slower_than: None,
    };
    spec.success = Some(Condition::Threshold {
        op: ConditionOp::Le,
        rhs: Operand::BaselineTimes(1.5),
    });
    let conditions = Conditions::new(&spec);
    // Requests at 10 ms, with one in fifty at `tail` ms: the p99 is the tail.
    let histogram = |requests: u64, tail: u64| {
        let slow = requests / 50;
        Latencies(vec![(10_000, requests - slow), (tail * 1_000, slow)])
    };
    let read = |canary: Latencies, baseline: Latencies| Observed::Answered {
        canary: Observation::number(0.0).with_latencies(canary),
        baseline: Some(Observation::number(0.0).with_latencies(baseline)),
    };
    let play = |canary_tail: u64| {
        let mut run = Run::new(vec![spec.clone()], Mode::Blocking, Timestamp(0));
        run.observe(
            0,
            &conditions,
            Timestamp(0),
            read(histogram(0, 1), histogram(0, 1)),
        );
        let mut last = None;
        for (i, n) in [100, 1_000, 5_000].into_iter().enumerate() {
            let at = Timestamp(1_000 * (i as u64 + 1));
            last = run.observe(
                0,
                &conditions,
                at,
                read(histogram(n, canary_tail), histogram(10 * n, 100)),
            );
            if run.phase != Phase::Running {
                break;
            }
        }
        (run.phase, last.unwrap().message)
    };
    // A canary tail four times the baseline's fails; one equal to it passes.
    let (phase, message) = play(400);
    assert_eq!(phase, Phase::Failed);
    insta::assert_snapshot!(message, @"latency_p99_vs_baseline 400ms vs baseline 100ms (95% CIs 400ms–400ms and 100ms–100ms; canary 5,000, baseline 50,000 requests since 00:00:00) > baseline * 1.5");
    let (phase, message) = play(100);
    assert_eq!(phase, Phase::Successful);
    insta::assert_snapshot!(message, @"latency_p99_vs_baseline 100ms vs baseline 100ms (95% CIs 0ms–100ms and 100ms–100ms; canary 1,000, baseline 10,000 requests since 00:00:00) < baseline * 1.5");
}
