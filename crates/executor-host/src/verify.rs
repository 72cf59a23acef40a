//! The `verify:` and `check:` steps: a suite of checks from this machine, each round's failed
//! checks and the verdict in the step's log as they come.

use bellwether_core::spec::VerifySpec;
use bellwether_pipeline_core::executor::{Cancel, LogSink, Stream};
use bellwether_pipeline_core::run::{ExitStatus, StepOutcome};
use bellwether_verify::{Checker, run_suite};

/// Runs `suite` against `target` (the address its paths are taken against); outputs `passed`
/// and `success-rate`.
pub(crate) async fn run(
    suite: &VerifySpec,
    target: Option<&str>,
    log: &mut dyn LogSink,
    cancel: Cancel,
) -> StepOutcome {
    let checker = Checker::new();
    let report = {
        let mut line = |text: String| log.write(Stream::Stdout, format!("{text}\n").as_bytes());
        let rounds = run_suite(&checker, suite, target, |round| {
            for check in round.checks.iter().filter(|c| !c.passed) {
                line(format!("round {}/{}: {check}", round.number, round.of));
            }
        });
        tokio::select! {
            report = rounds => Some(report),
            () = cancel => None,
        }
    };
    let Some(report) = report else {
        return StepOutcome::status(ExitStatus::Cancelled);
    };
    for check in &report.checks {
        log.write(Stream::Stdout, format!("{check}\n").as_bytes());
    }
    let verdict = report.to_string();
    log.note(&verdict);
    let outputs = vec![
        ("passed".to_owned(), report.passed.to_string()),
        ("success-rate".to_owned(), report.success_rate.to_string()),
    ];
    let status = if report.passed {
        ExitStatus::Exited(0)
    } else {
        ExitStatus::Error(verdict)
    };
    StepOutcome {
        outputs,
        ..StepOutcome::status(status)
    }
}
