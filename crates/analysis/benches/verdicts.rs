//! Analysis verdicts, simulated: how often and how soon four rules roll back a canary that is
//! judged every second for ten minutes, for an error rate and a p99 latency at, below and above
//! their threshold; then the canary-versus-baseline judge, Mann-Whitney against confidence
//! sequences (`verdicts/judge.rs`). Pure: simulated seconds and requests from a fixed-seed
//! generator, no clock, no sleeps, so every run prints the same tables.
//!
//!   cargo bench -p bellwether-analysis --bench verdicts                       # 10,000 canaries a cell
//!   cargo bench -p bellwether-analysis --bench verdicts -- --canaries 1000    # any count

use std::collections::VecDeque;
use std::process::ExitCode;
use std::thread;

#[path = "verdicts/judge.rs"]
mod judge;

use bellwether_analysis::sequential::{Side, Tally, side_of_threshold};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const SEED: u64 = 20_240_601;
const SECONDS: u32 = 600;
/// `error_rate <= 1%`, and `latency_p99 <= 200ms` as a share of requests slower than 200 ms.
const THRESHOLD: f64 = 0.01;
const CONFIDENCE: f64 = 0.95;
/// True rates (or shares slower than 200 ms) as multiples of the threshold.
const MULTIPLES: [f64; 6] = [0.0, 0.5, 1.0, 2.0, 5.0, 20.0];
/// Mean requests per second.
const TRAFFIC: [u32; 3] = [1, 10, 100];
const WINDOW_SECONDS: usize = 30;
const MIN_SAMPLE: u64 = 50;
const INTERVAL_SECONDS: u32 = 60;

const RULES: [(&str, Rule); 4] = [
    ("before", Rule::Before),
    ("argo-0", Rule::Argo { failure_limit: 0 }),
    ("argo-2", Rule::Argo { failure_limit: 2 }),
    ("sequential", Rule::Sequential),
];
/// Where the sequential rule is in [`RULES`]: the only rule that passes before the end.
const SEQUENTIAL: usize = 3;

fn main() -> ExitCode {
    let canaries = match canaries_argument() {
        Ok(canaries) => canaries,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "seed {SEED}, {canaries} canaries per cell, command: \
         `cargo bench -p bellwether-analysis --bench verdicts -- --canaries {canaries}`\n"
    );
    println!("{}", setup());
    for metric in [Metric::ErrorRate, Metric::LatencyP99] {
        let rows = simulate(metric, canaries);
        println!("{}", table(metric, &rows));
    }
    println!("{}", judge::setup());
    println!("{}", judge::table(&judge::simulate(canaries)));
    ExitCode::SUCCESS
}

/// `--canaries N`; cargo adds `--bench`.
fn canaries_argument() -> Result<usize, String> {
    let mut args = std::env::args().skip(1);
    let mut canaries = 10_000;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--canaries" => {
                let value = args.next().unwrap_or_default();
                canaries =
                    value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        format!("--canaries takes a positive number (got `{value}`)")
                    })?;
            }
            "--bench" => {}
            other => {
                return Err(format!(
                    "unknown argument `{other}` (expected --canaries N)"
                ));
            }
        }
    }
    Ok(canaries)
}

fn setup() -> String {
    format!(
        "Each canary is judged every second for {SECONDS} s. Requests arrive as a Poisson \
         process (Poisson counts per second with the row's mean) and each fails, or is slower \
         than 200 ms, independently with the row's true share; every rule sees the same \
         requests. Rules: **before** fails on the first look whose last {WINDOW_SECONDS} s \
         break the threshold, looks skipped below {MIN_SAMPLE} requests; **argo-0** and \
         **argo-2** judge each {INTERVAL_SECONDS} s interval on its own requests (none: \
         inconclusive) and roll back on the 1st and 3rd failing interval; **sequential** asks \
         `side_of_threshold` ({CONFIDENCE} confidence) about every request since the start, \
         rolls back on `Above` and passes on `Below`.\n\n\
         Latency: a request is slower than 200 ms with the row's share q (e.g. uniform on \
         200-1000 ms with probability q, otherwise lognormal with median 50 ms truncated below \
         200 ms; q = 0 has no tail). p99 is nearest-rank, as HdrHistogram's \
         `value_at_quantile` in the router, so only which requests are slower than 200 ms \
         decides any rule: `p99 > 200ms` over n requests is exactly \"more than n/100 slower\", \
         the same test as `error_rate > 1%`, and the latency table is an independent replicate \
         of the error table.\n\n\
         Rollback: share of canaries rolled back within {SECONDS} s; requests and seconds: \
         median / p95 among those rolled back, requests counted since the canary began. \
         Pass (sequential, rows at or below the threshold): share that reached `Below` within \
         {SECONDS} s, median / p95 requests and seconds to it.\n"
    )
}

#[derive(Clone, Copy)]
enum Metric {
    ErrorRate,
    LatencyP99,
}

impl Metric {
    fn title(self) -> &'static str {
        match self {
            Metric::ErrorRate => "error_rate <= 1%",
            Metric::LatencyP99 => "latency_p99 <= 200ms",
        }
    }

    /// Whether one window's requests break the threshold; hits are failed requests, or
    /// requests slower than 200 ms.
    fn exceeds(self, window: Tally) -> bool {
        match self {
            // rate > 1%, in integers: exact at counts like 1 in 100, where floats round.
            Metric::ErrorRate => window.hits * 100 > window.total,
            // The p99 is the ceil(0.99 n)-th fastest request: slower than 200 ms when fewer
            // requests than that are fast.
            Metric::LatencyP99 => window.total - window.hits < (window.total * 99).div_ceil(100),
        }
    }
}

#[derive(Clone, Copy)]
enum Rule {
    Before,
    Argo { failure_limit: u32 },
    Sequential,
}

impl Rule {
    fn judge(self) -> Judge {
        match self {
            Rule::Before => Judge::Window {
                seconds: VecDeque::with_capacity(WINDOW_SECONDS + 1),
                sum: Tally::default(),
            },
            Rule::Argo { failure_limit } => Judge::Intervals {
                failure_limit,
                failures: 0,
                current: Tally::default(),
            },
            Rule::Sequential => Judge::Sequential,
        }
    }
}

/// One rule's state while it judges one canary.
enum Judge {
    /// The requests of each of the last seconds, and their sum.
    Window {
        seconds: VecDeque<Tally>,
        sum: Tally,
    },
    /// The requests of the interval under way, and the failing intervals so far.
    Intervals {
        failure_limit: u32,
        failures: u32,
        current: Tally,
    },
    Sequential,
}

#[derive(Clone, Copy)]
enum Verdict {
    RolledBack,
    Passed,
}

impl Judge {
    /// The look at the end of `second`, with that second's requests and all since the start.
    fn look(
        &mut self,
        metric: Metric,
        second: u32,
        now: Tally,
        since_start: Tally,
    ) -> Option<Verdict> {
        match self {
            Judge::Window { seconds, sum } => {
                seconds.push_back(now);
                *sum = add(*sum, now);
                if seconds.len() > WINDOW_SECONDS
                    && let Some(gone) = seconds.pop_front()
                {
                    *sum = Tally::new(sum.hits - gone.hits, sum.total - gone.total);
                }
                (sum.total >= MIN_SAMPLE && metric.exceeds(*sum)).then_some(Verdict::RolledBack)
            }
            Judge::Intervals {
                failure_limit,
                failures,
                current,
            } => {
                *current = add(*current, now);
                if !second.is_multiple_of(INTERVAL_SECONDS) {
                    return None;
                }
                let interval = std::mem::take(current);
                if interval.total > 0 && metric.exceeds(interval) {
                    *failures += 1;
                }
                (*failures > *failure_limit).then_some(Verdict::RolledBack)
            }
            Judge::Sequential => match side_of_threshold(since_start, THRESHOLD, CONFIDENCE) {
                Side::Above => Some(Verdict::RolledBack),
                Side::Below => Some(Verdict::Passed),
                Side::Straddles => None,
            },
        }
    }
}

fn add(a: Tally, b: Tally) -> Tally {
    Tally::new(a.hits + b.hits, a.total + b.total)
}

/// Poisson counts by inverting the tabulated distribution: one uniform draw per count.
struct Poisson {
    cdf: Vec<f64>,
}

impl Poisson {
    fn new(mean: f64) -> Self {
        let mut pmf = (-mean).exp();
        let mut cdf = vec![pmf];
        let mut k = 0.0;
        // Past the mean, until the remaining tail is far below a uniform draw's resolution.
        while k <= mean || pmf > 1e-18 {
            k += 1.0;
            pmf *= mean / k;
            cdf.push(cdf[cdf.len() - 1] + pmf);
        }
        Self { cdf }
    }

    fn sample(&self, rng: &mut SmallRng) -> u64 {
        let u: f64 = rng.random();
        self.cdf.partition_point(|&c| c <= u) as u64
    }
}

/// When a rule concluded about one canary.
#[derive(Clone, Copy)]
struct Conclusion {
    verdict: Verdict,
    second: u32,
    requests: u64,
}

/// One canary, judged by every rule on the same requests: each rule's conclusion, if any.
fn canary(
    metric: Metric,
    failing: &Poisson,
    fine: &Poisson,
    rng: &mut SmallRng,
) -> [Option<Conclusion>; RULES.len()] {
    let mut judges = RULES.map(|(_, rule)| rule.judge());
    let mut ends = [None; RULES.len()];
    let mut since_start = Tally::default();
    for second in 1..=SECONDS {
        let hits = failing.sample(rng);
        let now = Tally::new(hits, hits + fine.sample(rng));
        since_start = add(since_start, now);
        for (judge, end) in judges.iter_mut().zip(&mut ends) {
            if end.is_none() {
                *end = judge
                    .look(metric, second, now, since_start)
                    .map(|verdict| Conclusion {
                        verdict,
                        second,
                        requests: since_start.total,
                    });
            }
        }
        if ends.iter().all(Option::is_some) {
            break;
        }
    }
    ends
}

/// The canaries one rule concluded about in one cell, by verdict.
#[derive(Default)]
struct Outcomes {
    rolled_back: Spread,
    passed: Spread,
}

/// Requests and seconds to a verdict, sorted once all are in.
#[derive(Default)]
struct Spread {
    requests: Vec<u64>,
    seconds: Vec<u32>,
}

impl Spread {
    fn push(&mut self, conclusion: Conclusion) {
        self.requests.push(conclusion.requests);
        self.seconds.push(conclusion.second);
    }

    fn sort(&mut self) {
        self.requests.sort_unstable();
        self.seconds.sort_unstable();
    }

    fn share(&self, canaries: usize) -> String {
        format!(
            "{:.2}%",
            100.0 * self.requests.len() as f64 / canaries as f64
        )
    }

    fn requests(&self) -> String {
        median_p95(&self.requests)
    }

    fn seconds(&self) -> String {
        median_p95(&self.seconds)
    }
}

/// Nearest-rank median and 95th percentile of sorted values; "-" without any.
fn median_p95<T: std::fmt::Display>(sorted: &[T]) -> String {
    if sorted.is_empty() {
        return "-".into();
    }
    let at = |q: f64| &sorted[((q * sorted.len() as f64).ceil() as usize).max(1) - 1];
    format!("{} / {}", at(0.5), at(0.95))
}

struct Row {
    multiple: f64,
    traffic: u32,
    canaries: usize,
    rules: [Outcomes; RULES.len()],
}

/// Every cell of one metric, a thread each.
fn simulate(metric: Metric, canaries: usize) -> Vec<Row> {
    let seed = SEED + (metric as u64) * 1_000;
    per_cell(&MULTIPLES, &TRAFFIC, seed, |multiple, traffic, seed| {
        cell(metric, multiple, traffic, canaries, seed)
    })
}

/// `cell(multiple, traffic, seed)` for every multiple and traffic, a thread each, in order.
/// Each cell's generator is seeded from `seed` and the cell's position, so the tables do not
/// depend on how the threads interleave.
fn per_cell<R: Send>(
    multiples: &[f64],
    traffic: &[u32],
    seed: u64,
    cell: impl Fn(f64, u32, u64) -> R + Sync,
) -> Vec<R> {
    let cells: Vec<(f64, u32)> = multiples
        .iter()
        .flat_map(|&m| traffic.iter().map(move |&t| (m, t)))
        .collect();
    let cell = &cell;
    thread::scope(|scope| {
        let threads: Vec<_> = cells
            .iter()
            .enumerate()
            .map(|(i, &(multiple, traffic))| {
                scope.spawn(move || cell(multiple, traffic, seed + i as u64))
            })
            .collect();
        threads
            .into_iter()
            .map(|thread| thread.join().expect("a simulation thread panicked"))
            .collect()
    })
}

fn cell(metric: Metric, multiple: f64, traffic: u32, canaries: usize, seed: u64) -> Row {
    let rate = multiple * THRESHOLD;
    // Poisson arrivals thinned by independent failures: failed and fine requests are two
    // independent Poisson counts.
    let failing = Poisson::new(f64::from(traffic) * rate);
    let fine = Poisson::new(f64::from(traffic) * (1.0 - rate));
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut rules: [Outcomes; RULES.len()] = Default::default();
    for _ in 0..canaries {
        for (outcomes, end) in rules
            .iter_mut()
            .zip(canary(metric, &failing, &fine, &mut rng))
        {
            if let Some(conclusion) = end {
                match conclusion.verdict {
                    Verdict::RolledBack => outcomes.rolled_back.push(conclusion),
                    Verdict::Passed => outcomes.passed.push(conclusion),
                }
            }
        }
    }
    for outcomes in &mut rules {
        outcomes.rolled_back.sort();
        outcomes.passed.sort();
    }
    Row {
        multiple,
        traffic,
        canaries,
        rules,
    }
}

fn table(metric: Metric, rows: &[Row]) -> String {
    let mut header = vec!["true share".to_string(), "req/s".to_string()];
    for (name, _) in RULES {
        header.push(format!("{name} rollback"));
        header.push(format!("{name} req p50 / p95"));
        header.push(format!("{name} s p50 / p95"));
    }
    header.extend(["sequential pass", "pass req p50 / p95", "pass s p50 / p95"].map(String::from));
    let mut lines = vec![
        format!("## `{}`\n", metric.title()),
        markdown_row(&header),
        markdown_row(&vec!["---".to_string(); header.len()]),
    ];
    for row in rows {
        lines.push(markdown_row(&cells(row)));
    }
    lines.join("\n") + "\n"
}

fn cells(row: &Row) -> Vec<String> {
    let mut cells = vec![
        format!(
            "{}× ({:.1}%)",
            row.multiple,
            100.0 * row.multiple * THRESHOLD
        ),
        row.traffic.to_string(),
    ];
    for outcomes in &row.rules {
        let rolled_back = &outcomes.rolled_back;
        cells.extend([
            rolled_back.share(row.canaries),
            rolled_back.requests(),
            rolled_back.seconds(),
        ]);
    }
    let passed = &row.rules[SEQUENTIAL].passed;
    if row.multiple <= 1.0 {
        cells.extend([
            passed.share(row.canaries),
            passed.requests(),
            passed.seconds(),
        ]);
    } else {
        cells.extend(["-", "-", "-"].map(String::from));
    }
    cells
}

fn markdown_row(cells: &[String]) -> String {
    format!("| {} |", cells.join(" | "))
}
