//! `bellwether validate`: checks project files and reports every problem with its position.

use std::path::PathBuf;

use bellwether_config::{Diagnostic, Severity};
use bellwether_core::spec::{Project, Strategy};
use clap::Args;
use serde::Serialize;

use crate::diagnostics::render_in;
use crate::exit::{self, Code};
use crate::output::{Format, print_data};

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Files to check [default: bellwether.yaml].
    #[arg(value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
    /// A file to check (may be repeated; same as a positional FILE).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub(crate) file_flags: Vec<PathBuf>,
    /// Treat warnings as errors.
    #[arg(long)]
    pub(crate) strict: bool,
}

/// What `-o json|yaml` prints for one file.
#[derive(Serialize)]
struct Report {
    file: String,
    valid: bool,
    diagnostics: Vec<Finding>,
    services: Vec<ServiceSummary>,
    environments: Vec<String>,
    pipelines: Vec<String>,
}

/// One file prints as an object, several as a list.
#[derive(Serialize)]
#[serde(untagged)]
enum Reports<'a> {
    One(&'a Report),
    Many(&'a [Report]),
}

#[derive(Serialize)]
struct Finding {
    severity: &'static str,
    line: u32,
    column: u32,
    message: String,
}

#[derive(Serialize)]
struct ServiceSummary {
    name: String,
    replicas: u32,
    strategy: &'static str,
    steps: usize,
    metrics: Vec<String>,
}

pub(crate) fn run(args: &ValidateArgs, format: Format) -> anyhow::Result<Code> {
    let mut files: Vec<PathBuf> = args.files.iter().chain(&args.file_flags).cloned().collect();
    if files.is_empty() {
        files.push(PathBuf::from("bellwether.yaml"));
    }
    let mut reports = Vec::new();
    let mut table = String::new();
    for path in &files {
        let source = super::read(path)?;
        let name = path.display().to_string();
        let (project, pipelines, diagnostics) =
            match bellwether_config::load_with(&name, &source, &crate::commands::read_beside) {
                Ok(loaded) => (
                    Some(loaded.project),
                    loaded.pipelines.into_iter().map(|p| p.name).collect(),
                    loaded.warnings.into_vec(),
                ),
                Err(diagnostics) => (None, Vec::new(), diagnostics.into_vec()),
            };
        let blocking = |d: &Diagnostic| d.is_error() || args.strict;
        let valid = project.is_some() && !diagnostics.iter().any(blocking);
        for d in &diagnostics {
            table.push_str(&render_in(d, &name, &source));
            table.push('\n');
        }
        table.push_str(&summary_line(
            &name,
            project.as_ref(),
            &pipelines,
            &diagnostics,
            valid,
        ));
        table.push('\n');
        reports.push(report(
            name,
            valid,
            project.as_ref(),
            pipelines,
            diagnostics,
        ));
    }
    let valid = reports.iter().all(|r| r.valid);
    let data = match reports.as_slice() {
        [one] => Reports::One(one),
        many => Reports::Many(many),
    };
    if !print_data(format, &data)? {
        print!("{table}");
    }
    Ok(if valid { exit::SUCCESS } else { exit::FAILURE })
}

fn summary_line(
    name: &str,
    project: Option<&Project>,
    pipelines: &[String],
    diagnostics: &[Diagnostic],
    valid: bool,
) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let Some(project) = project.filter(|_| valid) else {
        return format!(
            "{name}: invalid: {}",
            counted(errors.max(1), "error") + &and_warnings(warnings)
        );
    };
    let services: Vec<String> = project
        .services
        .values()
        .map(|s| match &s.strategy {
            Strategy::Canary(c) => format!("{} (canary, {} steps)", s.name, c.steps.len()),
            other => format!("{} ({})", s.name, other.kind()),
        })
        .collect();
    format!(
        "{name}: valid: {}{}{}",
        counted(project.services.len(), "service"),
        if services.is_empty() {
            String::new()
        } else {
            format!(": {}", services.join(", "))
        },
        format!("; {}", counted(project.environments.len(), "environment"))
            + &named_pipelines(pipelines)
            + &and_warnings(warnings),
    )
}

fn named_pipelines(pipelines: &[String]) -> String {
    if pipelines.is_empty() {
        return String::new();
    }
    format!(
        "; {}: {}",
        counted(pipelines.len(), "pipeline"),
        pipelines.join(", ")
    )
}

fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn and_warnings(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(", {}", counted(n, "warning"))
    }
}

fn report(
    file: String,
    valid: bool,
    project: Option<&Project>,
    pipelines: Vec<String>,
    diagnostics: Vec<Diagnostic>,
) -> Report {
    let diagnostics = diagnostics
        .into_iter()
        .map(|d| Finding {
            severity: match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            },
            line: d.line,
            column: d.column,
            message: d.message,
        })
        .collect();
    let services = project
        .map(|p| {
            p.services
                .values()
                .map(|s| ServiceSummary {
                    name: s.name.clone(),
                    replicas: s.replicas,
                    strategy: s.strategy.kind(),
                    steps: match &s.strategy {
                        Strategy::Canary(c) => c.steps.len(),
                        _ => 0,
                    },
                    metrics: s.metrics.iter().map(|m| m.name.clone()).collect(),
                })
                .collect()
        })
        .unwrap_or_default();
    let environments = project
        .map(|p| p.environments.keys().cloned().collect())
        .unwrap_or_default();
    Report {
        file,
        valid,
        diagnostics,
        services,
        environments,
        pipelines,
    }
}
