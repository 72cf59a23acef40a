//! What a check and a suite found, with every value measured: one line per check for people
//! (`Display`), the same as JSON for machines (`Serialize`, the `-o json` of `bellwether check`
//! and `bellwether verify`).

use std::fmt;

use serde::Serialize;

/// One check's outcome: its last attempt's measurements and failures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckReport {
    pub name: String,
    /// What was reached: `GET http://127.0.0.1:8080/healthz`, `tcp 127.0.0.1:5432`.
    pub target: String,
    pub passed: bool,
    /// Attempts made, retries included.
    pub attempts: u32,
    pub measured: Measured,
    /// Why the last attempt failed; empty when it passed.
    pub failures: Vec<String>,
}

/// The values an attempt measured; what does not apply to a check is absent.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Measured {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// From the start of the attempt to the end of the answer (or of the connection and
    /// handshake, for TCP), in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_bytes: Option<usize>,
    /// Days until the server's certificate expires; negative once it has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_days_left: Option<f64>,
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = if self.passed { "✓" } else { "✗" };
        // A check written as its target (on the command line) is not named twice.
        let written = self.target.split_once(' ').map(|(_, t)| t);
        if written == Some(self.name.as_str()) {
            write!(f, "{mark} {}", self.target)?;
        } else {
            write!(f, "{mark} {} {}", self.name, self.target)?;
        }
        let m = &self.measured;
        let mut values = Vec::new();
        if let Some(status) = m.status {
            values.push(status.to_string());
        }
        if let Some(ms) = m.time_ms {
            values.push(format!("{ms:.0} ms"));
        }
        if let Some(bytes) = m.body_bytes {
            values.push(format!("{bytes} B"));
        }
        if let Some(days) = m.certificate_days_left {
            values.push(format!("certificate {days:.0} days left"));
        }
        if !values.is_empty() {
            write!(f, " → {}", values.join(", "))?;
        }
        if self.attempts > 1 {
            write!(f, " (attempt {})", self.attempts)?;
        }
        if !self.failures.is_empty() {
            write!(f, ": {}", self.failures.join("; "))?;
        }
        Ok(())
    }
}

/// A whole suite's outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SuiteReport {
    pub name: String,
    pub passed: bool,
    pub rounds: u32,
    pub attempts_passed: u64,
    pub attempts_failed: u64,
    pub attempts_planned: u64,
    /// The share of attempts that passed.
    pub success_rate: f64,
    pub min_success_rate: f64,
    /// Why it failed, in a sentence; absent when it passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How long it took, in milliseconds.
    pub elapsed_ms: f64,
    /// Each check's last outcome.
    pub checks: Vec<CheckReport>,
}

impl fmt::Display for SuiteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed { "passed" } else { "failed" };
        write!(
            f,
            "verify {} {verdict}: {} of {} attempts passed ({:.1}%, at least {:.1}% needed) in {} round{}, {:.1} s",
            self.name,
            self.attempts_passed,
            self.attempts_passed + self.attempts_failed,
            self.success_rate * 100.0,
            self.min_success_rate * 100.0,
            self.rounds,
            if self.rounds == 1 { "" } else { "s" },
            self.elapsed_ms / 1000.0,
        )?;
        if let Some(reason) = &self.reason {
            write!(f, ": {reason}")?;
        }
        Ok(())
    }
}
