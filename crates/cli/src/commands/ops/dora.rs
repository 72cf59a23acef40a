//! `bellwether dora`: the four DORA figures of each service and environment over a window, a
//! table each, with the project's targets beside them.

use std::time::Duration;

use bellwether_api::{DORA_DEFAULT_SINCE, DoraReport, paths};
use bellwether_core::dora::{Figures, Spread, TargetCheck, TargetVerdict, percent};
use bellwether_core::time::human_duration;
use clap::Args;

use super::format::{date_time, table};
use crate::commands::client::Client;
use crate::exit::{self, Code};
use crate::output::{Format, print_records};

#[derive(Debug, Args)]
pub(crate) struct DoraArgs {
    /// Only this service.
    #[arg(long, value_name = "NAME")]
    service: Option<String>,
    /// Only this environment.
    #[arg(long = "env", value_name = "ENVIRONMENT")]
    environment: Option<String>,
    /// The window: the last DURATION, e.g. 7d.
    #[arg(long, value_name = "DURATION", default_value = DORA_DEFAULT_SINCE, value_parser = checked_duration)]
    since: String,
}

/// Refused here, with the CLI's own message, before the server would refuse it.
fn checked_duration(text: &str) -> Result<String, String> {
    crate::commands::parse_duration(text).map(|_| text.to_owned())
}

pub(crate) async fn run(client: &Client, args: &DoraArgs, format: Format) -> anyhow::Result<Code> {
    let mut query = vec![("since", args.since.as_str())];
    if let Some(service) = &args.service {
        query.push(("service", service));
    }
    if let Some(environment) = &args.environment {
        query.push(("env", environment));
    }
    let report: DoraReport = client.get_query(paths::DORA, &query).await?;
    if !print_records(format, &report)? {
        print!("{}", render(&report));
    }
    Ok(exit::SUCCESS)
}

fn render(report: &DoraReport) -> String {
    let mut out = format!(
        "DORA figures over the last {} ({} to {})\n",
        report.since,
        date_time(report.start),
        date_time(report.end)
    );
    if report.figures.is_empty() {
        out.push_str("\nno rollouts yet\n");
    }
    for figures in &report.figures {
        out.push('\n');
        out.push_str(&format!(
            "{} in {}\n",
            figures.service,
            figures.environment.as_deref().unwrap_or("no environment")
        ));
        out.push_str(&group(figures));
    }
    out
}

/// One row per figure: its value, and its target with the verdict when one is set.
fn group(figures: &Figures) -> String {
    let targets = figures.targets.clone().unwrap_or_default();
    let rows = [
        (
            "deployment frequency",
            frequency(figures),
            targets.deployment_frequency,
        ),
        ("lead time", lead_time(figures), targets.lead_time),
        (
            "change failure rate",
            failure_rate(figures),
            targets.change_failure_rate,
        ),
        (
            "time to restore",
            time_to_restore(figures),
            targets.time_to_restore,
        ),
    ];
    let with_targets = figures.targets.is_some();
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|(name, value, target)| {
            let mut row = vec![format!("  {name}"), value];
            if with_targets {
                row.extend(checked(target.as_ref()));
            }
            row
        })
        .collect();
    let headers: &[&str] = if with_targets {
        &["  FIGURE", "VALUE", "TARGET", ""]
    } else {
        &["  FIGURE", "VALUE"]
    };
    table(headers, &rows)
}

fn checked(check: Option<&TargetCheck>) -> [String; 2] {
    let Some(check) = check else {
        return ["-".to_owned(), String::new()];
    };
    let verdict = match check.verdict {
        TargetVerdict::Met => "met",
        TargetVerdict::NotMet => "not met",
        TargetVerdict::NotApplicable => "n/a",
    };
    [check.target.clone(), verdict.to_owned()]
}

fn frequency(figures: &Figures) -> String {
    let f = &figures.deployment_frequency;
    let plural = if f.deployments == 1 { "" } else { "s" };
    match f.per_day {
        Some(per_day) => format!("{per_day:.2}/day ({} deployment{plural})", f.deployments),
        None => format!(
            "n/a: an empty window ({} deployment{plural})",
            f.deployments
        ),
    }
}

fn lead_time(figures: &Figures) -> String {
    let lead = &figures.lead_time;
    let excluded = match lead.excluded {
        0 => String::new(),
        n => format!("; {n} without a known commit, left out"),
    };
    match spread(&lead.spread) {
        Some(text) => format!("{text} ({} changes{excluded})", lead.spread.count),
        None => format!("n/a: no change promoted with a known commit{excluded}"),
    }
}

fn failure_rate(figures: &Figures) -> String {
    let rate = &figures.change_failure_rate;
    let Some(share) = rate.rate else {
        return "n/a: no rollout ended".to_owned();
    };
    let mut how = Vec::new();
    for (n, what) in [
        (rate.aborted, "aborted"),
        (rate.rolled_back, "rolled back"),
        (rate.undone, "undone"),
    ] {
        if n > 0 {
            how.push(format!("{n} {what}"));
        }
    }
    let how = if how.is_empty() {
        String::new()
    } else {
        format!(": {}", how.join(", "))
    };
    let basis_points = (share * 10_000.0).round() as u32;
    format!(
        "{} ({} of {} rollouts failed{how})",
        percent(basis_points),
        rate.failed,
        rate.rollouts
    )
}

fn time_to_restore(figures: &Figures) -> String {
    let restore = &figures.time_to_restore;
    let open = match (restore.unrestored, restore.longest_open_ms) {
        (0, _) => String::new(),
        (n, Some(ms)) => format!("; {n} not restored, the oldest for {}", duration(ms)),
        (n, None) => format!("; {n} not restored"),
    };
    match spread(&restore.spread) {
        Some(text) => format!("{text} ({} restored{open})", restore.spread.count),
        None if restore.unrestored > 0 => format!("n/a: none restored yet{open}"),
        None => "n/a: no failed rollouts".to_owned(),
    }
}

/// `median 25m, p90 30m`.
fn spread(spread: &Spread) -> Option<String> {
    Some(format!(
        "median {}, p90 {}",
        duration(spread.median_ms?),
        duration(spread.p90_ms?)
    ))
}

/// To the second: `1h2m3s`.
fn duration(ms: u64) -> String {
    human_duration(Duration::from_secs((ms + 500) / 1000))
}
