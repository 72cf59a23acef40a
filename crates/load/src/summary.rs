//! The end of a test as k6 shows it: the scenarios, each check with its passes and fails,
//! every metric, each threshold with ✓ or ✗; and the same as JSON for `--summary-export`, in
//! the shape of the data k6 hands `handleSummary`.

use std::fmt::Write;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::duration;
use crate::metrics::{Metric, Metrics, Selector, Series};
use crate::plan::Plan;
use crate::threshold::{Judged, Threshold};

/// Every threshold judged on the final metrics, in the plan's order.
pub fn judge(plan: &Plan, metrics: &Metrics, elapsed: Duration) -> Vec<(Threshold, Judged)> {
    plan.thresholds
        .iter()
        .map(|t| (t.clone(), t.judge(metrics, elapsed)))
        .collect()
}

/// The header printed before the test starts.
pub fn header(plan: &Plan) -> String {
    let max_vus: u32 = plan.scenarios.iter().map(|s| s.max_vus()).sum();
    let longest = plan
        .scenarios
        .iter()
        .map(|s| s.start_time + s.duration() + s.graceful_stop)
        .max()
        .unwrap_or_default();
    let count = plan.scenarios.len();
    let mut out = format!(
        "  scenarios: {count} scenario{}, {max_vus} max VUs, {} max duration (incl. graceful stop):\n",
        if count == 1 { "" } else { "s" },
        duration::format(longest)
    );
    for s in &plan.scenarios {
        let _ = write!(out, "           * {}: {}", s.name, s.describe());
        if !s.start_time.is_zero() {
            let _ = write!(out, ", starting at {}", duration::format(s.start_time));
        }
        out.push('\n');
    }
    out
}

/// The summary printed at the end.
pub fn render(
    plan: &Plan,
    metrics: &Metrics,
    elapsed: Duration,
    judged: &[(Threshold, Judged)],
) -> String {
    let mut out = String::new();
    if !plan.checks.is_empty() {
        out.push('\n');
        for (name, rate) in plan.checks.iter().zip(metrics.checks()) {
            let mark = if rate.fails() == 0 { '✓' } else { '✗' };
            let _ = writeln!(out, "     {mark} {name}");
            if rate.fails() > 0 {
                let _ = writeln!(
                    out,
                    "      ↳  {}% — ✓ {} / ✗ {}",
                    (rate.rate() * 100.0).floor(),
                    rate.passes,
                    rate.fails()
                );
            }
        }
    }
    out.push('\n');
    let mut rows: Vec<(String, String, Option<bool>)> = Vec::new();
    for metric in Metric::ALL {
        let marked = mark(judged, |s| s.metric == metric && s.tags.is_empty());
        rows.push((
            metric.name().to_owned(),
            value(metrics.series(metric), elapsed),
            marked,
        ));
        for sub in plan.sub_metrics.iter().filter(|s| s.metric == metric) {
            if let Some(series) = metrics.select(sub) {
                let tags: Vec<String> = sub
                    .tags
                    .iter()
                    .map(|(t, v)| format!("{}:{v}", t.name()))
                    .collect();
                let marked = mark(judged, |s| s == sub);
                rows.push((
                    format!("  {{ {} }}", tags.join(", ")),
                    value(series, elapsed),
                    marked,
                ));
            }
        }
    }
    let width = rows
        .iter()
        .map(|(n, _, _)| n.chars().count())
        .max()
        .unwrap_or(0)
        + 3;
    for (name, value, mark) in rows {
        let mark = match mark {
            Some(true) => '✓',
            Some(false) => '✗',
            None => ' ',
        };
        let dots = ".".repeat(width - name.chars().count());
        let _ = writeln!(out, "   {mark} {name}{dots}: {value}");
    }
    if !judged.is_empty() {
        out.push_str("\n  THRESHOLDS\n");
        for (t, j) in judged {
            let _ = writeln!(
                out,
                "   {} {} '{}' {}={}",
                if j.passed { '✓' } else { '✗' },
                t.selector,
                t.expr.source,
                t.expr.aggregate,
                number(t.selector.metric, j.value)
            );
        }
    }
    out
}

/// ✓ or ✗ for a metric whose thresholds `select` picks, if it has any.
fn mark(judged: &[(Threshold, Judged)], select: impl Fn(&Selector) -> bool) -> Option<bool> {
    let mut mine = judged
        .iter()
        .filter(|(t, _)| select(&t.selector))
        .peekable();
    mine.peek()?;
    Some(mine.all(|(_, j)| j.passed))
}

fn number(metric: Metric, value: f64) -> String {
    match metric {
        Metric::HttpReqDuration | Metric::IterationDuration => millis(value),
        Metric::HttpReqFailed | Metric::Checks => format!("{:.2}%", value * 100.0),
        _ => trim(value),
    }
}

fn value(series: &Series, elapsed: Duration) -> String {
    let per_second = |n: u64| {
        let s = elapsed.as_secs_f64();
        trim(if s > 0.0 { n as f64 / s } else { 0.0 })
    };
    match series {
        Series::Trend(t) => format!(
            "avg={:<9} min={:<9} med={:<9} max={:<9} p(90)={:<9} p(95)={}",
            millis(t.avg()),
            millis(t.min()),
            millis(t.percentile(50.0)),
            millis(t.max()),
            millis(t.percentile(90.0)),
            millis(t.percentile(95.0))
        ),
        Series::Rate(r) => format!(
            "{:<7} ✓ {:<9} ✗ {}",
            format!("{:.2}%", r.rate() * 100.0),
            r.passes,
            r.fails()
        ),
        Series::Counter(n) => format!("{n:<7} {}/s", per_second(*n)),
        Series::Gauge(g) => format!("{:<7} min={:<7} max={}", g.value, g.min, g.max),
    }
}

/// A duration in milliseconds as k6 prints it: µs below a millisecond, s from a second.
fn millis(ms: f64) -> String {
    if ms < 1.0 {
        format!("{}µs", trim(ms * 1000.0))
    } else if ms < 1000.0 {
        format!("{}ms", trim(ms))
    } else {
        format!("{}s", trim(ms / 1000.0))
    }
}

/// Two decimals at most, no trailing zeros.
fn trim(value: f64) -> String {
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "-" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// The summary as JSON: `{"state": …, "metrics": {name: {type, contains, values,
/// thresholds}}, "root_group": {"checks": […]}}`, milliseconds for times; a trend's values are
/// k6's default ones and p(99).
pub fn export(
    plan: &Plan,
    metrics: &Metrics,
    elapsed: Duration,
    judged: &[(Threshold, Judged)],
) -> Value {
    let mut all = Map::new();
    let mut put = |name: String, series: &Series, select: &dyn Fn(&Selector) -> bool| {
        let seconds = elapsed.as_secs_f64();
        let (kind, contains, values) = match series {
            Series::Trend(t) => (
                "trend",
                "time",
                json!({"avg": t.avg(), "min": t.min(), "med": t.percentile(50.0), "max": t.max(),
                       "p(90)": t.percentile(90.0), "p(95)": t.percentile(95.0),
                       "p(99)": t.percentile(99.0)}),
            ),
            Series::Rate(r) => (
                "rate",
                "default",
                json!({"rate": r.rate(), "passes": r.passes, "fails": r.fails()}),
            ),
            Series::Counter(n) => (
                "counter",
                "default",
                json!({"count": n, "rate": if seconds > 0.0 { *n as f64 / seconds } else { 0.0 }}),
            ),
            Series::Gauge(g) => (
                "gauge",
                "default",
                json!({"value": g.value, "min": g.min, "max": g.max}),
            ),
        };
        let mut entry = json!({"type": kind, "contains": contains, "values": values});
        let thresholds: Map<String, Value> = judged
            .iter()
            .filter(|(t, _)| select(&t.selector))
            .map(|(t, j)| (t.expr.source.clone(), json!({"ok": j.passed})))
            .collect();
        if !thresholds.is_empty() {
            entry["thresholds"] = Value::Object(thresholds);
        }
        all.insert(name, entry);
    };
    for metric in Metric::ALL {
        put(metric.name().to_owned(), metrics.series(metric), &|s| {
            s.metric == metric && s.tags.is_empty()
        });
        for sub in plan.sub_metrics.iter().filter(|s| s.metric == metric) {
            if let Some(series) = metrics.select(sub) {
                put(sub.to_string(), series, &|s| s == sub);
            }
        }
    }
    let checks: Vec<Value> = plan
        .checks
        .iter()
        .zip(metrics.checks())
        .map(|(name, r)| json!({"name": name, "passes": r.passes, "fails": r.fails()}))
        .collect();
    json!({
        "state": {"testRunDurationMs": elapsed.as_secs_f64() * 1000.0},
        "metrics": all,
        "root_group": {"checks": checks},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Sample, Tags};

    #[test]
    fn the_summary_reads_like_k6s() {
        let plan = crate::load(
            "t.yaml",
            "scenarios: {s: {executor: constant-arrival-rate, rate: 10, duration: 10s, preAllocatedVUs: 2}}
requests:
  - {name: home, url: 'http://h:1/', checks: {status: 200}}
thresholds:
  http_req_duration: ['p(95)<50', 'max<100']
  'http_req_duration{name:home}': ['avg<40']
  http_req_failed: ['rate<0.05']
",
            &|_| Err(String::new()),
        )
        .unwrap();
        let mut metrics = Metrics::new(&plan.sub_metrics, plan.checks.len());
        let tags = Tags {
            scenario: "s",
            name: "home",
            ..Tags::default()
        };
        for n in 1..=100u64 {
            let failed = n % 10 == 0;
            let duration = Duration::from_micros(n * 700);
            metrics.record(Sample::Request { duration, failed }, &tags);
            metrics.record(
                Sample::Check {
                    id: 0,
                    passed: !failed,
                },
                &tags,
            );
            metrics.record(Sample::Iteration { duration }, &tags);
        }
        metrics.record(Sample::Vus { active: 2, max: 2 }, &tags);
        let elapsed = Duration::from_secs(10);
        let judged = judge(&plan, &metrics, elapsed);
        insta::assert_snapshot!(header(&plan) + &render(&plan, &metrics, elapsed, &judged), @r"
          scenarios: 1 scenario, 2 max VUs, 40s max duration (incl. graceful stop):
                   * s: 10.00 iterations/s for 10s (maxVUs: 2-2, gracefulStop: 30s)

             ✗ home: status is 200
              ↳  90% — ✓ 90 / ✗ 10

             checks...............: 90.00%  ✓ 90        ✗ 10
             dropped_iterations...: 0       0/s
           ✗ http_req_duration....: avg=35.35ms   min=700µs     med=35.01ms   max=70ms      p(90)=63.01ms   p(95)=66.56ms
           ✓   { name:home }......: avg=35.35ms   min=700µs     med=35.01ms   max=70ms      p(90)=63.01ms   p(95)=66.56ms
           ✗ http_req_failed......: 10.00%  ✓ 10        ✗ 90
             http_reqs............: 100     10/s
             iteration_duration...: avg=35.35ms   min=700µs     med=35.01ms   max=70ms      p(90)=63.01ms   p(95)=66.56ms
             iterations...........: 100     10/s
             vus..................: 2       min=2       max=2
             vus_max..............: 2       min=2       max=2

          THRESHOLDS
           ✗ http_req_duration 'p(95)<50' p(95)=66.56ms
           ✓ http_req_duration 'max<100' max=70ms
           ✓ http_req_duration{name:home} 'avg<40' avg=35.35ms
           ✗ http_req_failed 'rate<0.05' rate=10.00%
        ");
        let export = export(&plan, &metrics, elapsed, &judged);
        assert_eq!(
            export["metrics"]["http_req_failed"]["thresholds"]["rate<0.05"]["ok"],
            false
        );
        assert_eq!(
            export["metrics"]["http_req_duration{name:home}"]["values"]["max"],
            70.0
        );
        assert_eq!(export["root_group"]["checks"][0]["fails"], 10);
    }
}
