//! The canary-versus-baseline judge, simulated: a canary beside a baseline that fails 1% of its
//! requests, judged every 10 s for 10 minutes on `error_rate` (critical, `direction: increase`,
//! `minRatio: 1.1`, 95%), once by the Mann-Whitney U test over per-interval points after the
//! last interval, once on every request since the start with confidence sequences at every
//! interval. Both through the crate's own `judge` and `early`.

use bellwether_analysis::judge::{Evidence, JudgeConfig, JudgedMetric, Series, early, judge};
use bellwether_core::rollout::Verdict;
use bellwether_core::spec::{Direction, Unit};
use bellwether_core::time::Timestamp;
use rand::SeedableRng;
use rand::rngs::SmallRng;

use bellwether_analysis::sequential::Tally;

use super::{CONFIDENCE, MIN_SAMPLE, Poisson, SEED, markdown_row, median_p95, per_cell};

const BASELINE_RATE: f64 = 0.01;
const MULTIPLES: [f64; 4] = [1.0, 2.0, 5.0, 20.0];
/// Canary requests a second; the baseline receives nine times as many (a 10% canary).
const TRAFFIC: [u32; 3] = [1, 10, 100];
const INTERVAL_SECONDS: u32 = 10;
const INTERVALS: u32 = 60;

pub(crate) fn setup() -> String {
    format!(
        "## The judge: `error_rate` against the baseline\n\n\
         The baseline fails {}% of its requests, the canary the row's multiple of that; the \
         canary receives the row's requests a second and the baseline nine times as many \
         (Poisson arrivals, independent failures). One critical metric, `direction: \
         increase`, `minRatio: 1.1`, confidence {CONFIDENCE}, {INTERVALS} intervals of \
         {INTERVAL_SECONDS} s. **mann-whitney** compares the per-interval shares (a gap below \
         {MIN_SAMPLE} requests) after the last interval; **sequential** reads the evidence \
         since the start at every interval and fails as soon as a regression shows. \
         Rollback and inconclusive: shares of judges; seconds and canary requests to a \
         rollback: median / p95 (mann-whitney always decides at {} s).\n",
        BASELINE_RATE * 100.0,
        INTERVALS * INTERVAL_SECONDS
    )
}

fn config() -> JudgeConfig {
    JudgeConfig {
        confidence: CONFIDENCE,
        metrics: vec![JudgedMetric {
            direction: Direction::Increase,
            critical: true,
            min_sample: MIN_SAMPLE,
            ..JudgedMetric::new("error_rate", Unit::Ratio)
        }],
        ..JudgeConfig::default()
    }
}

/// How each rule ended one judge: the verdict, and the interval and canary requests at a
/// rollback.
#[derive(Clone, Copy)]
enum End {
    RolledBack { interval: u32, requests: u64 },
    Inconclusive,
    Passed,
}

fn end_of(verdict: Verdict, interval: u32, requests: u64) -> End {
    match verdict {
        Verdict::Failed => End::RolledBack { interval, requests },
        Verdict::Successful => End::Passed,
        _ => End::Inconclusive,
    }
}

/// One revision's traffic in one interval: failed and fine requests, two Poisson counts.
struct Traffic {
    failing: Poisson,
    fine: Poisson,
}

impl Traffic {
    fn new(per_second: f64, rate: f64) -> Self {
        let per_interval = per_second * f64::from(INTERVAL_SECONDS);
        Self {
            failing: Poisson::new(per_interval * rate),
            fine: Poisson::new(per_interval * (1.0 - rate)),
        }
    }

    fn interval(&self, rng: &mut SmallRng) -> Tally {
        let hits = self.failing.sample(rng);
        Tally::new(hits, hits + self.fine.sample(rng))
    }
}

/// One judge, both rules on the same requests: (mann-whitney, sequential).
fn one(config: &JudgeConfig, canary: &Traffic, baseline: &Traffic, rng: &mut SmallRng) -> [End; 2] {
    let point = |t: Tally| t.share().filter(|_| t.total >= MIN_SAMPLE);
    let (mut points, mut total) = (Series::default(), (Tally::default(), Tally::default()));
    points.metric = "error_rate".to_owned();
    let mut sequential = None;
    for interval in 1..=INTERVALS {
        let (c, b) = (canary.interval(rng), baseline.interval(rng));
        points.canary.extend(point(c));
        points.baseline.extend(point(b));
        total = (
            Tally::new(total.0.hits + c.hits, total.0.total + c.total),
            Tally::new(total.1.hits + b.hits, total.1.total + b.total),
        );
        if sequential.is_some() {
            continue;
        }
        let evidence = Evidence::of_shares(Timestamp(0), total.0, total.1, CONFIDENCE);
        let series = Series {
            metric: points.metric.clone(),
            evidence: Some(evidence),
            ..Series::default()
        };
        if interval == INTERVALS {
            sequential = Some(end_of(
                judge(config, &[series]).verdict,
                interval,
                total.0.total,
            ));
        } else if let Some(j) = early(config, &[series]) {
            sequential = Some(end_of(j.verdict, interval, total.0.total));
        }
    }
    let mann_whitney = end_of(judge(config, &[points]).verdict, INTERVALS, total.0.total);
    [mann_whitney, sequential.unwrap_or(End::Inconclusive)]
}

#[derive(Default)]
struct Outcomes {
    rolled_back_seconds: Vec<u32>,
    rolled_back_requests: Vec<u64>,
    inconclusive: usize,
}

pub(crate) struct Row {
    multiple: f64,
    traffic: u32,
    judges: usize,
    rules: [Outcomes; 2],
}

/// Every cell, a thread each.
pub(crate) fn simulate(judges: usize) -> Vec<Row> {
    per_cell(
        &MULTIPLES,
        &TRAFFIC,
        SEED + 10_000,
        |multiple, traffic, seed| cell(multiple, traffic, judges, seed),
    )
}

fn cell(multiple: f64, traffic: u32, judges: usize, seed: u64) -> Row {
    let config = config();
    let canary = Traffic::new(f64::from(traffic), multiple * BASELINE_RATE);
    let baseline = Traffic::new(f64::from(9 * traffic), BASELINE_RATE);
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut rules: [Outcomes; 2] = Default::default();
    for _ in 0..judges {
        for (outcomes, end) in rules
            .iter_mut()
            .zip(one(&config, &canary, &baseline, &mut rng))
        {
            match end {
                End::RolledBack { interval, requests } => {
                    outcomes
                        .rolled_back_seconds
                        .push(interval * INTERVAL_SECONDS);
                    outcomes.rolled_back_requests.push(requests);
                }
                End::Inconclusive => outcomes.inconclusive += 1,
                End::Passed => {}
            }
        }
    }
    for outcomes in &mut rules {
        outcomes.rolled_back_seconds.sort_unstable();
        outcomes.rolled_back_requests.sort_unstable();
    }
    Row {
        multiple,
        traffic,
        judges,
        rules,
    }
}

pub(crate) fn table(rows: &[Row]) -> String {
    let mut header = vec!["canary share".to_owned(), "canary req/s".to_owned()];
    for name in ["mann-whitney", "sequential"] {
        header.extend(
            [
                "rollback",
                "inconclusive",
                "rollback s p50 / p95",
                "rollback req p50 / p95",
            ]
            .map(|c| format!("{name} {c}")),
        );
    }
    let mut lines = vec![
        markdown_row(&header),
        markdown_row(&vec!["---".to_owned(); header.len()]),
    ];
    let share = |n: usize, of: usize| format!("{:.2}%", 100.0 * n as f64 / of as f64);
    for row in rows {
        let mut cells = vec![
            format!(
                "{}× ({}%)",
                row.multiple,
                row.multiple * BASELINE_RATE * 100.0
            ),
            row.traffic.to_string(),
        ];
        for o in &row.rules {
            cells.extend([
                share(o.rolled_back_seconds.len(), row.judges),
                share(o.inconclusive, row.judges),
                median_p95(&o.rolled_back_seconds),
                median_p95(&o.rolled_back_requests),
            ]);
        }
        lines.push(markdown_row(&cells));
    }
    lines.join("\n") + "\n"
}
