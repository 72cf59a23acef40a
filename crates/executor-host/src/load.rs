//! The `load:` step: a load file of the workspace (`bellwether load`'s format) run from this
//! machine; k6's summary in the step's log, and the step fails when a threshold does.

use std::path::Path;
use std::sync::Arc;

use bellwether_load::metrics::Metric;
use bellwether_load::{Options, Run, Tcp, summary};
use bellwether_pipeline_core::executor::{Cancel, LogSink, Stream};
use bellwether_pipeline_core::run::{ExitStatus, StepOutcome};

/// Runs the load file at `path` (its CSV files taken relative to it); outputs
/// `thresholds-passed` and `requests`.
pub(crate) async fn run(
    name: &str,
    path: &Path,
    log: &mut dyn LogSink,
    cancel: Cancel,
) -> StepOutcome {
    let failed = |why: String, log: &mut dyn LogSink| {
        log.note(&why);
        StepOutcome::status(ExitStatus::Error(why))
    };
    let source = match std::fs::read_to_string(path) {
        Ok(source) => source,
        Err(e) => return failed(format!("cannot read the load file {name}: {e}"), log),
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let read_csv = |csv: &str| {
        let csv = base.join(csv);
        std::fs::read_to_string(&csv).map_err(|e| format!("cannot read {}: {e}", csv.display()))
    };
    let plan = match bellwether_load::load(name, &source, &read_csv) {
        Ok(plan) => plan,
        Err(e) => return failed(e.to_string(), log),
    };
    let mut out = |text: String| log.write(Stream::Stdout, text.as_bytes());
    out(format!("{}\n", summary::header(&plan)));
    let run = Run::start(
        plan.clone(),
        Options {
            connector: Arc::new(Tcp),
            samples: None,
            workers: Vec::new(),
        },
    );
    let handle = run.handle();
    let finished = run.finish();
    tokio::pin!(finished);
    let report = tokio::select! {
        report = &mut finished => report,
        () = cancel => {
            handle.stop();
            finished.await;
            return StepOutcome::status(ExitStatus::Cancelled);
        }
    };
    let judged = summary::judge(&plan, &report.metrics, report.elapsed);
    out(summary::render(
        &plan,
        &report.metrics,
        report.elapsed,
        &judged,
    ));
    let failures: Vec<String> = judged
        .iter()
        .filter(|(_, j)| !j.passed)
        .map(|(t, _)| format!("{} '{}'", t.selector, t.expr.source))
        .collect();
    let outputs = vec![
        (
            "thresholds-passed".to_owned(),
            failures.is_empty().to_string(),
        ),
        (
            "requests".to_owned(),
            report.metrics.count(Metric::HttpReqs).to_string(),
        ),
    ];
    let status = match (&report.aborted_by, failures.is_empty()) {
        (Some(threshold), _) => ExitStatus::Error(format!(
            "the test was aborted: threshold {threshold} failed (abortOnFail)"
        )),
        (None, false) => ExitStatus::Error(format!("thresholds failed: {}", failures.join(", "))),
        (None, true) => ExitStatus::Exited(0),
    };
    if let ExitStatus::Error(why) = &status {
        log.note(why);
    }
    StepOutcome {
        outputs,
        ..StepOutcome::status(status)
    }
}
