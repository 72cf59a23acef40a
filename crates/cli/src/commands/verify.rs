//! `bellwether check` and `bellwether verify`: checks of a running service, once each or as
//! suites in rounds against a minimum success rate. Targets are URLs written on the command
//! line (shaped by the flags) or names from `checks:` and `verify:` in bellwether.yaml.

mod adhoc;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use bellwether_core::spec::{CheckSpec, VerifySpec};
use bellwether_verify::{Checker, run_suite};
use clap::Args;

use crate::exit::{self, Code};
use crate::output::{Format, print_data};

pub(crate) use adhoc::Shape;

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// URLs (`http://`, `https://`), `tcp://HOST:PORT`, or names of checks in the project
    /// file [default: every check in it].
    #[arg(value_name = "TARGET")]
    pub(crate) targets: Vec<String>,
    #[command(flatten)]
    pub(crate) shape: Shape,
    #[command(flatten)]
    pub(crate) context: Context,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Names of suites in the project file [default: every suite in it], or URLs and
    /// `tcp://HOST:PORT` targets that make one suite with the flags below.
    #[arg(value_name = "SUITE")]
    pub(crate) suites: Vec<String>,
    /// How long rounds go on [default: the suite's; 0s for URLs].
    #[arg(long, value_parser = super::parse_duration)]
    pub(crate) duration: Option<std::time::Duration>,
    /// The time between rounds [default: the suite's; 10s for URLs].
    #[arg(long, value_parser = super::parse_duration)]
    pub(crate) interval: Option<std::time::Duration>,
    /// The percentage of attempts that must pass, e.g. 95 [default: the suite's; 100 for URLs].
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent)]
    pub(crate) min_success_rate: Option<f64>,
    /// The most a suite may take [default: the suite's; its duration and 1m for URLs].
    #[arg(long, value_parser = super::parse_duration)]
    pub(crate) timeout: Option<std::time::Duration>,
    #[command(flatten)]
    pub(crate) shape: Shape,
    #[command(flatten)]
    pub(crate) context: Context,
}

/// Where names come from and what paths are taken against.
#[derive(Debug, Args)]
pub(crate) struct Context {
    /// The project file that names checks and suites.
    #[arg(short = 'f', long = "file", default_value = "bellwether.yaml")]
    pub(crate) file: PathBuf,
    /// The address paths (`/healthz`) are checked against, e.g. `127.0.0.1:8080` or
    /// `https://staging.example.com`.
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) target: Option<String>,
}

pub(crate) fn check(args: &CheckArgs, format: Format) -> anyhow::Result<Code> {
    let checks = checks(args)?;
    let reports = runtime()?.block_on(async {
        let checker = Checker::new();
        let base = args.context.target.as_deref();
        futures_util::future::join_all(checks.iter().map(|c| checker.run(c, base))).await
    });
    if !print_data(format, &reports)? {
        let mut out = std::io::stdout().lock();
        for report in &reports {
            writeln!(out, "{report}")?;
        }
    }
    Ok(outcome(reports.iter().all(|r| r.passed)))
}

pub(crate) fn verify(args: &VerifyArgs, format: Format) -> anyhow::Result<Code> {
    let suites = suites(args)?;
    let people = format == Format::Table;
    let runtime = runtime()?;
    let checker = Checker::new();
    let mut reports = Vec::new();
    for suite in &suites {
        let report = runtime.block_on(run_suite(
            &checker,
            suite,
            args.context.target.as_deref(),
            |round| {
                if people {
                    progress(suite, &round);
                }
            },
        ));
        if people {
            let mut out = std::io::stdout().lock();
            for check in &report.checks {
                writeln!(out, "  {check}")?;
            }
            writeln!(out, "{report}")?;
        }
        reports.push(report);
    }
    print_data(format, &reports)?;
    Ok(outcome(reports.iter().all(|r| r.passed)))
}

/// One line on stderr per round, and the checks that failed in it.
fn progress(suite: &VerifySpec, round: &bellwether_verify::Round<'_>) {
    let passed = round.checks.iter().filter(|c| c.passed).count();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "{} round {}/{}: {passed} of {} passed ({:.1}% so far)",
        suite.name,
        round.number,
        round.of,
        round.checks.len(),
        round.tally.rate() * 100.0
    );
    for failed in round.checks.iter().filter(|c| !c.passed) {
        let _ = writeln!(err, "  {failed}");
    }
}

fn outcome(passed: bool) -> Code {
    if passed { exit::SUCCESS } else { exit::FAILURE }
}

/// The checks `bellwether check` runs: ad-hoc targets from the flags, named ones from the file.
fn checks(args: &CheckArgs) -> anyhow::Result<Vec<CheckSpec>> {
    let (adhoc, names) = split(&args.targets);
    let mut checks = adhoc
        .iter()
        .map(|t| args.shape.check(t))
        .collect::<Result<Vec<_>, _>>()?;
    if !names.is_empty() || adhoc.is_empty() {
        let project = super::project(&args.context.file)?;
        let declared = Declared::new(&project.checks, "check", "checks", &args.context.file);
        checks.extend(declared.pick(&names)?);
    }
    Ok(checks)
}

/// The suites `bellwether verify` runs, with the command line's overrides.
fn suites(args: &VerifyArgs) -> anyhow::Result<Vec<VerifySpec>> {
    let (adhoc, names) = split(&args.suites);
    let mut suites = Vec::new();
    if !adhoc.is_empty() {
        let checks = adhoc
            .iter()
            .map(|t| args.shape.check(t))
            .collect::<Result<Vec<_>, _>>()?;
        suites.push(adhoc::suite(checks));
    }
    if !names.is_empty() || adhoc.is_empty() {
        let project = super::project(&args.context.file)?;
        let declared = Declared::new(&project.verify, "suite", "verify", &args.context.file);
        suites.extend(declared.pick(&names)?);
    }
    anyhow::ensure!(
        args.interval.is_none_or(|i| !i.is_zero()),
        "--interval must be more than 0s"
    );
    for suite in &mut suites {
        suite.interval = args.interval.unwrap_or(suite.interval);
        suite.min_success_rate = args.min_success_rate.unwrap_or(suite.min_success_rate);
        if let Some(duration) = args.duration {
            suite.duration = duration;
            // A longer duration than the suite's carries its timeout along.
            suite.timeout = suite.timeout.max(duration + adhoc::TIMEOUT_SLACK);
        }
        suite.timeout = args.timeout.unwrap_or(suite.timeout);
    }
    Ok(suites)
}

/// Targets written out (URLs) apart from names of the project file.
fn split(targets: &[String]) -> (Vec<&String>, Vec<&String>) {
    targets.iter().partition(|t| adhoc::is_target(t))
}

/// The checks or suites a project file declares, picked by name.
struct Declared<'a, T> {
    all: &'a BTreeMap<String, T>,
    /// `check` or `suite`, for messages.
    kind: &'static str,
    /// Where the file declares them: `checks` or `verify`.
    section: &'static str,
    file: &'a Path,
}

impl<'a, T: Clone> Declared<'a, T> {
    fn new(
        all: &'a BTreeMap<String, T>,
        kind: &'static str,
        section: &'static str,
        file: &'a Path,
    ) -> Self {
        Self {
            all,
            kind,
            section,
            file,
        }
    }

    /// Those `names` name, in order; all of them when there are no names.
    fn pick(&self, names: &[&String]) -> anyhow::Result<Vec<T>> {
        let file = self.file.display();
        if names.is_empty() {
            anyhow::ensure!(
                !self.all.is_empty(),
                "{file} declares no {}s (expected a `{}:` section, or give a URL)",
                self.kind,
                self.section
            );
            return Ok(self.all.values().cloned().collect());
        }
        names
            .iter()
            .map(|name| {
                self.all.get(name.as_str()).cloned().ok_or_else(|| {
                    let declared: Vec<&str> = self.all.keys().map(String::as_str).collect();
                    let declared = if declared.is_empty() {
                        "(none declared)".to_owned()
                    } else {
                        declared.join(", ")
                    };
                    anyhow::anyhow!(
                        "no {} `{name}` in {file} (expected a URL, tcp://HOST:PORT or one of: {declared})",
                        self.kind
                    )
                })
            })
            .collect()
    }
}

fn parse_percent(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%');
    number
        .parse::<f64>()
        .ok()
        .filter(|p| (0.0..=100.0).contains(p))
        .map(|p| p / 100.0)
        .ok_or_else(|| format!("`{text}` is not a percentage from 0 to 100"))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}
