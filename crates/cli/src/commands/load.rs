//! `bellwether load`: runs a k6-style load file (`bellwether-load` does the work), prints k6's
//! end-of-test summary and exits 99 when a threshold failed, as k6 does.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bellwether_load::{Options, Plan, Run, Tcp, Workers, duration, summary};
use clap::Args;

use crate::exit::{self, Code};

#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    /// The load file (scenarios, requests, thresholds), or `-` for standard input.
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// Write every sample as k6's JSON lines: `json=FILE`.
    #[arg(long = "out", value_name = "json=FILE", value_parser = parse_out)]
    pub(crate) out: Option<PathBuf>,
    /// Write the end-of-test summary as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub(crate) summary_export: Option<PathBuf>,
}

fn parse_out(text: &str) -> Result<PathBuf, String> {
    match text.split_once('=') {
        Some(("json", path)) if !path.is_empty() => Ok(PathBuf::from(path)),
        _ => Err(format!("`{text}` is not an output (expected json=FILE)")),
    }
}

/// Reads and checks the load file; `None` when it has problems, which are printed.
fn read_plan(file: &Path) -> anyhow::Result<Option<Plan>> {
    let (name, source, base) = if file == Path::new("-") {
        let mut source = String::new();
        std::io::stdin()
            .read_to_string(&mut source)
            .context("cannot read the load file from standard input")?;
        ("-".to_owned(), source, PathBuf::from("."))
    } else {
        let source = super::read(file)?;
        let base = file
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        (file.display().to_string(), source, base)
    };
    // A CSV file a request names is relative to the load file.
    let read_csv = |path: &str| {
        let path = base.join(path);
        std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    match bellwether_load::load(&name, &source, &read_csv) {
        Ok(plan) => Ok(Some(plan)),
        Err(e) => {
            for problem in e.to_string().lines() {
                eprintln!("error: {problem}");
            }
            Ok(None)
        }
    }
}

/// One line on stderr, rewritten in place: elapsed, VUs, requests, rate, p(95).
fn progress_line(p: &bellwether_load::Progress) {
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "\r\x1b[2Krunning ({:.1}s), {} VUs, {} requests, {:.1} req/s, p(95)={:.2}ms",
        p.elapsed.as_secs_f64(),
        p.vus,
        p.requests,
        p.rate,
        p.p95
    );
    let _ = err.flush();
}

pub(crate) fn run(args: &LoadArgs) -> anyhow::Result<Code> {
    let Some(plan) = read_plan(&args.file)? else {
        return Ok(exit::BAD_INPUT);
    };
    let samples = match &args.out {
        Some(path) => Some(Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        ) as Box<dyn Write + Send>),
        None => None,
    };
    print!("\n{}\n", summary::header(&plan));
    // The VUs run on a thread per core; this runtime schedules them and reports.
    let workers = Workers::per_core().context("cannot start the worker threads")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let report = runtime.block_on(async {
        let run = Run::start(
            plan.clone(),
            Options {
                connector: Arc::new(Tcp),
                samples,
                workers: workers.handles(),
            },
        );
        let handle = run.handle();
        let live = std::io::stderr().is_terminal();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let finished = run.finish();
        tokio::pin!(finished);
        let mut stopping = false;
        loop {
            tokio::select! {
                report = &mut finished => break report,
                _ = tick.tick(), if live => progress_line(&handle.progress()),
                _ = tokio::signal::ctrl_c(), if !stopping => {
                    stopping = true;
                    handle.stop();
                }
            }
        }
    });
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[2K");
    }
    let judged = summary::judge(&plan, &report.metrics, report.elapsed);
    print!(
        "{}",
        summary::render(&plan, &report.metrics, report.elapsed, &judged)
    );
    println!(
        "\n  running ({}), {} iterations",
        duration::format(report.elapsed),
        report
            .metrics
            .count(bellwether_load::metrics::Metric::Iterations)
    );
    if let Some(e) = &report.samples_error {
        eprintln!("error: the samples of --out json were not all written: {e}");
    }
    if let Some(path) = &args.summary_export {
        let json = summary::export(&plan, &report.metrics, report.elapsed, &judged);
        std::fs::write(path, format!("{json:#}\n"))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(threshold) = &report.aborted_by {
        eprintln!("error: the test was aborted: threshold {threshold} failed (abortOnFail)");
    }
    let failed: Vec<String> = judged
        .iter()
        .filter(|(_, j)| !j.passed)
        .map(|(t, _)| format!("{} '{}'", t.selector, t.expr.source))
        .collect();
    if !failed.is_empty() {
        eprintln!("error: thresholds failed: {}", failed.join(", "));
        return Ok(exit::THRESHOLDS_FAILED);
    }
    if report.interrupted {
        return Ok(exit::FAILURE);
    }
    Ok(exit::SUCCESS)
}
