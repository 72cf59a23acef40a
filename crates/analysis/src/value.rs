//! What a provider observed: a value (or no data), and for traffic metrics the sample behind it.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use bellwether_core::spec::Unit;
use bellwether_core::time::{Timestamp, human_duration};
use serde::{Deserialize, Serialize};

use crate::sequential::{Latencies, Tally};

/// A measured value. Prometheus and builtin metrics give numbers (an instant vector of several
/// series a list of them); web checks any JSON value but `null`; a job gives its exit status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Number(f64),
    Bool(bool),
    Text(String),
    List(Vec<Value>),
    /// A JSON object, its `null` members left out.
    Map(BTreeMap<String, Value>),
}

impl Value {
    /// The value as a number: a number, or text that reads as one (JSON APIs often quote them).
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            Value::Text(t) => t.trim().parse().ok(),
            Value::Bool(_) | Value::List(_) | Value::Map(_) => None,
        }
    }

    /// Renders the value for people, numbers in the metric's unit.
    pub fn display(&self, unit: Unit) -> String {
        match self {
            Value::Number(n) if n.is_finite() => unit.format(*n),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Text(t) => format!("{t:?}"),
            Value::List(items) => {
                let items: Vec<String> = items.iter().map(|v| v.display(unit)).collect();
                format!("[{}]", items.join(", "))
            }
            Value::Map(members) => {
                let members: Vec<String> = members
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", v.display(unit)))
                    .collect();
                format!("{{{}}}", members.join(", "))
            }
        }
    }
}

/// The requests a traffic measurement is computed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    pub requests: u64,
    /// The span the requests were counted over.
    pub window: Duration,
}

/// One provider's answer for one revision.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// `None` is "no data": an empty Prometheus vector, a NaN, a revision with no requests.
    pub value: Option<Value>,
    /// For traffic metrics: how many requests over which window.
    pub sample: Option<Sample>,
    /// The span the value covers when known without a sample (CPU and memory).
    pub window: Option<Duration>,
    /// What people need to know beyond the value: why there is no data, a job's last output line.
    pub detail: Option<String>,
    /// For metrics judged on all the evidence: the provider's running counts (hits of the
    /// metric among requests) as read now; the run subtracts its first reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tally: Option<Tally>,
    /// For latency quantiles judged on all the evidence against the baseline: the provider's
    /// latency histogram as read now; the run subtracts its first reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latencies: Option<Latencies>,
}

impl Observation {
    pub fn value(value: Value) -> Self {
        Self {
            value: Some(value),
            ..Self::default()
        }
    }

    pub fn number(n: f64) -> Self {
        Self::value(Value::Number(n))
    }

    /// No data, and why.
    pub fn no_data(why: impl Into<String>) -> Self {
        Self {
            detail: Some(why.into()),
            ..Self::default()
        }
    }

    pub fn with_sample(mut self, requests: u64, window: Duration) -> Self {
        self.sample = Some(Sample { requests, window });
        self
    }

    pub fn with_window(mut self, window: Duration) -> Self {
        self.window = Some(window);
        self
    }

    pub fn with_tally(mut self, tally: Tally) -> Self {
        self.tally = Some(tally);
        self
    }

    pub fn with_latencies(mut self, latencies: Latencies) -> Self {
        self.latencies = Some(latencies);
        self
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The span the observation covers, from its sample or its own window.
    pub fn span(&self) -> Option<Duration> {
        self.sample.map(|s| s.window).or(self.window)
    }
}

/// Which revision an observation is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Canary,
    Baseline,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Canary => "canary",
            Role::Baseline => "baseline",
        })
    }
}

/// An instant as a time of day, UTC: `12:03:04`.
pub(crate) fn time_of_day(at: Timestamp) -> String {
    let secs = at.as_millis() / 1000 % 86_400;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// `2413` as `2,413`: request counts are read by people.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `over last 30s`, the phrase every traffic message uses.
pub(crate) fn over_last(window: Duration) -> String {
    format!("over last {}", human_duration(window))
}

/// `2,413 requests` or `1 request`.
pub(crate) fn requests(n: u64) -> String {
    if n == 1 {
        "1 request".to_owned()
    } else {
        format!("{} requests", thousands(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_counts_read_with_separators() {
        let cases = [
            (0, "0"),
            (7, "7"),
            (999, "999"),
            (1_000, "1,000"),
            (2_413, "2,413"),
            (1_234_567, "1,234,567"),
        ];
        for (n, want) in cases {
            assert_eq!(thousands(n), want);
        }
        assert_eq!(requests(1), "1 request");
    }

    #[test]
    fn values_read_in_their_unit() {
        assert_eq!(Value::Number(0.048).display(Unit::Ratio), "4.8%");
        assert_eq!(Value::Text("0.5".into()).as_number(), Some(0.5));
        assert_eq!(Value::Bool(true).as_number(), None);
        let list = Value::List(vec![Value::Number(0.25), Value::Number(1.5)]);
        assert_eq!(list.display(Unit::Seconds), "[250ms, 1.5s]");
    }
}
