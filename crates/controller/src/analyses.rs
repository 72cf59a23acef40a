//! Analysis runs as people see them, and the finished ones kept in the store (one stream per
//! service), so that the measurements that failed a rollout still explain it after a restart.

use bellwether_analysis::run::{MetricRun, Run};
use bellwether_analysis::{Measurement, Value};
use bellwether_api::{AnalysisView, MeasurementView, PointView, SeriesView};
use bellwether_core::rollout::{RevisionNumber, RunId, Verdict};
use bellwether_core::spec::{Condition, ConditionOp, Operand, Unit};
use bellwether_store::{Record, Store, StoreError};
use serde::{Deserialize, Serialize};

/// Measurements a view shows beyond the latest of each metric.
const OLDER_SHOWN: usize = bellwether_analysis::run::KEPT - 1;

/// A finished run as stored: its id (views show the runs of the latest attempt) and its view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct StoredRun {
    pub(crate) run: RunId,
    pub(crate) view: AnalysisView,
}

/// What the name of every service's stream of finished analysis runs starts with. They are
/// read whole and only explain (no state is rebuilt from them): retention may forget old ones.
pub const ANALYSIS_STREAMS: &str = "analysis/";

fn stream(service: &str) -> String {
    format!("{ANALYSIS_STREAMS}{service}")
}

/// The finished runs of `attempt`, in the order they finished. A run stopped by a restart and
/// run again is stored each time it ends: the last one counts.
pub(crate) fn load(
    store: &dyn Store,
    service: &str,
    attempt: u32,
) -> Result<Vec<StoredRun>, StoreError> {
    let mut out: Vec<StoredRun> = Vec::new();
    for record in store.read(&stream(service), 0)? {
        let run: StoredRun = serde_json::from_value(record.body)?;
        if run.run.attempt == attempt {
            out.retain(|r| r.run != run.run);
            out.push(run);
        }
    }
    Ok(out)
}

/// Appends a finished run to the service's stream; only the service's controller writes it.
pub(crate) fn save(
    store: &dyn Store,
    service: &str,
    at_ms: u64,
    run: &StoredRun,
) -> Result<(), StoreError> {
    let stream = stream(service);
    let last = store.last_seq(&stream)?;
    let record = Record::new(at_ms, "analysis_run", serde_json::to_value(run)?);
    store.append(&stream, last, &[record])?;
    Ok(())
}

/// `background analysis #2`: the run and the attempt it belongs to.
fn label(run: RunId) -> String {
    format!("{run} #{}", run.attempt)
}

/// The view of a run: finished with `verdict` and `message`, or in progress without.
pub(crate) fn view(
    run: RunId,
    revision: RevisionNumber,
    baseline: Option<RevisionNumber>,
    verdict: Option<Verdict>,
    message: String,
    snapshot: &Run,
) -> AnalysisView {
    AnalysisView {
        run: label(run),
        revision,
        baseline,
        verdict,
        message,
        measurements: measurements(snapshot),
        series: snapshot.metrics.iter().map(series).collect(),
    }
}

/// A metric's kept measurements as numbers, for a chart.
fn series(metric: &MetricRun) -> SeriesView {
    let spec = &metric.spec;
    let threshold = [&spec.failure, &spec.success]
        .into_iter()
        .flatten()
        .find_map(|c| match c {
            Condition::Threshold {
                op: ConditionOp::Lt | ConditionOp::Le | ConditionOp::Gt | ConditionOp::Ge,
                rhs: Operand::Value(v),
            } => Some(*v),
            _ => None,
        });
    let points = metric
        .measurements
        .iter()
        .map(|m| {
            // An interval against a baseline is of the difference, not of the value.
            let band = m
                .counted
                .as_ref()
                .filter(|c| c.baseline.is_none())
                .map(|c| (c.interval.low, c.interval.high));
            PointView {
                at: m.at,
                value: m.value.as_ref().and_then(Value::as_number),
                low: band.map(|b| b.0),
                high: band.map(|b| b.1),
                verdict: m.verdict,
            }
        })
        .collect();
    SeriesView {
        metric: spec.name.clone(),
        unit: spec.unit,
        threshold,
        condition: metric
            .measurements
            .last()
            .map(|m| m.condition.clone())
            .unwrap_or_default(),
        points,
    }
}

/// What a run in progress has found so far: each deciding part's latest message.
pub(crate) fn progress(snapshot: &Run) -> String {
    let parts: Vec<&str> = snapshot
        .metrics
        .iter()
        .map(|m| m.message.as_str())
        .chain(snapshot.judge.iter().map(|j| j.message.as_str()))
        .filter(|m| !m.is_empty())
        .collect();
    if parts.is_empty() {
        "no measurement yet".to_owned()
    } else {
        parts.join("; ")
    }
}

/// The latest measurement of each metric, then older ones, newest first.
fn measurements(snapshot: &Run) -> Vec<MeasurementView> {
    let mut latest = Vec::new();
    let mut older: Vec<MeasurementView> = Vec::new();
    for metric in &snapshot.metrics {
        let unit = metric.spec.unit;
        let mut taken = metric.measurements.iter().rev();
        if let Some(m) = taken.next() {
            latest.push(measurement(m, unit));
        }
        older.extend(taken.take(OLDER_SHOWN).map(|m| measurement(m, unit)));
    }
    older.sort_by_key(|m| std::cmp::Reverse(m.at));
    older.truncate(OLDER_SHOWN);
    latest.extend(older);
    latest
}

fn measurement(m: &Measurement, unit: Unit) -> MeasurementView {
    MeasurementView {
        metric: m.metric.clone(),
        at: m.at,
        verdict: m.verdict,
        value: m.value.as_ref().map(|v| v.display(unit)),
        baseline: m.baseline.as_ref().map(|v| v.display(unit)),
        condition: m.condition.clone(),
        sample: m.sample.map(|s| s.requests),
        window_ms: m
            .window
            .map(|w| u64::try_from(w.as_millis()).unwrap_or(u64::MAX)),
        message: m.message.clone(),
        dry_run: m.dry_run,
    }
}
