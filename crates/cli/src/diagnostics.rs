//! Renders config diagnostics for people: the message, then the line it points at with a caret.

use std::fmt::Write;

use bellwether_config::{Diagnostic, Severity};

/// `error: file:line:col: message`, followed by the source line and a caret under the column.
pub(crate) fn render(diagnostic: &Diagnostic, source: &str) -> String {
    let label = match diagnostic.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut out = format!("{label}: {}:", diagnostic.file);
    if diagnostic.line > 0 {
        let _ = write!(out, "{}:{}:", diagnostic.line, diagnostic.column);
    }
    let _ = writeln!(out, " {}", diagnostic.message);
    let line_no = diagnostic.line as usize;
    if let Some(line) = line_no.checked_sub(1).and_then(|i| source.lines().nth(i)) {
        let gutter = line_no.to_string().len();
        let caret_at = line
            .chars()
            .take(diagnostic.column.saturating_sub(1) as usize)
            .count();
        let _ = writeln!(out, "{:gutter$} |", "");
        let _ = writeln!(out, "{line_no} | {line}");
        let _ = writeln!(out, "{:gutter$} | {:caret_at$}^", "", "");
    }
    out
}

/// [`render`] for a diagnostic of `name` (whose text is `source`) or of a file it names (a
/// workflow file), whose line is read from that file.
pub(crate) fn render_in(diagnostic: &Diagnostic, name: &str, source: &str) -> String {
    if diagnostic.file == name {
        return render(diagnostic, source);
    }
    render(
        diagnostic,
        &std::fs::read_to_string(&diagnostic.file).unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_at_the_column() {
        let source = "services:\n  api:\n    replica: 3\n";
        let d = bellwether_config::load("bellwether.yaml", source)
            .unwrap_err()
            .into_vec()
            .remove(0);
        insta::assert_snapshot!(render(&d, source), @"
        error: bellwether.yaml:3:5: unknown key `replica`; did you mean `replicas`? (expected one of replicas, run, health, readiness, liveness, strategy, analysis, postRollbackAnalysis, progressDeadline, revisionHistoryLimit, environments, dependsOn, listen, previewListen, trafficRouting)
          |
        3 |     replica: 3
          |     ^
        ");
    }
}
